# openim-deploy: build, test, and the real-systemd lab.
# `make demo` and `make test` are the two commands the README promises work
# on a fresh Debian 12 machine as root.

GO        ?= go
BIN       := _output/bin
LAB_HOSTS ?= 6
export LAB_HOSTS

.PHONY: all build standin test test-unit lab lab-down lab-status demo golden lint bench clean

all: build

build:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/openim-deploy ./cmd/openim-deploy

# The stand-in for OpenIM's binaries, built once and copied under every name.
standin:
	CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/openim-standin ./cmd/openim-standin

# Static checks, the race-enabled unit tests, then the lab tests on real
# systemd (as root; the lab is booted here and left up for reuse). -p 1:
# packages that use the lab must not run at the same time.
test: lint
	$(GO) build ./...
	@if [ "$$(id -u)" = 0 ]; then \
		$(MAKE) lab && OPENIM_LAB_REQUIRED=1 OPENIM_REQUIRE_SHELLCHECK=1 $(GO) test -race -p 1 -timeout 40m ./... ; \
	else \
		echo "not root: lab tests are skipped (they need systemd-nspawn)"; \
		$(GO) test -race ./... ; \
	fi

test-unit: lint
	$(GO) test -race ./...

lint:
	@out=$$(gofmt -l cmd internal); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...

golden:
	$(GO) test ./internal/config/ ./internal/unit/ ./internal/cli/ -update

lab:
	bash lab/lab.sh up

lab-down:
	bash lab/lab.sh down

lab-status:
	bash lab/lab.sh status

demo: build standin
	bash scripts/demo.sh

# The table (openim-deploy beside bench/floor.sh, direct and shaped link),
# then the Go benchmarks, the 50-500-host plan among them. Set
# OPENIM_BENCH_LOCK=/tmp/openim-lab.lock on a shared lab: the driver takes
# it around each scenario.
bench: build standin lab
	OPENIM_LAB_REQUIRED=1 OPENIM_BENCH=1 OPENIM_BENCH_SHAPE=1 $(GO) test -count=1 -timeout 60m -v -run '^TestBenchTable$$' ./internal/e2e/
	OPENIM_LAB_REQUIRED=1 $(GO) test -run '^$$' -bench . -benchtime 5x ./internal/e2e/ ./internal/plan/ ./internal/phase/

clean:
	rm -rf _output
