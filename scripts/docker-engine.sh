#!/usr/bin/env bash
# docker-engine.sh: a Docker engine and the Compose v5 plugin, on a machine without
# systemd (CI, our development machines). Idempotent: each step runs only when missing.
#   1. dockerd from Debian's docker.io package;
#   2. dockerd started in the background (--iptables=false, overlay2) unless `docker info`
#      already answers; its log goes to $DOCKER_ENGINE_LOG;
#   3. the Compose v5 plugin built from the Go module proxy (no release download needed)
#      into ~/.docker/cli-plugins/docker-compose unless `docker compose version` answers.
# On a host whose Docker is already running (Docker Desktop, a systemd dockerd), it only
# checks and prints the versions.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
compose_version="${COMPOSE_VERSION:-v5.6.0}"
log="${DOCKER_ENGINE_LOG:-/tmp/mcp-oauth-gateway-dockerd.log}"
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi

if ! docker info >/dev/null 2>&1; then
    "$here/ensure-apt.sh" dockerd docker.io
    # docker.io's client would shadow nothing: an existing newer client in /usr/local/bin
    # stays first on PATH and negotiates the engine's API version down.
    "$here/ensure-apt.sh" mkfs.ext4 e2fsprogs >/dev/null 2>&1 || true
    echo "docker-engine: starting dockerd in the background (log: $log)" >&2
    # setsid: the engine outlives the recipe that started it (and its process group).
    $sudo setsid dockerd --iptables=false --storage-driver=overlay2 >"$log" 2>&1 < /dev/null &
    for _ in $(seq 1 120); do
        if docker info >/dev/null 2>&1; then break; fi
        sleep 0.5
    done
    docker info >/dev/null 2>&1 || { echo "docker-engine: dockerd did not answer within 60s; its log:" >&2; tail -n 30 "$log" >&2; exit 1; }
fi

if ! docker compose version >/dev/null 2>&1; then
    echo "docker-engine: building the Compose plugin $compose_version from the Go module proxy (≈ 2 min)" >&2
    dir="$(go mod download -json "github.com/docker/compose/v5@$compose_version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
    [ -d "$dir" ] || { echo "docker-engine: could not download github.com/docker/compose/v5@$compose_version" >&2; exit 1; }
    work="$(mktemp -d)"
    trap 'chmod -R u+w "$work"; rm -rf "$work"' EXIT
    # The module cache is read-only; the build wants go.sum entries it may add.
    cp -r "$dir/." "$work/"
    chmod -R u+w "$work"
    mkdir -p "$HOME/.docker/cli-plugins"
    (cd "$work" && GOFLAGS=-mod=mod CGO_ENABLED=0 go build -trimpath \
        -ldflags "-s -w -X github.com/docker/compose/v5/internal.Version=$compose_version" \
        -o "$HOME/.docker/cli-plugins/docker-compose" ./cmd)
fi
echo "docker-engine: engine $(docker version -f '{{.Server.Version}}'), $(docker compose version --short 2>/dev/null | sed 's/^/compose /')" >&2
