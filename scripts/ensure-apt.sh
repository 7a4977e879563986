#!/usr/bin/env bash
# ensure-apt.sh COMMAND PACKAGE... installs Debian PACKAGEs when COMMAND is missing.
set -euo pipefail
cmd="$1"; shift
if command -v "$cmd" >/dev/null 2>&1; then exit 0; fi
echo "installing $* from Debian's packages (needed for $cmd)..." >&2
sudo=""
if [ "$(id -u)" != 0 ]; then sudo="sudo"; fi
# The package lists may be stale or absent on a fresh machine: update them once first.
$sudo apt-get update -qq >&2
DEBIAN_FRONTEND=noninteractive $sudo apt-get install -y -qq --no-install-recommends "$@" >&2
command -v "$cmd" >/dev/null 2>&1 || { echo "ensure-apt: $cmd still missing after installing $*" >&2; exit 1; }
