#!/usr/bin/env bash
# Part of step 1 of `make bench` (bench/run.sh), also runnable alone after `cargo build --release`:
# the file → lake ingest on shows of other shapes than step 1's (issue 15: the rate depends on the
# data), each ≈ 2 M events as NDJSON: DuckDB (bench/duckdb_ingest.py) and `livelake run` with 2
# and 1 thread(s) on the same file, events/s, CPU seconds (user + sys) and peak RSS.
#   two_streams     2 shows × 15,000 viewers (the shape issue 15 was measured on)
#   forty_streams   40 shows × 750 viewers: several streams
#   400_streams     400 shows × 75 viewers, no fake-viewer spike (400 bots a show would be most of
#                   the sessions): a platform's hundreds of concurrent shows
#   rfc3339_ts      4 shows × 7,500 viewers, every `ts` an RFC 3339 string (step 1: one in ten)
#   short_sessions  4 shows × 45,000 viewers staying 1 minute on average (step 1: 14): many
#                   short sessions, each with its start, first frame and end
# Figures into $OUT.shape_<name>_{sim,duckdb,t2,t1}.txt.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
SHAPES=(
  "two_streams --shows 2 --viewers 15000"
  "forty_streams --shows 40 --viewers 750"
  "400_streams --shows 400 --viewers 75 --spike 0"
  "rfc3339_ts --shows 4 --viewers 7500 --ts-rfc3339-share 1"
  "short_sessions --shows 4 --viewers 45000 --mean-stay-minutes 1"
)
rm -f "$OUT".shape_*.txt
for shape in "${SHAPES[@]}"; do
  read -r name args <<< "$shape"
  file="$OUT.shape_$name.ndjson"
  # shellcheck disable=SC2086 # the shape's simulator options, split on purpose
  "$BIN" simulate --seed 11 --minutes 90 $args --out "$file" --truth "$file.truth.json" 2>&1 | tail -n 1 \
    | tee "$OUT.shape_${name}_sim.txt"
  "$PY" -c 'import json, sys; t = json.load(open(sys.argv[1]))["totals"]; print("sessions", t["sessions"])' \
    "$file.truth.json" >> "$OUT.shape_${name}_sim.txt"
  "$PY" bench/duckdb_ingest.py "$file" "$OUT.shape_duck" "$(nproc)" | tee "$OUT.shape_${name}_duckdb.txt"
  rm -rf "$OUT.shape_duck"
  for threads in 2 1; do
    echo "-- $name, $threads thread(s)"
    rm -rf "$OUT.shape_lake"
    ingest "shape_${name}_t$threads" "$threads" --source "file:$file" --lake "$OUT.shape_lake"
  done
  rm -rf "$OUT.shape_lake" "$file" "$file.truth.json"
done
