# syntax=docker/dockerfile:1
# mcpbridge wrapping one official PyPI MCP server, installed with uv into a virtual
# environment. Build context: the repository root.
#   docker build -f compose/images/bridge-python.Dockerfile \
#     --build-arg MCP_PACKAGE=mcp-server-fetch==2025.4.7 .
# PyPI cannot be reached from the development machines, so this image is checked by
# tests/stack (syntax, COPY sources, binaries) but has only been built where PyPI is.

# Stage 1: a static mcpbridge binary.
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
COPY mcpbridge/ mcpbridge/
COPY internal/ internal/
RUN CGO_ENABLED=0 go build -trimpath -ldflags="-s -w" -o /out/mcpbridge ./mcpbridge

# Stage 2: uv, pinned.
FROM ghcr.io/astral-sh/uv:0.8 AS uv

# Stage 3: Python with the MCP server in /opt/mcp, pinned, installed at build time.
FROM python:3.12-slim-bookworm
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
