#!/usr/bin/env bash
# make bench: livelake measured beside the tools it must beat, in one run on the same data. Not part
# of `make test`. Steps (each prints its figures; all go to bench/results.json):
#   1. ingest — a simulated multi-region show (≥ 5 M events) produced to Kafka; the raw consume
#      ceiling of those topics (a consumer that only reads; the fastest of three drains);
#      `livelake run` Kafka → lake on local disk with 2 and with 1 thread(s) (run.threads), and
#      into a lake on s3proxy (infra/s3.sh);
#      DuckDB (PyPI) doing the same job on the same events as NDJSON; `livelake run` on that NDJSON
#      file with 2 and 1 thread(s); the same on shows of five other shapes (bench/shapes.sh: few
#      and many streams, RFC 3339 timestamps, many short sessions); for each run its CPU seconds
#      (user + sys) and peak RSS; then
#      scale-out: 1 and 2 workers of one consumer group on the same topics into one lake (events/s
#      until the group's lag is zero, CPU seconds, peak RSS per worker, lag over time)
#   2. queries — docs/queries over the bench lake, livelake vs DuckDB, best of 5 each
#   3. freshness — a live show produced at its own pace: event production → stream_minute row
#      queryable, p50/p95; and event production → on the live board (`--board`), p50/p95
#   4. memory — peak RSS of `livelake run` and state bytes per session at ≥ 100 k concurrent
#      sessions; the session-state micro-benchmark; Parquet codecs
#   5. rollup — days of ROLLUP_SHOWS ("2 10 20") 90-minute shows of ROLLUP_VIEWERS (15000) viewers
#      (≈ 1 M events each) written by `livelake run`: `livelake rollup` (wall, CPU, peak RSS) and
#      DuckDB computing daily aggregates over the same committed files; `livelake report` of one
#      rolled-up show, from the rollup's tables and recomputed from raw
#   6. build — cold build time of the workspace (SKIP_BUILD_TIME=1 skips it)
# Sizes: VIEWERS (25000) × SHOWS (4) × MINUTES (90); FRESH_MINUTES (5) × FRESH_VIEWERS (3000);
# MEM_VIEWERS (160000) for the memory step.
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VIEWERS="${VIEWERS:-25000}"; SHOWS="${SHOWS:-4}"; MINUTES="${MINUTES:-90}"; PARTITIONS="${PARTITIONS:-4}"
FRESH_MINUTES="${FRESH_MINUTES:-5}"; FRESH_VIEWERS="${FRESH_VIEWERS:-3000}"; MEM_VIEWERS="${MEM_VIEWERS:-160000}"
ROLLUP_SHOWS="${ROLLUP_SHOWS:-2 10 20}"; ROLLUP_VIEWERS="${ROLLUP_VIEWERS:-15000}"
OUT="${BENCH_OUT:-$ROOT/out/bench}"
mkdir -p "$(dirname "$OUT")"

cargo build --release --bin livelake
cargo build --release -p livelake-pipeline --features bench --example bench
BIN="$ROOT/target/release/livelake"
EX="$ROOT/target/release/examples"
PY="${LIVELAKE_PYTHON:-$ROOT/.cache/venv/bin/python}"
if ! "$PY" -c 'import duckdb, pyarrow, deltalake' >/dev/null 2>&1; then
  python3 -m venv "$ROOT/.cache/venv" && "$ROOT/.cache/venv/bin/pip" install --quiet deltalake==1.6.6 duckdb==2.0.1 pyarrow==26.0.1
  PY="$ROOT/.cache/venv/bin/python"
fi
started_here=0
if ! infra/kafka.sh status >/dev/null 2>&1; then started_here=1; fi
s3_here=0
if ! infra/s3.sh status >/dev/null 2>&1; then s3_here=1; fi
cleanup() {
  if [[ $started_here == 1 ]]; then infra/kafka.sh down || true; fi
  if [[ $s3_here == 1 ]]; then infra/s3.sh down || true; fi
}
trap cleanup EXIT
infra/kafka.sh up
infra/s3.sh up
S3_ENV="$(infra/s3.sh env)"
BOOT="$(infra/kafka.sh bootstrap)"
RUN="bench-$(date +%s)"
for t in player commerce dead fresh-player fresh-commerce fresh-dead; do
  infra/kafka.sh create-topic "$RUN-$t" "$PARTITIONS"
done

echo "== 1. ingest: producing $SHOWS shows × $VIEWERS viewers × $MINUTES min"
SIM=(--seed 7 --viewers "$VIEWERS" --shows "$SHOWS" --minutes "$MINUTES")
"$BIN" simulate "${SIM[@]}" --kafka "$BOOT" --player-topic "$RUN-player" --commerce-topic "$RUN-commerce" \
  --truth "$OUT.truth.json" 2>&1 | tail -n 1
echo "-- ceiling: a consumer that only reads, three drains (the first read of just-written topics also warms the broker up; the fastest counts)"
for _ in 1 2 3; do
  "$BIN" consume-rate --brokers "$BOOT" --topic "$RUN-player" --topic "$RUN-commerce"
