# livelake — `make help` lists the targets. CI runs `make test` through .ci/run.
SHELL := /bin/bash
CARGO ?= cargo
LIVELAKE := target/debug/livelake
OUT ?= out
SEED ?= 42

.PHONY: help demo board-demo test bench build lint fmt clippy kafka-up kafka-down clean

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-12s %s\n", $$1, $$2}'

demo: build ## Earlier shows and a plan, then the show of the day through the pipeline (no broker): its 复盘 report in out/report
	LIVELAKE=$(LIVELAKE) OUT=$(OUT) SEED=$(SEED) infra/demo.sh

board-demo: build ## A simulated live show replayed in real time (SPEED=1; e.g. SPEED=10) with the live board on loopback (URL printed)
	LIVELAKE=$(LIVELAKE) OUT=$(OUT) SEED=$(SEED) infra/board-demo.sh

bench: ## livelake vs DuckDB and the Kafka ceiling: ingest, queries, freshness, memory, build (starts Kafka; see BENCHMARKS.md)
	bench/run.sh

test: ## Start Kafka and s3proxy (infra/), run every test, stop them even when tests fail
	infra/test.sh

build: ## Build the livelake binary
	$(CARGO) build --workspace --bins

lint: fmt clippy ## rustfmt check and clippy -D warnings

fmt: ## rustfmt check
	$(CARGO) fmt --all -- --check

clippy: ## clippy on every target, warnings are errors
	$(CARGO) clippy --workspace --all-targets -- -D warnings

kafka-up: ## Start the local Kafka broker (KRaft, 127.0.0.1:19092)
	infra/kafka.sh up

kafka-down: ## Stop the local Kafka broker
	infra/kafka.sh down

clean: ## Remove build output, the demo lake and the Kafka cache
	$(CARGO) clean; rm -rf $(OUT) lake .cache
