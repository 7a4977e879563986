# syntax=docker/dockerfile:1
# mcpbridge wrapping one official npm MCP server. Build context: the repository root.
#   docker build -f compose/images/bridge-node.Dockerfile \
#     --build-arg MCP_PACKAGE=@modelcontextprotocol/server-memory@2026.8.31 .
# The compose service passes the bridge's arguments: `-- <server command> [args…]`.

# Stage 1: a static mcpbridge binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY mcpbridge/ mcpbridge/
COPY internal/ internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/mcpbridge ./mcpbridge

# Stage 2: Node with the MCP server installed globally at build time, pinned, so the
# container never downloads code at start-up (no `npx -y`).
FROM node:22-bookworm-slim
ARG MCP_PACKAGE
RUN test -n "$MCP_PACKAGE" || { echo "build arg MCP_PACKAGE is required" >&2; exit 1; } \
 && npm install -g --no-audit --no-fund --omit=dev "$MCP_PACKAGE" \
 && npm cache clean --force \
 && mkdir -p /data && chown node:node /data
COPY --from=build /out/mcpbridge /usr/local/bin/mcpbridge
USER node
WORKDIR /data
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/mcpbridge"]
