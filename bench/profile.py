#!/usr/bin/env python3
"""Where `livelake run`'s CPU goes, by phase of the pipeline, from `perf script -F ip,sym` output
of a `perf record --call-graph dwarf` of it (bench/profile.sh makes both).

Each sample counts once, for the first phase (in the order of PHASES) one of its stack's frames
belongs to: the commit's sort-and-gather before its Parquet encoding, the window job before the
engine's apply, and so on. Then, for `--leaf NAME` (repeatable), the callers of the samples whose
innermost frame contains NAME (e.g. memmove, memcmp, malloc): which code pays for them.

usage: profile.py PERF_SCRIPT_OUTPUT [--leaf NAME]..."""
import collections
import sys

# (substring of a frame's symbol, phase), first match wins.
PHASES = [
    ("split_by_partition", "commit: sort and gather by partition"),
    ("FileWriter::write", "commit: Parquet encoding"),
    ("ArrowWriter", "commit: Parquet encoding"),
    ("Lake::commit", "commit: Delta log, statistics, other"),
    ("Runner::commit", "commit: Delta log, statistics, other"),
    ("Engine::checkpoint", "checkpoint (dedup eviction, state)"),
    ("close_windows", "window job"),
    ("WindowJob", "window job"),
    ("seal_staged", "window job: buffering sealed rows"),
    ("Staged<R>::append", "apply: Arrow appends"),
    ("StreamSessions::apply", "apply: session rules"),
    ("StreamSessions::observe", "apply: session rules"),
    ("is_repeat", "apply: dedup"),
    ("drop_in_place<livelake_schemas::event::Event>", "apply: dropping events"),
    ("Engine::apply", "apply: other"),
    ("apply_chunk", "apply: other"),
    ("Decoder::decode", "decode"),
    ("FileSource::poll", "source (file reads)"),
    ("source::kafka", "source (Kafka fetch)"),
    ("rdk:", "source (Kafka fetch)"),
    ("Runner::handle", "loop"),
    ("deltalake", "Delta (other)"),
    ("buoyant", "Delta (other)"),
    ("datafusion", "DataFusion (other)"),
]

# Frames skipped when naming who called a leaf: the C library's and Rust's allocation plumbing.
PLUMBING = ("memmove", "memcpy", "memcmp", "malloc", "free", "realloc", "alloc::", "core::ptr", "RawVec")


def stacks(path):
    """Each sample's frames (symbols), innermost first."""
    for block in open(path, errors="replace").read().split("\n\n"):
        frames = [line.strip().split(" ", 1)[1] for line in block.strip().splitlines() if " " in line.strip()]
        if frames:
            yield frames


def main():
    path, leaves = sys.argv[1], [a for i, a in enumerate(sys.argv) if i > 1 and sys.argv[i - 1] == "--leaf"]
    samples = list(stacks(path))
    total = len(samples)
    phases = collections.Counter()
    for frames in samples:
        phase = next((name for pat, name in PHASES if any(pat in f for f in frames)), "other (unattributed)")
        phases[phase] += 1
    print(f"{total} samples")
    for name, n in phases.most_common():
        print(f"{100 * n / total:5.1f} %  {name}")
    for leaf in leaves:
        callers = collections.Counter()
        own = [f for f in samples if leaf in f[0]]
        for frames in own:
            mine = [f for f in frames[1:] if not any(s in f for s in PLUMBING)]
            callers[" <- ".join(f[:80] for f in mine[:2])] += 1
        print(f"\n{leaf}: {100 * len(own) / total:.1f} % of the samples; their callers")
        for name, n in callers.most_common(12):
            print(f"{100 * n / total:5.2f} %  {name}")


if __name__ == "__main__":
    main()
