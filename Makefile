# C-981 — build, run and test. The two set-up commands in the README are
# `make run` and `make test`; both work on a fresh Debian machine.

SHELL := /bin/bash
MODULES := schemas services/shared services/ingest services/enrich services/correlate services/store services/respond services/console services/c981
BIN := bin/c981
GO ?= go
CH_DIR ?= $(CURDIR)/var/clickhouse-test
CH_PORT ?= 19300
FUZZTIME ?= 30s

.PHONY: faults all build run test test-unit clickhouse-deps clickhouse-test bench bench-e2e fuzz vet fmt clean

all: build

build:
	$(GO) build -o $(BIN) ./services/c981

# Runs the all-in-one pipeline on the bundled demo plant. Installs Debian's
# clickhouse-server first when it is missing and we are root.
run: clickhouse-deps build
	$(BIN) run --demo

clickhouse-deps:
	@if ! command -v clickhouse-server >/dev/null 2>&1 && [ -z "$$CLICKHOUSE_ADDR" ]; then \
	  if [ "$$(id -u)" = 0 ]; then \
	    echo "installing clickhouse-server (Debian package)"; \
	    DEBIAN_FRONTEND=noninteractive apt-get update && DEBIAN_FRONTEND=noninteractive apt-get install -y clickhouse-server clickhouse-client; \
	  else \
	    echo "clickhouse-server is missing: run 'sudo apt-get install -y clickhouse-server clickhouse-client' or set CLICKHOUSE_ADDR" >&2; exit 1; \
	  fi; \
	fi

# Starts a private ClickHouse for the tests unless CLICKHOUSE_ADDR is set,
# then runs every module's tests.
test: clickhouse-deps
	@if [ -z "$$CLICKHOUSE_ADDR" ]; then \
	  addr=$$(.ci/clickhouse-start "$(CH_DIR)" $(CH_PORT)) || exit 1; \
	  export CLICKHOUSE_ADDR=$$addr; \
	  export CLICKHOUSE_TLS_ADDR=127.0.0.1:$$(cat "$(CH_DIR)/tls_port"); \
	  export CLICKHOUSE_TLS_CA=$$(cd "$(CH_DIR)" && pwd)/tls/ca.pem; \
	fi; \
	echo "CLICKHOUSE_ADDR=$$CLICKHOUSE_ADDR"; \
	$(MAKE) --no-print-directory test-unit CLICKHOUSE_ADDR=$$CLICKHOUSE_ADDR

test-unit:
	@set -e; for m in $(MODULES); do \
	  echo "== $$m"; (cd $$m && $(GO) test -count=1 -shuffle=on -timeout 15m ./...); \
	done

vet:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) vet ./...); done

fmt:
	@test -z "$$(gofmt -l services schemas)" || (gofmt -l services schemas; exit 1)

# Benchmarks named in the issues; results go to docs/BENCHMARKS.md.
bench:
	@set -e; for m in $(MODULES); do (cd $$m && $(GO) test -run '^$$' -bench . -benchtime 2s ./...); done

# Fault matrix (issue #9): every stage as its own process on a real NATS and
# ClickHouse, one fault per case under sequence-numbered load, checked for
# loss, duplicates, incidents equal to a fault-free run and steps executed
# twice (services/c981/faults). Takes about 6-10 minutes.
faults: clickhouse-deps
	@if [ -z "$$CLICKHOUSE_ADDR" ]; then \
	  addr=$$(.ci/clickhouse-start "$(CH_DIR)" $(CH_PORT)) || exit 1; \
	  export CLICKHOUSE_ADDR=$$addr; \
	fi; \
	cd services/c981 && C981_FAULTS=1 CLICKHOUSE_ADDR=$$CLICKHOUSE_ADDR $(GO) test -count=1 -timeout 30m -run TestFaultMatrix -v ./faults/

# End-to-end run (issue #9): c981 run + c981 loadgen over TCP + c981 verify;
# appends rate, CPU, peak RSS, latency, loss and duplicates to
# docs/BENCHMARKS.md. RATE (default 50000), DURATION (default 60s),
# PROFILE (plant = routine traffic with a SUSPICIOUS share, default 0.001;
# stress = every record an OT operation) and PPROF=1 (CPU and heap profiles
# with stage shares, in var/artifacts/<run>/) override.
bench-e2e: clickhouse-deps build
	NO_BUILD=1 C981=$(BIN) .ci/bench-e2e

# Runs every fuzz target for FUZZTIME; crashers land in testdata/fuzz as seeds.
fuzz:
	@set -e; for m in $(MODULES); do \
	  (cd $$m && for pkg in $$($(GO) list ./...); do \
	    for f in $$($(GO) test -list '^Fuzz' $$pkg | grep '^Fuzz' || true); do \
	      echo "== $$pkg $$f"; $(GO) test -run '^$$' -fuzz "^$$f$$" -fuzztime $(FUZZTIME) $$pkg; \
	    done; done); \
	done

clean:
	rm -rf bin var
