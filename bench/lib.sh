# Sourced by the bench scripts (bench/run.sh, shapes.sh, rollup.sh), not run: the paths they share
# (BIN, PY, OUT: a caller's values stand, else those of a run from the repository) and `ingest`.
ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
BIN="${BIN:-$ROOT/target/release/livelake}"
PY="${PY:-$ROOT/.cache/venv/bin/python}"
OUT="${OUT:-$ROOT/out/bench}"
mkdir -p "$(dirname "$OUT")"

# `livelake run` with THREADS decode threads; its summary, peak RSS and CPU (user + sys) into
# $OUT.NAME.txt: ingest NAME THREADS [run args…]
ingest() {
  local name="$1" threads="$2"; shift 2
  LIVELAKE__RUN__THREADS="$threads" RUST_LOG=warn \
    /usr/bin/time -f "peak RSS %M KiB, cpu %U user %S sys" "$BIN" run --metrics-listen off "$@" 2>&1 \
    | grep -E "^(read|late|throughput|peak)" | tee "$OUT.$name.txt"
}
