#!/usr/bin/env bash
# `make demo`: a seller's show of the day with real history to compare it with, on the embedded
# default (NDJSON files, no broker):
#   1. earlier shows on earlier days — five of the same seller, three same-category shows of other
#      sellers — simulated, run into the lake and rolled up day by day;
#   2. the plan (`out/plan.csv`: seller, category, targets of every show) imported, and the report
#      of the seller's previous show written (its actions go to the lake's `show_actions`);
#   3. the show of the day simulated, run (headline figures printed), rolled up, and its 复盘 report
#      written: whether the previous show's actions worked, goals vs actual, and baselines from the
#      earlier shows.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LIVELAKE="${LIVELAKE:-target/debug/livelake}"
OUT="${OUT:-out}"
SEED="${SEED:-42}"
LAKE="${LAKE:-lake}"
DAY="2026-11-27"

mkdir -p "$OUT/history"

# seed  date        seller         viewers  stall burst
HISTORY="
101 2026-11-20 seller-aurora 2400 none
102 2026-11-21 seller-aurora 2600 none
201 2026-11-21 seller-bloom  3200 none
103 2026-11-22 seller-aurora 2500 LATAM
202 2026-11-23 seller-coral  1800 none
104 2026-11-24 seller-aurora 2800 none
203 2026-11-25 seller-bloom  3500 ME
105 2026-11-26 seller-aurora 2700 none
"

echo "demo: simulating 8 earlier shows (5 of seller-aurora, 3 same-category shows of other sellers)"
: > "$OUT/history.ndjson"
while read -r seed date seller viewers burst; do
  [[ -z "$seed" ]] && continue
  "$LIVELAKE" simulate --seed "$seed" --start "${date}T12:00:00Z" --viewers "$viewers" --spike 0 \
    --burst-region "$burst" --out "$OUT/history/show-$seed.ndjson" 2>/dev/null
  cat "$OUT/history/show-$seed.ndjson" >> "$OUT/history.ndjson"
done <<< "$HISTORY"

echo "demo: running the earlier shows into $LAKE (log: $OUT/history-run.log)"
"$LIVELAKE" run --source "file:$OUT/history.ndjson" --lake "$LAKE" --metrics-listen off > "$OUT/history-run.log" 2>&1 \
  || { tail -n 1 "$OUT/history-run.log" >&2; exit 1; }
for date in $(awk 'NF {print $2}' <<< "$HISTORY" | sort -u); do
  "$LIVELAKE" rollup --lake "$LAKE" --date "$date" 2>/dev/null
done

{
  echo "stream_id,seller_id,title,category,planned_start,target_gmv_usd,target_viewers,max_stall_ratio"
  while read -r seed date seller viewers burst; do
    [[ -z "$seed" ]] && continue
    echo "show-$seed-1,$seller,\"Beauty live, $date\",beauty,${date}T12:00:00Z,,,"
  done <<< "$HISTORY"
  echo "show-$SEED-1,seller-aurora,\"Winter glow launch\",beauty,${DAY}T12:00:00Z,12000,2500,0.005"
} > "$OUT/plan.csv"
"$LIVELAKE" shows import "$OUT/plan.csv" --lake "$LAKE"
echo "demo: the report of seller-aurora's previous show (its actions are stored for the next report to check)"
"$LIVELAKE" report --lake "$LAKE" --stream show-105-1 --out "$OUT/history/report" > /dev/null

echo "demo: the show of the day"
"$LIVELAKE" simulate --seed "$SEED" --out "$OUT/show.ndjson" --truth "$OUT/truth.json"
"$LIVELAKE" run --source "file:$OUT/show.ndjson" --lake "$LAKE" --metrics-listen off
"$LIVELAKE" rollup --lake "$LAKE" --date "$DAY"
"$LIVELAKE" report --lake "$LAKE" --stream "show-$SEED-1" --out "$OUT/report"
