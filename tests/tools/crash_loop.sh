#!/usr/bin/env bash
# The by-hand crash check of the exactly-once rule, as a user would run it with livelake's own
# tools: a simulated show on fresh 3-partition topics, one uninterrupted run into a clean lake,
# then REPS times: a new lake, KILLS × (`livelake run`, kill -9 after 2-5 s of a seeded random
# delay), a final run until idle, and every table compared with the clean lake (sorted rows,
# wall-clock columns left out) plus count(*) = count(distinct event_id) in the raw tables.
#
#   tests/tools/crash_loop.sh [--reps N] [--kills N] [--roll-mb N] [--shows N] [--viewers N] [--seed N]
#
# Needs the broker of `infra/kafka.sh up` and a built binary (LIVELAKE, default target/debug/livelake);
# CRASH_LOG sets the runs' RUST_LOG (default warn; the logs stay in the printed work dir).
# Prints one line per repetition (seed, rows, verdict) and exits 1 if any repetition differs.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
LIVELAKE="${LIVELAKE:-$ROOT/target/debug/livelake}"
REPS=10 KILLS=12 ROLL_MB=1 SHOWS=3 VIEWERS=1500 SEED=7
while [[ $# -gt 0 ]]; do
  case "$1" in
    --reps) REPS="$2" ;; --kills) KILLS="$2" ;; --roll-mb) ROLL_MB="$2" ;;
    --shows) SHOWS="$2" ;; --viewers) VIEWERS="$2" ;; --seed) SEED="$2" ;;
    *) echo "crash_loop.sh: unknown argument $1" >&2; exit 2 ;;
  esac
  shift 2
done
BOOTSTRAP="$("$ROOT/infra/kafka.sh" bootstrap)"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/crash-loop.XXXXXX")"
tag="loop-$$-$(date +%s)"
export LIVELAKE__KAFKA__PLAYER_TOPIC="$tag-player" LIVELAKE__KAFKA__COMMERCE_TOPIC="$tag-commerce"
export LIVELAKE__KAFKA__DEADLETTER_TOPIC="$tag-dead" RUST_LOG="${CRASH_LOG:-warn}" NO_COLOR=1
for t in player commerce dead; do "$ROOT/infra/kafka.sh" create-topic "$tag-$t" 3 >/dev/null; done
"$LIVELAKE" simulate --seed "$SEED" --shows "$SHOWS" --viewers "$VIEWERS" --kafka "$BOOTSTRAP" \
  --player-topic "$tag-player" --commerce-topic "$tag-commerce" >/dev/null

run() { "$LIVELAKE" run --brokers "$BOOTSTRAP" --metrics-listen off "$@" >/dev/null; }
# Every table as sorted CSV without its wall-clock columns.
dump() {
  local lake="$1" out="$2"
  mkdir -p "$out"
  "$LIVELAKE" sql --lake "$lake" --format csv "select * exclude (ingested_at) from player_events" | sort >"$out/player_events"
  "$LIVELAKE" sql --lake "$lake" --format csv "select * exclude (ingested_at) from commerce_events" | sort >"$out/commerce_events"
  "$LIVELAKE" sql --lake "$lake" --format csv "select * exclude (received_at, date, hour) from deadletter" | sort >"$out/deadletter"
  "$LIVELAKE" sql --lake "$lake" --format csv "select * from stream_minute" | sort >"$out/stream_minute"
}
distinct() {
  "$LIVELAKE" sql --lake "$1" --format csv \
    "select (select count(*) - count(distinct event_id) from player_events) + (select count(*) - count(distinct event_id) from commerce_events) as repeats" | tail -1
}

run --lake "$WORK/clean" --group-id "$tag-clean" --until-idle 8 2>"$WORK/clean.log"
dump "$WORK/clean" "$WORK/clean.dump"
echo "clean: $(wc -l <"$WORK/clean.dump/player_events") player, $(wc -l <"$WORK/clean.dump/commerce_events") commerce, $(wc -l <"$WORK/clean.dump/stream_minute") stream_minute rows (shows=$SHOWS viewers=$VIEWERS seed=$SEED roll_mb=$ROLL_MB kills=$KILLS)"

export LIVELAKE__SINK__ROLL_MB="$ROLL_MB"
failed=0
for rep in $(seq "$REPS"); do
  kill_seed=$((SEED * 1000 + rep))
  RANDOM=$kill_seed
  lake="$WORK/crash-$rep" group="$tag-crash-$rep"
  for i in $(seq "$KILLS"); do
    # The binary itself, not run(): `$!` must be livelake's pid for kill -9 to reach it.
    "$LIVELAKE" run --brokers "$BOOTSTRAP" --metrics-listen off --lake "$lake" --group-id "$group" \
      2>>"$WORK/crash-$rep.log" & p=$!
    sleep $((RANDOM % 4 + 2)); kill -9 $p; wait $p 2>/dev/null || true
  done
  if ! run --lake "$lake" --group-id "$group" --until-idle 8 2>>"$WORK/crash-$rep.log"; then
    echo "rep $rep (kill seed $kill_seed): final run failed: $(tail -1 "$WORK/crash-$rep.log")"; failed=1; continue
  fi
  dump "$lake" "$WORK/crash-$rep.dump"
  repeats="$(distinct "$lake")"
  if diff -rq "$WORK/clean.dump" "$WORK/crash-$rep.dump" >/dev/null && [[ "$repeats" == 0 ]]; then
    echo "rep $rep (kill seed $kill_seed): equal to the clean lake, $(wc -l <"$WORK/crash-$rep.dump/player_events") player rows, 0 repeated event_ids"
  else
    echo "rep $rep (kill seed $kill_seed): DIFFERS ($repeats repeated event_ids): $(diff -rq "$WORK/clean.dump" "$WORK/crash-$rep.dump" | tr '\n' ' ')"
    failed=1
  fi
done
echo "work dir: $WORK"
exit $failed
