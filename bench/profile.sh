#!/usr/bin/env bash
# Profile `livelake run` on an NDJSON file (the file source): perf with DWARF call graphs, then
# the CPU by phase of the pipeline and the callers of memmove/memcmp/malloc (bench/profile.py).
# Not part of `make bench`. Needs `perf` and a release build (debug = "line-tables-only").
#   bench/profile.sh FILE.ndjson [THREADS (2)] [SAMPLES_PER_S (149)]
# `perf script --no-inline` keeps the symbolization to seconds (with inlined frames resolved it
# took > 10 min on a 750 MB binary); inlined functions count towards their caller.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/livelake}"
file="$(realpath "$1")"; threads="${2:-2}"; hz="${3:-149}"
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
LIVELAKE__RUN__THREADS="$threads" RUST_LOG=warn perf record -q -F "$hz" --call-graph dwarf,65528 \
  -o "$work/perf.data" "$BIN" run --metrics-listen off --source "file:$file" --lake "$work/lake" \
  | grep -E "^(read|throughput)"
perf script -i "$work/perf.data" --no-inline -F ip,sym 2>/dev/null > "$work/stacks.txt"
python3 "$ROOT/bench/profile.py" "$work/stacks.txt" --leaf memmove --leaf memcmp --leaf malloc
