#!/usr/bin/env bash
# Run every test against a real Kafka broker: start it (infra/kafka.sh up), build the binary and
# all test targets once (the binary is built as part of them), run `cargo test --workspace`, and stop the broker even when tests fail.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

started_here=0
if ! infra/kafka.sh status >/dev/null 2>&1; then started_here=1; fi
cleanup() { if [[ $started_here == 1 ]]; then infra/kafka.sh down || true; fi; }
trap cleanup EXIT

infra/kafka.sh up
export KAFKA_BOOTSTRAP="$(infra/kafka.sh bootstrap)"
cargo test --workspace "$@"
