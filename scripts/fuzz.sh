#!/usr/bin/env bash
# fuzz.sh PACKAGE TARGET DURATION runs one Go fuzz target (from the current module) for
# DURATION and fails on any real finding.
#
# Go 1.26's fuzz coordinator has a race at the end of a -fuzztime window
# (go.dev/issue/75804, fixed in Go 1.27): on a busy machine a worker still running when
# the deadline passes is reported as "--- FAIL: FuzzX … context deadline exceeded",
# with no input found. That one shape, and only with no failing input written, is
# reported as a warning and passes; everything else that fails, fails.
#
# fuzz.sh --classify OUTPUT_FILE EXIT_CODE prints pass|flake|fail for a recorded run
# (tests/scripts exercises it).
set -euo pipefail

classify() { # $1 output file, $2 exit code
  local out="$1" code="$2"
  if [ "$code" = 0 ]; then echo pass; return; fi
  # A real finding writes its input, or panics, or reports a test failure of its own.
  if grep -qE 'Failing input written to|^panic:|fatal error:|_test\.go:[0-9]+:|race detected' "$out"; then
    echo fail; return
  fi
  # The coordinator race: the only failure text is the bare deadline line.
  local failures
  failures="$(grep -vE '^(fuzz: |warning: |--- FAIL: Fuzz[A-Za-z0-9_]* \([0-9.]+s\)$|FAIL$|exit status [0-9]+$|FAIL[[:space:]].*[0-9.]+s$|[[:space:]]*$)' "$out" || true)"
  if [ "$(printf '%s\n' "$failures" | sed 's/^[[:space:]]*//')" = "context deadline exceeded" ]; then
    echo flake; return
  fi
  echo fail
}

if [ "${1:-}" = "--classify" ]; then
  classify "$2" "$3"
  exit 0
fi

[ $# -eq 3 ] || { echo "usage: scripts/fuzz.sh PACKAGE TARGET DURATION" >&2; exit 2; }
pkg="$1" target="$2" duration="$3"
log="$(mktemp)"
trap 'rm -f "$log"' EXIT
code=0
nice go test -count=1 -run '^$' -fuzz "^${target}\$" -fuzztime "$duration" "$pkg" >"$log" 2>&1 || code=$?
case "$(classify "$log" "$code")" in
  pass)  echo "fuzz: $target ($pkg) passed, $duration" ;;
  flake) echo "fuzz: $target ($pkg) ran $duration and found nothing; Go reported only its end-of-run deadline race (go.dev/issue/75804), not a failure" ;;
  *)     cat "$log"
         echo "fuzz: $target ($pkg) FAILED; a failing input, if one was found, is saved under $pkg/testdata/fuzz/$target/" >&2
         exit 1 ;;
esac
