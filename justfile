# mcp-oauth-gateway: the one command surface. `just --list` shows every recipe.
# Each component keeps its recipes in just/<component>.just; this file joins them.
set dotenv-load
set shell := ["bash", "-euo", "pipefail", "-c"]

import 'just/deps.just'
import 'just/authsvc.just'
import 'just/oauth.just'
import 'just/plugin.just'
import 'just/bridge.just'
import 'just/stack.just'
import 'just/run.just'
import 'just/docs.just'

# List the recipes.
default:
    @just --list

# Everything CI runs: lint, then every component's tests (installs what is missing).
test: lint test-core test-authsvc test-browser test-plugin test-bridge test-stack test-helm test-docker test-e2e test-docs
    @echo "just test: all suites passed"

# gofmt, go vet, staticcheck (its unused-code checks included), `go mod tidy -diff` and
# deadcode over both Go modules; the checkers run at pinned versions from the module proxy.
staticcheck := "honnef.co/go/tools/cmd/staticcheck@v0.8.2"
# deadcode: functions no program or test reaches. The root module's exported helpers that
# only the tests module calls are listed in deadcode_used_by_tests (deadcode sees one
# module at a time).
deadcode := "golang.org/x/tools/cmd/deadcode@v0.53.0"
deadcode_used_by_tests := "Stack.MCPURL|Stack.BridgeURL|Server.SetLoginPage|Clone"
lint:
    #!/usr/bin/env bash
    set -euo pipefail
    unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))"
    if [ -n "$unformatted" ]; then echo "gofmt needed on:"; echo "$unformatted"; exit 1; fi
    for mod in . tests; do
        (cd "$mod" && go vet ./... && go run {{staticcheck}} ./...) || { echo "lint: go vet or staticcheck failed in module $mod"; exit 1; }
        (cd "$mod" && go mod tidy -diff) || { echo "lint: go.mod/go.sum of module $mod are not tidy: run go mod tidy there"; exit 1; }
        dead="$(cd "$mod" && go run {{deadcode}} -test ./... | grep -Ev 'unreachable func: ({{deadcode_used_by_tests}})$' || true)"
        if [ -n "$dead" ]; then echo "lint: unreachable code in module $mod (remove it, or list a cross-module use in the justfile):"; echo "$dead"; exit 1; fi
    done
    echo "lint: gofmt, go vet, staticcheck, go mod tidy and deadcode clean"

# Tests of the root module's shared packages (internal/: Redis harness, GitHub stand-in,
# JWT vectors, local stack, client tooling, .env editing) and of the CI scripts (tests/scripts).
test-core: deps-redis
    go test -race -count=1 ./internal/...
    cd tests && go test -count=1 ./scripts/

# Build every binary into ./bin.
build:
    mkdir -p bin
    go build -o bin/ ./authsvc ./mcpbridge ./cmd/...

# Every benchmark, each printing its figures (not timed tests).
bench: bench-authsvc bench-oauth bench-plugin bench-bridge bench-bridge-replicas
