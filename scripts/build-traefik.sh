#!/usr/bin/env bash
# build-traefik.sh builds a pinned Traefik from the Go module proxy into a cache outside
# the repository and prints the binary's path. Traefik cannot be pulled as an image
# here, but its module builds from the proxy alone (v3.7.x needs modules the proxy
# refuses, so we pin v3.6.x). A cold build takes about six minutes on two cores; later
# calls return the cached binary at once.
set -euo pipefail
version="${TRAEFIK_VERSION:-v3.6.12}"
cache="${MCPGW_CACHE:-${XDG_CACHE_HOME:-$HOME/.cache}/mcp-oauth-gateway}"
bin="$cache/traefik-$version/traefik"
if [ -x "$bin" ]; then
  echo "$bin"
  exit 0
fi
echo "building Traefik $version from the Go module proxy into $bin (about 6 minutes the first time)..." >&2
mkdir -p "$cache"
work="$(mktemp -d "$cache/traefik-build.XXXXXX")"
trap 'chmod -R u+w "$work" 2>/dev/null; rm -rf "$work"' EXIT
dir="$(cd "$work" && GOFLAGS=-mod=mod go mod download -json "github.com/traefik/traefik/v3@$version" | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$/\1/p')"
[ -n "$dir" ] || { echo "build-traefik: go mod download gave no module directory" >&2; exit 1; }
cp -r "$dir" "$work/src"
chmod -R u+w "$work/src"
(cd "$work/src" && CGO_ENABLED=0 go build -trimpath -o "$work/traefik" ./cmd/traefik)
mkdir -p "$(dirname "$bin")"
mv "$work/traefik" "$bin"
echo "built $bin" >&2
echo "$bin"
