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
test: lint test-core test-authsvc test-browser test-plugin test-bridge test-stack test-docker test-e2e test-docs
    @echo "just test: all suites passed"

# gofmt, go vet, staticcheck (its unused-code checks included) and `go mod tidy -diff`
# over both Go modules. staticcheck runs at a pinned version from the module proxy.
staticcheck := "honnef.co/go/tools/cmd/staticcheck@v0.8.2"
lint:
    #!/usr/bin/env bash
    set -euo pipefail
    unformatted="$(gofmt -l $(git ls-files '*.go' 2>/dev/null || find . -name '*.go' -not -path './node_modules/*'))"
    if [ -n "$unformatted" ]; then echo "gofmt needed on:"; echo "$unformatted"; exit 1; fi
    for mod in . tests; do
        (cd "$mod" && go vet ./... && go run {{staticcheck}} ./...) || { echo "lint: go vet or staticcheck failed in module $mod"; exit 1; }
        (cd "$mod" && go mod tidy -diff) || { echo "lint: go.mod/go.sum of module $mod are not tidy: run go mod tidy there"; exit 1; }
    done
    echo "lint: gofmt, go vet, staticcheck and go mod tidy clean"

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
bench: bench-authsvc bench-oauth bench-plugin bench-bridge
