# Mayfly. `make build` puts every helper in ./bin; `make demo` runs the main
# job end to end on loopback; `make test` runs the whole suite; `make stress`
# only the agent's load and crash tests.
GO        ?= go
BINS      := $(notdir $(wildcard helpers/*))
VERSION   ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo devel)
LDFLAGS   := -s -w -X github.com/mayflyhq/mayfly/internal/version.Version=$(VERSION)
PEERS_DIR ?= $(CURDIR)/.cache/peers
FUZZTIME  ?= 30s
# Lint tools, built once at pinned versions into TOOLS_DIR.
TOOLS_DIR ?= $(CURDIR)/.cache/tools
STATICCHECK_VERSION ?= v0.8.2 # staticcheck 2026.2.2, which knows Go 1.26
GOVULNCHECK_VERSION ?= v1.9.0
STATICCHECK := $(TOOLS_DIR)/staticcheck-$(strip $(STATICCHECK_VERSION))/staticcheck
GOVULNCHECK := $(TOOLS_DIR)/govulncheck-$(strip $(GOVULNCHECK_VERSION))/govulncheck
export MAYFLY_PEERS_DIR := $(PEERS_DIR)

.PHONY: all build $(addprefix build-,$(BINS)) peers test test-tpmsim test-unit stress race fuzz vet lint cross demo bench gobench clean

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

# The whole suite: vet and lint, unit and integration tests against real
# peers (Dex, oidc-provider, git, swtpm, the kernel keyring), with the race
# detector, the TPM tests again on go-tpm-tools' simulator (cgo, behind the
# tpmsimulator tag so no release binary links it), the stress tests at full
# counts (on their own: they need the two cores to themselves), then a short
# run of every fuzz target.
test: build peers lint
	MAYFLY_REQUIRE_PEERS=1 MAYFLY_BIN_DIR=$(CURDIR)/bin $(GO) test -race -count=1 -timeout 20m -skip '^($(STRESS_TESTS))$$' ./...
	$(MAKE) test-tpmsim
	$(STRESS_RUN)
	$(MAKE) fuzz FUZZTIME=10s

test-tpmsim:
	CGO_ENABLED=1 $(GO) test -tags tpmsimulator -count=1 -run Sim ./attest/... ./backends/tpm/...

test-unit:
	$(GO) test -short ./...

# The agent under load and under SIGKILL against oidc-provider (rotation with
# reuse detection), and a stolen refresh token replayed: 1,000 concurrent
# helper calls across 20 forced rotations, then 200 rotations with the agent
# killed at random moments (e2e/stress_test.go, e2e/torture_test.go). Three
# to five minutes; each test prints its numbers. MAYFLY_STRESS_ROTATIONS (50
# calls each) and MAYFLY_TORTURE_ROTATIONS lower the counts.
STRESS_TESTS := TestStressConcurrentRotations|TestTortureSIGKILL|TestReplayStolenRefreshToken
STRESS_RUN = MAYFLY_REQUIRE_PEERS=1 MAYFLY_BIN_DIR=$(CURDIR)/bin $(GO) test -count=1 -timeout 20m -v -run '^($(STRESS_TESTS))$$' ./e2e
stress: build peers
	$(STRESS_RUN)

vet:
	$(GO) vet ./...
	GOOS=darwin $(GO) vet ./...
	GOOS=windows $(GO) vet ./...

# Quality gates: vet (above), staticcheck over Linux, macOS and Windows at
# once (-matrix: code is "unused" only if no OS uses it), and govulncheck (a
# known vulnerability in a call the code can reach). govulncheck needs
# vuln.go.dev: where it cannot be reached, lint says so and skips it, unless
# MAYFLY_REQUIRE_VULNCHECK=1. internal/archtest (package docs, dependency
# floors) runs with the tests.
lint: vet
	@GOBIN=$(dir $(STATICCHECK)) $(GO) install honnef.co/go/tools/cmd/staticcheck@$(strip $(STATICCHECK_VERSION))
	printf 'linux: GOOS=linux\ndarwin: GOOS=darwin\nwindows: GOOS=windows\n' | $(STATICCHECK) -matrix ./...
	@GOBIN=$(dir $(GOVULNCHECK)) $(GO) install golang.org/x/vuln/cmd/govulncheck@$(strip $(GOVULNCHECK_VERSION))
	@if curl -sf -o /dev/null --max-time 10 https://vuln.go.dev/index/db.json.gz; then \
	  echo "$(GOVULNCHECK) ./..."; $(GOVULNCHECK) ./...; \
	elif [ "$${MAYFLY_REQUIRE_VULNCHECK:-}" = 1 ]; then \
	  echo "lint: vuln.go.dev cannot be reached and MAYFLY_REQUIRE_VULNCHECK=1" >&2; exit 1; \
	else \
	  echo "lint: WARNING: govulncheck SKIPPED: vuln.go.dev cannot be reached (MAYFLY_REQUIRE_VULNCHECK=1 makes this an error)" >&2; \
	fi

# Every Fuzz target, each for FUZZTIME (scripts/fuzz.sh retries the Go 1.26
# -fuzztime deadline race once; a written failing input fails at once).
fuzz:
	FUZZTIME=$(FUZZTIME) GO=$(GO) scripts/fuzz.sh

cross:
	GOOS=darwin $(GO) build ./...
	GOOS=windows $(GO) build ./...

demo: build peers
	$(GO) run ./scripts/demo -bin $(CURDIR)/bin -dex $(PEERS_DIR)/bin/dex

# Benchmarks side by side with the tools users would pick instead
# (bench/README.md), in about 6 minutes: writes bench/results/latest.md and
# latest.json. BENCHFLAGS=-quick for a smoke run.
BENCHFLAGS ?=
bench: build peers
	scripts/install-bench.sh
	$(GO) run ./scripts/bench -bin $(CURDIR)/bin -peers $(PEERS_DIR)/bin -out $(CURDIR)/bench/results $(BENCHFLAGS)
	$(MAKE) gobench

# The in-process Go benchmarks: codecs, the agent round trip, single flight,
# DPoP proofs (software and TPM) and the TPM commands per refresh (swtpm).
gobench:
	$(GO) test -run '^$$' -bench . -benchtime 1s -count 3 ./protocol/... ./agent/... ./attest/... | tee bench/results/go-bench.txt

clean:
	rm -rf bin