done | tee "$OUT.ceiling.txt"
# `ingest` (bench/lib.sh), with the BIN, PY and OUT set above.
source bench/lib.sh
# ingest_kafka NAME THREADS GROUP LAKE: the bench topics → LAKE with its own consumer group.
ingest_kafka() {
  ( export LIVELAKE__KAFKA__PLAYER_TOPIC="$RUN-player" LIVELAKE__KAFKA__COMMERCE_TOPIC="$RUN-commerce" \
      LIVELAKE__KAFKA__DEADLETTER_TOPIC="$RUN-dead"
    ingest "$1" "$2" --source kafka --brokers "$BOOT" --group-id "$3" --until-idle 3 --lake "$4" )
}
for threads in 2 1; do
  echo "-- livelake run: Kafka → lake (raw tables + stream_minute), $threads thread(s), its own consumer group"
  rm -rf "$OUT.lake.t$threads"
  ingest_kafka "run_t$threads" "$threads" "$RUN-t$threads" "$OUT.lake.t$threads"
done
rm -rf "$OUT.lake"; mv "$OUT.lake.t2" "$OUT.lake"; rm -rf "$OUT.lake.t1"
cp "$OUT.run_t2.txt" "$OUT.run.txt"
echo "-- livelake run: Kafka → lake on s3proxy (the same topics, its own consumer group)"
( eval "$S3_ENV"; ingest_kafka run_s3 2 "$RUN-s3" "s3://$LIVELAKE_S3_BUCKET/$RUN" )
echo "-- the same events as NDJSON (same seed: byte for byte the same show)"
"$BIN" simulate "${SIM[@]}" --out "$OUT.ndjson" 2>&1 | tail -n 1
echo "-- DuckDB $("$PY" -c 'import duckdb; print(duckdb.__version__)'): NDJSON → raw tables + stream_minute columns, Hive Parquet"
"$PY" bench/duckdb_ingest.py "$OUT.ndjson" "$OUT.duck" "$(nproc)" | tee "$OUT.duckdb_ingest.txt"
for threads in 2 1; do
  echo "-- livelake run on the same NDJSON file (embedded source), $threads thread(s)"
  rm -rf "$OUT.filelake"
  ingest "filerun_t$threads" "$threads" --source "file:$OUT.ndjson" --lake "$OUT.filelake"
done
cp "$OUT.filerun_t2.txt" "$OUT.filerun.txt"
echo "-- other show shapes (≈ 2 M events each): DuckDB and livelake run (2 and 1 thread(s)) on the same NDJSON"
BIN="$BIN" PY="$PY" OUT="$OUT" bench/shapes.sh
for n in 1 2; do
  echo "-- scale-out: $n worker(s) of one consumer group on the same topics, one lake"
  rm -rf "$OUT.wlake$n"
  "$EX/bench" workers "$BOOT" "$RUN-player" "$RUN-commerce" "$RUN-dead" "$BIN" "$OUT.wlake$n" "$RUN-w$n" "$n" \
    > "$OUT.workers_$n.txt"
  head -n 1 "$OUT.workers_$n.txt"
  rm -rf "$OUT.wlake$n"
done

echo "== 2. queries: docs/queries over the bench lake, livelake vs DuckDB, best of 5 each"
"$EX/bench" query_bench "$OUT.lake" docs/queries > "$OUT.queries.livelake.txt"
"$PY" bench/duckdb_queries.py "$OUT.lake" docs/queries > "$OUT.queries.duckdb.txt"
paste "$OUT.queries.livelake.txt" "$OUT.queries.duckdb.txt" | awk '{printf "%-32s livelake %.4f s  duckdb %.4f s  %.2fx\n", $1, $2, $5, $2/$5}'

echo "== 3. freshness: a live ${FRESH_MINUTES}-minute show, production → stream_minute row queryable, and → live board"
"$EX/bench" freshness "$BOOT" "$RUN-fresh-player" "$RUN-fresh-commerce" "$RUN-fresh-dead" "$BIN" "$(dirname "$OUT")" \
  "$FRESH_MINUTES" "$FRESH_VIEWERS" | tee "$OUT.freshness.txt"

echo "== 4. memory: livelake run at ≥ 100 k concurrent sessions ($MEM_VIEWERS viewers joining a 10-minute show)"
"$BIN" simulate --seed 9 --viewers "$MEM_VIEWERS" --minutes 10 --spike 0 --out "$OUT.mem.ndjson" 2>&1 | tail -n 1
rm -rf "$OUT.memlake"
"$PY" bench/memory.py "$BIN" "$OUT.mem.ndjson" "$OUT.memlake" | tee "$OUT.memory.txt"
echo "-- session state micro-benchmark: 100 k sessions"
"$EX/bench" state_size 100000 | tee "$OUT.state.txt"
echo "-- Parquet codecs: the bench lake's player_events rewritten with each codec"
"$EX/bench" parquet_codecs "$OUT.lake" player_events | tee "$OUT.codecs.txt"

echo "== 5. rollup: days of ${ROLLUP_SHOWS// /, } shows × $ROLLUP_VIEWERS viewers × 90 min; livelake rollup vs DuckDB, same files"
BIN="$BIN" PY="$PY" OUT="$OUT" ROLLUP_SHOWS="$ROLLUP_SHOWS" ROLLUP_VIEWERS="$ROLLUP_VIEWERS" bench/rollup.sh

if [[ "${SKIP_BUILD_TIME:-0}" != 1 ]]; then
  echo "== 6. build: cold build of the workspace and its tests (dev profile, as CI), fresh target dir"
  rm -rf "$OUT.target"
  start=$(date +%s)
  CARGO_TARGET_DIR="$OUT.target" cargo build --workspace --tests --quiet
  echo "cold build seconds $(( $(date +%s) - start ))" | tee "$OUT.build.txt"
  rm -rf "$OUT.target"
fi

echo "== results"
"$PY" bench/results.py "$OUT" bench/results.json
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%F)"
