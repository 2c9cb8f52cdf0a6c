# openim-deploy: build, test, and the real-systemd lab.
# `make demo` and `make test` are the two commands the README promises work
# on a fresh Debian 12 machine as root.

GO        ?= go
BIN       := _output/bin
LAB_HOSTS ?= 6
export LAB_HOSTS

.PHONY: all build standin deps test test-unit lab lab-down lab-status demo golden lint check vulncheck fuzz-short flakes bench clean

all: build

# The Go release the shipped binary is built with: the newest patch of the
# go.mod line, fetched from the module proxy when the local Go is older
# (govulncheck judges the standard library at this version). "local" uses
# whatever Go is installed.
RELEASE_TOOLCHAIN ?= go1.26.10

build:
	CGO_ENABLED=0 GOTOOLCHAIN=$(RELEASE_TOOLCHAIN) $(GO) build -trimpath -o $(BIN)/openim-deploy ./cmd/openim-deploy

# The stand-in for OpenIM's binaries, built once and copied under every name.
standin:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/openim-standin ./cmd/openim-standin

# What the tests need beyond Go (shellcheck), installed with apt-get when
# missing and root; first, so a machine that cannot have it fails at once.
deps:
	bash scripts/deps.sh

# Static checks, the race-enabled unit tests, then the lab tests on real
# systemd (as root; the lab is booted here and left up for reuse). -p 1:
# packages that use the lab must not run at the same time, so internal/e2e
# runs last, alone. Its -parallel only caps how many of its parallel tests
# may wait at once: they run together only on disjoint lab hosts (a test
# holds its hosts through parallelOn), so at most a handful run, mostly
# waiting on health gates; see docs/development.md.
E2E_PARALLEL ?= 8
test: deps
	$(MAKE) lint check fuzz-short flakes
	$(GO) build ./...
	@if [ "$$(id -u)" = 0 ]; then \
		$(MAKE) lab && export OPENIM_LAB_REQUIRED=1 OPENIM_REQUIRE_SHELLCHECK=1 && \
		$(GO) test -race -p 1 -timeout 40m $$($(GO) list ./... | grep -v '/internal/e2e$$') && \
		$(GO) test -race -timeout 40m -parallel $(E2E_PARALLEL) ./internal/e2e/ ; \
	else \
		echo "not root: lab tests are skipped (they need systemd-nspawn)"; \
		$(GO) test -race ./... ; \
	fi

test-unit: lint
	$(GO) test -race ./...

# Every fuzz target for a short run, from its committed corpus
# (testdata/fuzz/<Target>). A crash is written there as a new corpus file:
# commit it with the fix.
#
# Each run is bounded by a count of executions (about three seconds' worth
# here), never by a duration: with a duration, Go's fuzzing engine can fail
# a run with "context deadline exceeded" when a starved worker is still busy
# as the time runs out (golang/go#75804), so a loaded machine fails a target
# that found nothing. A count only makes a slow machine slower.
# FUZZTIME=30s (or 100000x) overrides every target's budget.
FUZZTIME ?=
FUZZ_TARGETS := \
	./internal/config:FuzzLoad:1500x \
	./internal/config:FuzzNormalizeAddress:30000x \
	./internal/layout:FuzzRootRefusal:100000x \
	./internal/osinfo:FuzzParseOSRelease:5000x \
	./internal/osinfo:FuzzParseDetect:30000x \
	./internal/systemd:FuzzParseShow:40000x \
	./internal/target:FuzzQuote:1000x \
	./internal/target:FuzzShellScript:200x \
	./internal/target/targettest:FuzzSplitWordsInvertsQuote:50000x \
	./internal/ui:FuzzEscapeLine:20000x \
	./internal/unit:FuzzExecWord:40000x \
	./internal/unit:FuzzEnvAssignment:15000x \
	./internal/unit:FuzzParseHeader:50000x
fuzz-short:
	@set -e; for t in $(FUZZ_TARGETS); do \
		pkg=$${t%%:*}; rest=$${t#*:}; fn=$${rest%%:*}; budget=$${rest#*:}; \
		budget=$${FUZZTIME:-$$budget}; \
		echo "fuzz $$fn ($$pkg, $$budget)"; \
		out=$$(mktemp); \
		if ! $(GO) test -run '^$$' -fuzz "^$$fn\$$" -fuzztime $$budget $$pkg >$$out 2>&1; then \
			cat $$out; rm -f $$out; exit 1; \
		fi; \
		tail -n 1 $$out; rm -f $$out; \
	done

# Unit tests three times over, without -race (scheduling differs), to
# catch tests that depend on goroutine timing. The lab packages are left
# out: the lab tests run once, below.
flakes:
	$(GO) test -count=3 $$($(GO) list ./... | grep -v -e /internal/e2e -e /internal/lab)

lint:
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

# Static checks beyond lint. The repository checks (no disabled host key
# checking in shipped code, x/crypto >= v0.52.0) are the internal/audit
# tests; govulncheck scans the module graph.
check: vulncheck
	$(GO) test -count=1 ./internal/audit/

# govulncheck from the Go module proxy. The vulnerability database is read
# from the golang.org/x/vulndb module (also from the proxy: vuln.go.dev may
# be unreachable from CI). The standard library is judged at
# RELEASE_TOOLCHAIN, the Go release `make build` uses.
GOVULNCHECK_VERSION ?= latest
VULNDB_VERSION      ?= latest
vulncheck:
	GOTOOLCHAIN=local $(GO) install golang.org/x/vuln/cmd/govulncheck@$(GOVULNCHECK_VERSION)
	@db=$$(GOTOOLCHAIN=local $(GO) mod download -json golang.org/x/vulndb@$(VULNDB_VERSION) | sed -n 's/^[[:space:]]*"Dir": "\(.*\)",$$/\1/p'); \
	test -d "$$db/data/osv" || { echo "vulndb: no data/osv in $$db"; exit 1; }; \
	echo "govulncheck ./... (database: golang.org/x/vulndb, toolchain $(RELEASE_TOOLCHAIN))"; \
	GOTOOLCHAIN=$(RELEASE_TOOLCHAIN) "$$($(GO) env GOPATH)/bin/govulncheck" -db "file://$$db/data/osv" ./...

golden:
	$(GO) test ./internal/config/ ./internal/unit/ ./internal/cli/ ./internal/phase/ -update

lab:
	bash lab/lab.sh up

lab-down:
	bash lab/lab.sh down

lab-status:
	bash lab/lab.sh status

demo: build standin
	bash scripts/demo.sh

# The table (openim-deploy beside bench/floor.sh, direct and shaped link),
# then the Go benchmarks, the 50-500-host plan among them and the scale
# table: plan and no-op apply against 50-500 simulated hosts (internal/sim,
# no lab needed). Set
# OPENIM_BENCH_LOCK=/tmp/openim-lab.lock on a shared lab: the driver takes
# it around each scenario.
bench: build standin lab
	OPENIM_LAB_REQUIRED=1 OPENIM_BENCH=1 OPENIM_BENCH_SHAPE=1 $(GO) test -count=1 -timeout 60m -v -run '^TestBench(Table|Artifact)$$' ./internal/e2e/
	OPENIM_LAB_REQUIRED=1 $(GO) test -run '^$$' -bench . -benchtime 5x ./internal/e2e/ ./internal/plan/ ./internal/phase/ ./internal/sim/ ./internal/ui/

clean:
	rm -rf _output
