#!/usr/bin/env bash
# Run every test against a real Kafka broker and a real S3-compatible server: start them
# (infra/kafka.sh up, infra/s3.sh up), install DuckDB and
# pyarrow into .cache/venv (the SQL tests read the lake with them) and Debian's chromium (the
# report test renders the page headless), build the binary and all test
# targets once (the binary is built as part of them), run `cargo test --workspace`, and stop the
# broker and the S3 server even when tests fail.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"

kafka_here=0 s3_here=0
if ! infra/kafka.sh status >/dev/null 2>&1; then kafka_here=1; fi
if ! infra/s3.sh status >/dev/null 2>&1; then s3_here=1; fi
cleanup() {
  if [[ $kafka_here == 1 ]]; then infra/kafka.sh down || true; fi
  if [[ $s3_here == 1 ]]; then infra/s3.sh down || true; fi
}
trap cleanup EXIT

# Engines that are not ours read the lake in the SQL tests: delta-rs for Python (the Delta logs),
# DuckDB and pyarrow, pinned, from PyPI.
VENV="$ROOT/.cache/venv"
if ! "$VENV/bin/python" -c 'import deltalake, duckdb, pyarrow' >/dev/null 2>&1; then
  python3 -m venv "$VENV"
  "$VENV/bin/pip" install --quiet --disable-pip-version-check deltalake==1.6.6 duckdb==2.0.1 pyarrow==26.0.1
fi
export LIVELAKE_PYTHON="$VENV/bin/python"

# The report test opens the HTML page in headless Chromium: Debian's package.
if ! command -v chromium >/dev/null 2>&1; then
  SUDO=""; if [[ $(id -u) != 0 ]]; then SUDO="sudo"; fi
  $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null \
    || { $SUDO apt-get update -q >/dev/null && $SUDO env DEBIAN_FRONTEND=noninteractive apt-get install -y -q chromium >/dev/null; }
fi
export LIVELAKE_CHROMIUM="$(command -v chromium)"

infra/kafka.sh up
export KAFKA_BOOTSTRAP="$(infra/kafka.sh bootstrap)"
infra/s3.sh up
# The tests reach it through the conventional AWS_* variables (and LIVELAKE_S3_BUCKET).
eval "$(infra/s3.sh env)"
cargo test --workspace "$@"
