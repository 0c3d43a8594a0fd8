# owinvoker — the two commands a user needs are `make run` and `make test`.
SHELL := /bin/bash
GO ?= go
DEV := deploy/dev
BIN := bin
# go test's package parallelism: the tests share one Docker engine and one Kafka broker.
TEST_P ?= 2
TEST_TIMEOUT ?= 20m
RUN_ARGS ?=
# Fuzz targets run briefly in every `make test` (pkg:Target).
FUZZ_TARGETS ?= ./invoker/message:FuzzDecodeActivationMessage ./invoker/message:FuzzDecodeAck \
	./invoker/action:FuzzDecodeAction ./sandbox/manifest:FuzzParse ./benchmarks/trace:FuzzParse2019Invocations \
	./controller-plugin/controller:FuzzParseActionPut ./controller-plugin/controller:FuzzParsePayload
FUZZ_TIME ?= 4s

.PHONY: all build test test-unit lint fmt images run bench soak services-up services-down clean

all: build

build:
	$(GO) build ./...
	@mkdir -p $(BIN)
	@for d in cmd/*/; do \
	  [ -f $$d/main.go ] || continue; \
	  n=$$(basename $$d); \
	  CGO_ENABLED=0 $(GO) build -trimpath -o $(BIN)/$$n ./$$d || exit 1; \
	done
	@ls $(BIN)

# All tests, unit and integration, against real services that this target starts (and stops
# again at the end): a Docker engine, Apache Kafka (KRaft) and pouchdb-server.
test:
	@set -euo pipefail; \
	start=$$(date +%s); \
	trap '$(DEV)/services.sh down >/dev/null 2>&1 || true' EXIT; \
	eval "$$($(DEV)/services.sh up)"; \
	$(MAKE) --no-print-directory images; \
	$(GO) test -p $(TEST_P) -timeout $(TEST_TIMEOUT) -count=1 ./...; \
	for ft in $(FUZZ_TARGETS); do \
	  pkg=$${ft%%:*}; target=$${ft##*:}; \
	  [ -d "$$pkg" ] || continue; \
	  $(GO) test -run='^$$' -fuzz="^$$target$$" -fuzztime=$(FUZZ_TIME) "$$pkg"; \
	done; \
	echo "make test: done in $$(( $$(date +%s) - start )) s"

# Pure packages only: no service is started, integration tests skip themselves.
test-unit:
	$(GO) test -short -count=1 ./...

lint:
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt would change:"; echo "$$out"; exit 1; fi
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

fmt:
	gofmt -w $$(git ls-files '*.go')

# Runtime images (nodejs:20, python:3, blackbox) built locally, no registry needed.
images:
	@if [ -x deploy/runtimes/build.sh ]; then $(DEV)/docker.sh start && deploy/runtimes/build.sh; \
	else echo "images: deploy/runtimes/build.sh is not there yet"; fi

# The standalone system on the embedded broker and store; extra flags via RUN_ARGS, e.g.
# make run RUN_ARGS="--harvest --policy harvest".
run: build
	@$(DEV)/docker.sh start
	@$(MAKE) --no-print-directory images
	@exec $(BIN)/owstandalone $(RUN_ARGS)

# The published benchmarks: trace replay (no harvest, harvest, harvest + harvest-aware
# balancer) and the micro-benchmarks; results in benchmarks/results/.
bench: build
	@if [ -x benchmarks/run.sh ]; then $(DEV)/docker.sh start && $(MAKE) --no-print-directory images && benchmarks/run.sh; \
	else echo "bench: benchmarks/run.sh is not there yet"; fi

# The soak runs (benchmarks/soak, RELIABILITY.md): SOAK long each, SOAK_RUN selects them
# (TestSoakSteady: mixed load with memory, goroutines, files and containers sampled;
# TestSoakKillInvoker: SIGKILLs under load in both delivery modes). Samples in
# benchmarks/results/soak/.
SOAK ?= 10m
SOAK_RUN ?= TestSoak
soak:
	@set -euo pipefail; \
	trap '$(DEV)/services.sh down >/dev/null 2>&1 || true' EXIT; \
	eval "$$($(DEV)/services.sh up)"; \
	$(MAKE) --no-print-directory images; \
	OW_SOAK=$(SOAK) OW_SOAK_OUT=$(CURDIR)/benchmarks/results/soak $(GO) test -v -count=1 -timeout 3h -run '$(SOAK_RUN)' ./benchmarks/soak/

services-up:
	@$(DEV)/services.sh up

services-down:
	@$(DEV)/services.sh down

clean:
	rm -rf $(BIN)
