# syntax=docker/dockerfile:1
# Every image of the stack, from one file: one build stage compiles authsvc and
# mcpbridge once, and each image is a target (compose sets `target:`).
#   docker build -f compose/images/gateway.Dockerfile --target authsvc -t mcp-oauth-gateway/authsvc .
#   docker build -f compose/images/gateway.Dockerfile --target bridge-node \
#     --build-arg MCP_PACKAGE=@modelcontextprotocol/server-memory@2026.8.31 .
# Build context: the repository root; the root .dockerignore keeps .env, keys, logs and
# .git out of it.
#
# Base images are arguments whose defaults are the official images. Hosts that cannot
# pull them (our CI) pass local stand-ins: scripts/docker-base-images.sh.
ARG GO_IMAGE=golang:1.26-bookworm
ARG STATIC_IMAGE=gcr.io/distroless/static-debian12:nonroot
ARG NODE_IMAGE=node:22-bookworm-slim
ARG UV_IMAGE=ghcr.io/astral-sh/uv:0.8
ARG PYTHON_IMAGE=python:3.12-slim-bookworm

# Static binaries of authsvc and mcpbridge. With BuildKit the stage is built once
# however many targets are built; the module download is its own layer.
FROM ${GO_IMAGE} AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY internal/ internal/
COPY authsvc/ authsvc/
COPY mcpbridge/ mcpbridge/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/ ./authsvc ./mcpbridge

# authsvc: the binary alone on a static base with CA certificates (for GitHub) and a
# non-root user. Its healthcheck is `authsvc healthcheck` (no shell, no wget needed).
FROM ${STATIC_IMAGE} AS authsvc
COPY --from=build /out/authsvc /usr/local/bin/authsvc
USER 65532:65532
EXPOSE 8000
ENV LISTEN_ADDR=:8000 LOG_FORMAT=json
ENTRYPOINT ["/usr/local/bin/authsvc"]

# mcpbridge wrapping one official npm MCP server, installed globally at build time and
# pinned, so that the container never downloads code at start-up (no `npx -y`).
# The compose service passes the bridge's arguments: `-- <server command> [args…]`.
FROM ${NODE_IMAGE} AS bridge-node
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

# mcpbridge wrapping one official PyPI MCP server, installed with uv (pinned) into a
# virtual environment at build time. PyPI cannot be reached from the development
# machines: this target is checked by tests/stack (syntax, sources, binaries) and built
# only where PyPI is.
FROM ${UV_IMAGE} AS uv
FROM ${PYTHON_IMAGE} AS bridge-python
ARG MCP_PACKAGE
COPY --from=uv /uv /usr/local/bin/uv
ENV UV_NO_CACHE=1 VIRTUAL_ENV=/opt/mcp PATH=/opt/mcp/bin:$PATH
RUN test -n "$MCP_PACKAGE" || { echo "build arg MCP_PACKAGE is required" >&2; exit 1; } \
 && uv venv --python /usr/local/bin/python3 /opt/mcp \
 && uv pip install --python /opt/mcp/bin/python "$MCP_PACKAGE" \
 && useradd --system --home-dir /data --shell /usr/sbin/nologin mcp \
 && mkdir -p /data && chown mcp:mcp /data
COPY --from=build /out/mcpbridge /usr/local/bin/mcpbridge
USER mcp
WORKDIR /data
EXPOSE 3000
ENTRYPOINT ["/usr/local/bin/mcpbridge"]
