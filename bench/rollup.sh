#!/usr/bin/env bash
# Step 5 of `make bench` (bench/run.sh), also runnable alone after `cargo build --release`:
# days of ROLLUP_SHOWS ("2 10 20") 90-minute shows of ROLLUP_VIEWERS (15000) viewers (≈ 1 M events
# per show) written by `livelake run`; `livelake rollup` (wall, CPU, peak RSS) and DuckDB
# (bench/duckdb_rollup.py) over the same committed files; on the first day, `livelake report` of
# one rolled-up show from the rollup's tables and recomputed from raw. Figures into
# $OUT.rollup_<shows>.txt and $OUT.report.txt.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$ROOT"
ROLLUP_SHOWS="${ROLLUP_SHOWS:-2 10 20}"; ROLLUP_VIEWERS="${ROLLUP_VIEWERS:-15000}"
rm -f "$OUT".rollup_*.txt "$OUT.report.txt"
for shows in $ROLLUP_SHOWS; do
  day="$OUT.day$shows"
  rm -rf "$day.lake" "$day.report"
  "$BIN" simulate --seed 5 --viewers "$ROLLUP_VIEWERS" --shows "$shows" --minutes 90 --out "$day.ndjson" 2>&1 | tail -n 1
  RUST_LOG=warn "$BIN" run --metrics-listen off --source "file:$day.ndjson" --lake "$day.lake" | grep -E "^read" || true
  rm -f "$day.ndjson"
  date=$("$BIN" sql --lake "$day.lake" --format csv \
    "SELECT CAST(min(date) AS VARCHAR) FROM player_events" 2>/dev/null | sed -n 2p)
  events=$("$BIN" sql --lake "$day.lake" --format csv \
    "SELECT (SELECT count(*) FROM player_events) + (SELECT count(*) FROM commerce_events)" 2>/dev/null | sed -n 2p)
  { RUST_LOG=warn /usr/bin/time -f "livelake_rollup seconds %e user %U sys %S peak_rss_kib %M events $events" \
      "$BIN" rollup --lake "$day.lake" --date "$date" --no-compact 2>&1 >/dev/null | tail -n 1
    "$PY" bench/duckdb_rollup.py "$day.lake" "$date" "$(nproc)"
  } | tee "$OUT.rollup_$shows.txt"
  if [[ "$shows" == "${ROLLUP_SHOWS%% *}" ]]; then
    stream=$("$BIN" sql --lake "$day.lake" --format csv "SELECT min(stream_id) FROM show_summary" 2>/dev/null | sed -n 2p)
    for how in rollup raw; do
      flag=(); [[ $how == raw ]] && flag=(--from-raw)
      RUST_LOG=warn /usr/bin/time -f "report_$how seconds %e peak_rss_kib %M" \
        "$BIN" report --lake "$day.lake" --stream "$stream" --out "$day.report" "${flag[@]}" 2>&1 >/dev/null \
        | tail -n 1 | tee -a "$OUT.report.txt"
    done
  fi
  rm -rf "$day.lake" "$day.report"
done

