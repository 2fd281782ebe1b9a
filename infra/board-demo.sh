#!/usr/bin/env bash
# `make board-demo`: a simulated live show replayed at real-time speed (SPEED=1, or a multiple)
# through the embedded default (`livelake run --source file:…`, no broker), with the live board
# on loopback; its URL is printed. Ctrl-C stops it.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
LIVELAKE="${LIVELAKE:-target/debug/livelake}"
OUT="${OUT:-out}"
SEED="${SEED:-42}"
SPEED="${SPEED:-1}"
MINUTES="${MINUTES:-30}"
BOARD="${BOARD:-127.0.0.1:9465}"

mkdir -p "$OUT"
echo "board-demo: simulating a ${MINUTES}-minute show (seed $SEED) into $OUT/board-show.ndjson"
"$LIVELAKE" simulate --seed "$SEED" --minutes "$MINUTES" --out "$OUT/board-show.ndjson" 2>/dev/null
# A fresh lake each time: the same file in the same lake would resume where the last demo ended.
rm -rf "$OUT/board-lake"
echo "board-demo: replaying it at ${SPEED}x real time; open the board URL below (Ctrl-C stops)"
exec "$LIVELAKE" run --source "file:$OUT/board-show.ndjson" --lake "$OUT/board-lake" --replay-speed "$SPEED" \
  --board "$BOARD" --metrics-listen off
