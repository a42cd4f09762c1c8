# Mayfly. `make build` puts every helper in ./bin; `make demo` runs the main
# job end to end on loopback; `make test` runs the whole suite.
GO        ?= go
BINS      := $(notdir $(wildcard helpers/*))
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -s -w -X github.com/mayflyhq/mayfly/internal/version.Version=$(VERSION)
PEERS_DIR ?= $(CURDIR)/.cache/peers
FUZZTIME  ?= 30s
export MAYFLY_PEERS_DIR := $(PEERS_DIR)

.PHONY: all build $(addprefix build-,$(BINS)) peers test test-unit race fuzz vet cross demo clean

all: build

build: $(addprefix build-,$(BINS))

# Static binaries (no cgo) on Linux: no dynamic loader on the helpers' hot
# path. macOS needs cgo for the Keychain (Security.framework).
CGO ?= $(if $(filter Darwin,$(shell uname -s)),1,0)
$(addprefix build-,$(BINS)): build-%:
	@mkdir -p bin
	CGO_ENABLED=$(CGO) $(GO) build -trimpath -ldflags '$(LDFLAGS)' -o bin/$* ./helpers/$*

peers:
	scripts/install-peers.sh

# The whole suite: vet, unit and integration tests against real peers (Dex,
# git, the kernel keyring), with the race detector, then a short run of every
# fuzz target.
test: build peers vet
	MAYFLY_REQUIRE_PEERS=1 MAYFLY_BIN_DIR=$(CURDIR)/bin $(GO) test -race -count=1 -timeout 20m ./...
	$(MAKE) fuzz FUZZTIME=10s

test-unit:
	$(GO) test -short ./...

vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...

# Every Fuzz target, each for FUZZTIME.
fuzz:
	@set -e; for pkg in $$($(GO) list ./...); do \
	  for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	    echo "fuzz $$pkg $$f"; \
	    out=$$($(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg 2>&1) || { echo "$$out" | tail -40; exit 1; }; \
	  done; \
	done

cross:
	GOOS=darwin $(GO) build ./...
	GOOS=windows $(GO) build ./...

demo: build peers
	$(GO) run ./scripts/demo -bin $(CURDIR)/bin -dex $(PEERS_DIR)/bin/dex

clean:
	rm -rf bin
