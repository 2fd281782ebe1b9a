#!/usr/bin/env bash
# make bench: Kafka → lake throughput of `livelake run` beside the raw consume ceiling of the
# same topics, in one run on the same data. Not part of `make test`.
#   VIEWERS (25000) × SHOWS (4) × MINUTES (90) sizes the simulated show (≥ 2 M events by default).
set -euo pipefail
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
cd "$ROOT"
VIEWERS="${VIEWERS:-25000}"; SHOWS="${SHOWS:-4}"; MINUTES="${MINUTES:-90}"; PARTITIONS="${PARTITIONS:-4}"
OUT="${BENCH_OUT:-$ROOT/out/bench}"

cargo build --release --bin livelake
BIN="$ROOT/target/release/livelake"
started_here=0
if ! infra/kafka.sh status >/dev/null 2>&1; then started_here=1; fi
cleanup() { if [[ $started_here == 1 ]]; then infra/kafka.sh down || true; fi; }
trap cleanup EXIT
infra/kafka.sh up
BOOT="$(infra/kafka.sh bootstrap)"
RUN="bench-$(date +%s)"
for t in player commerce dead; do infra/kafka.sh create-topic "$RUN-$t" "$PARTITIONS"; done

echo "== producing: $SHOWS shows × $VIEWERS viewers × $MINUTES min"
"$BIN" simulate --seed 7 --viewers "$VIEWERS" --shows "$SHOWS" --minutes "$MINUTES" --kafka "$BOOT" \
  --player-topic "$RUN-player" --commerce-topic "$RUN-commerce" --truth "$OUT.truth.json" 2>&1 | tail -n 1

echo "== ceiling: a consumer that only reads"
"$BIN" consume-rate --brokers "$BOOT" --topic "$RUN-player" --topic "$RUN-commerce" | tee "$OUT.ceiling.txt"

echo "== livelake run: Kafka → lake (raw tables + stream_minute)"
rm -rf "$OUT.lake"
LIVELAKE__KAFKA__PLAYER_TOPIC="$RUN-player" LIVELAKE__KAFKA__COMMERCE_TOPIC="$RUN-commerce" \
LIVELAKE__KAFKA__DEADLETTER_TOPIC="$RUN-dead" RUST_LOG=warn \
  /usr/bin/time -f "peak RSS %M KiB" "$BIN" run --source kafka --brokers "$BOOT" --group-id "$RUN" \
  --until-idle 3 --metrics-listen off --lake "$OUT.lake" 2>&1 | grep -E "^(read|late|throughput|peak)" | tee "$OUT.run.txt"

ceiling=$(grep -oE '= [0-9]+ msg/s' "$OUT.ceiling.txt" | grep -oE '[0-9]+')
ours=$(grep -oE '= [0-9]+ events/s' "$OUT.run.txt" | grep -oE '[0-9]+')
python3 -c "print(f'== livelake {int($ours):,} events/s vs ceiling {int($ceiling):,} msg/s: {int($ours)/int($ceiling):.2f}x')"
echo "machine: $(nproc) cores, $(free -g | awk '/Mem:/{print $2}') GiB; $(date -u +%F)"

echo "== session state: bytes per active session at 100 k concurrent sessions"
cargo run --release --features bench --example state_size -- 100000 | tee "$OUT.state.txt"

echo "== Parquet codecs: the bench lake's player_events rewritten with each codec"
cargo run --release --features bench --example parquet_codecs -- "$OUT.lake" player_events | tee "$OUT.codecs.txt"

echo "== queries: docs/queries over the bench lake, livelake vs DuckDB, best of 5 each"
PY="${LIVELAKE_PYTHON:-$ROOT/.cache/venv/bin/python}"
if ! "$PY" -c 'import duckdb' >/dev/null 2>&1; then
  python3 -m venv "$ROOT/.cache/venv" && "$ROOT/.cache/venv/bin/pip" install --quiet duckdb==2.0.1 pyarrow==26.0.1
  PY="$ROOT/.cache/venv/bin/python"
fi
cargo run --release --features bench --example query_bench -- "$OUT.lake" docs/queries > "$OUT.queries.livelake.txt"
"$PY" bench/duckdb_queries.py "$OUT.lake" docs/queries > "$OUT.queries.duckdb.txt"
python3 - "$OUT.queries.livelake.txt" "$OUT.queries.duckdb.txt" <<'PY'
import statistics, sys
ours = {l.split()[0]: float(l.split()[1]) for l in open(sys.argv[1])}
duck = {l.split()[0]: float(l.split()[1]) for l in open(sys.argv[2])}
ratios = []
print(f"{'query':<32} {'livelake s':>10} {'duckdb s':>10} {'ratio':>7}")
for q in sorted(ours):
    r = ours[q] / duck[q]
    ratios.append(r)
    print(f"{q:<32} {ours[q]:>10.4f} {duck[q]:>10.4f} {r:>6.2f}x")
print(f"median ratio (livelake / DuckDB, lower is faster): {statistics.median(ratios):.2f}x")
PY
