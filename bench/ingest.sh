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
