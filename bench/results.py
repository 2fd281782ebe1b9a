#!/usr/bin/env python3
"""Collect the figures of one `make bench` run (the OUT.*.txt files bench/run.sh wrote) into a
machine-readable JSON file, with the ratios the benchmark issue's targets are stated in.

usage: results.py OUT_PREFIX RESULTS.json"""
import json
import os
import platform
import re
import statistics
import sys
from datetime import datetime, timezone
from pathlib import Path

out, dest = sys.argv[1], Path(sys.argv[2])


def text(step):
    p = Path(f"{out}.{step}.txt")
    return p.read_text() if p.exists() else ""


def num(pattern, s, cast=float):
    m = re.search(pattern, s)
    return cast(m.group(1).replace(",", "")) if m else None


def fields(s):
    """`key value key value …` on one line → dict of numbers."""
    words = s.split()
    return {k: float(v) for k, v in zip(words[::2], words[1::2]) if re.fullmatch(r"-?[0-9.]+|nan", v)}


run, ceiling = text("run"), text("ceiling")
ours = num(r"= ([0-9]+) events/s", run)
# The ceiling is drained more than once (the first read of just-written topics also warms the
# broker up): the fastest drain counts.
ceil = max((float(x) for x in re.findall(r"= ([0-9]+) msg/s", ceiling)), default=None)
duck = fields(text("duckdb_ingest").strip().splitlines()[-1]) if text("duckdb_ingest") else {}
file_rate = num(r"= ([0-9]+) events/s", text("filerun"))
s3_rate = num(r"= ([0-9]+) events/s", text("run_s3"))


def ingest_run(step):
    """One `livelake run` of step 1: events/s (busy), CPU seconds, events per CPU-second, peak RSS."""
    t = text(step)
    rate, messages = num(r"= ([0-9]+) events/s", t), num(r"read ([0-9]+) messages", t, int)
    user, sys_ = num(r"cpu ([0-9.]+) user", t), num(r"user ([0-9.]+) sys", t)
    cpu = user + sys_ if user is not None and sys_ is not None else None
    return {"events_per_s": rate, "cpu_s": cpu, "events_per_cpu_s": messages / cpu if messages and cpu else None,
            "peak_rss_kib": num(r"peak RSS ([0-9]+) KiB", t, int)}


def shape(name):
    """One show shape of bench/shapes.sh: its events, sessions, DuckDB and livelake (2 and 1 thread(s))."""
    duck_ = fields(text(f"shape_{name}_duckdb").strip())
    runs = {n: ingest_run(f"shape_{name}_t{n}") for n in ("1", "2")}
    two, one = runs["2"]["events_per_s"], runs["1"]["events_per_s"]
    return {"messages": num(r"read ([0-9]+) messages", text(f"shape_{name}_t2"), int),
            "sessions": num(r"sessions ([0-9]+)", text(f"shape_{name}_sim"), int),
            "duckdb_events_per_s": duck_.get("events_per_s"), "by_threads": runs,
            "ratio_to_duckdb": two / duck_["events_per_s"] if two and duck_.get("events_per_s") else None,
            "speedup_1_to_2_threads": two / one if two and one else None}


threads = {kind: {n: ingest_run(f"{step}_t{n}") for n in ("1", "2")} for kind, step in (("kafka", "run"), ("file", "filerun"))}
f1, f2 = threads["file"]["1"]["events_per_s"], threads["file"]["2"]["events_per_s"]
queries = {}
lv = {l.split()[0]: float(l.split()[1]) for l in text("queries.livelake").splitlines() if l.strip()}
dk = {l.split()[0]: float(l.split()[1]) for l in text("queries.duckdb").splitlines() if l.strip()}
for q in sorted(lv):
    if q in dk:
        queries[q] = {"livelake_s": lv[q], "duckdb_s": dk[q], "ratio": lv[q] / dk[q]}
def line_of(step, head):
    """The line of a step's output that starts with `head `, as fields."""
    for line in text(step).splitlines():
        if line.startswith(head + " "):
            return fields(line[len(head) + 1:])
    return {}


def rollup_day(step):
    """One day size of step 5: livelake rollup and DuckDB on the same files."""
    ours, duck = line_of(step, "livelake_rollup"), line_of(step, "duckdb_rollup")
    events = ours.get("events")
    cpu = ours["user"] + ours["sys"] if "user" in ours and "sys" in ours else None
    return {"events": events, "livelake_s": ours.get("seconds"), "livelake_cpu_s": cpu,
            "livelake_events_per_s": events / ours["seconds"] if events and ours.get("seconds") else None,
            "livelake_peak_rss_kib": ours.get("peak_rss_kib"), "duckdb_s": duck.get("seconds"),
            "duckdb_events_per_s": events / duck["seconds"] if events and duck.get("seconds") else None,
            "ratio_to_duckdb": ours["seconds"] / duck["seconds"] if ours.get("seconds") and duck.get("seconds") else None}


rollups = {p.name.split(".rollup_")[1][:-4]: rollup_day(p.name[len(Path(out).name) + 1:-4])
           for p in sorted(Path(out).parent.glob(Path(out).name + ".rollup_*.txt"),
                           key=lambda p: int(p.name.split(".rollup_")[1][:-4]))}
def workers_run(n):
    """Scale-out with n workers: events/s until the group's lag is zero, CPU, RSS, lag every ~5 s."""
    w = line_of(f"workers_{n}", "scale-out")
    lag = [tuple(float(x) for x in l.split()[1:]) for l in text(f"workers_{n}").splitlines() if l.startswith("lag ")]
    # One figure per worker, comma-separated (num() would drop the commas).
    m = re.search(r"peak_rss_kib ([0-9,]+)", text(f"workers_{n}"))
    rss = m.group(1) if m else None
    return {"events_per_s": w.get("events/s"), "seconds": w.get("seconds"), "cpu_s": w.get("cpu_s"),
            "events_per_cpu_s": w.get("events_per_cpu_s"),
            "peak_rss_kib_per_worker": [int(r) for r in rss.split(",")] if rss else None,
            "lag_over_time": lag[::10]}


scale_out = {n: workers_run(n) for n in ("1", "2")}
shape_names = [p.name.split(".shape_")[1][:-len("_sim.txt")]
               for p in sorted(Path(out).parent.glob(Path(out).name + ".shape_*_sim.txt"))]
shapes = {name: shape(name) for name in shape_names}
fresh = line_of("freshness", "freshness")
board = line_of("freshness", "board")
mem = fields(text("memory").strip()) if text("memory") else {}
state = text("state")
results = {
    "date": datetime.now(timezone.utc).strftime("%Y-%m-%d"),
    "machine": {"cores": os.cpu_count(), "system": platform.platform(),
                "memory_gib": round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)},
    "command": ("SKIP_BUILD_TIME=1 " if os.environ.get("SKIP_BUILD_TIME") == "1" else "") + "make bench",
    "ingest": {
        "messages": num(r"read ([0-9]+) messages", run, int),
        "livelake_kafka_events_per_s": ours,
        "consume_ceiling_msgs_per_s": ceil,
        "duckdb_ndjson_events_per_s": duck.get("events_per_s"),
        "livelake_file_events_per_s": file_rate,
        "livelake_kafka_to_s3proxy_events_per_s": s3_rate,
        "ratio_to_ceiling": ours / ceil if ours and ceil else None,
        "ratio_to_duckdb": ours / duck["events_per_s"] if ours and duck.get("events_per_s") else None,
        "file_ratio_to_duckdb": file_rate / duck["events_per_s"] if file_rate and duck.get("events_per_s") else None,
        "peak_rss_kib": num(r"peak RSS ([0-9]+) KiB", run, int),
        "by_threads": threads,
        "file_speedup_1_to_2_threads": f2 / f1 if f1 and f2 else None,
        "scale_out_workers": scale_out,
        "file_shapes": shapes,
        "targets": {"ratio_to_duckdb": 1.0, "ratio_to_ceiling": 0.35, "file_events_per_cpu_s": 450000,
                    "file_speedup_1_to_2_threads": 1.6, "peak_rss_kib": 1024 * 1024},
    },
    "queries": {
        "per_query": queries,
        "median_ratio": statistics.median(q["ratio"] for q in queries.values()) if queries else None,
        "target_median_ratio": 1.0,
    },
    "freshness": {
        "events": fresh.get("events"), "p50_s": fresh.get("p50_s"), "p95_s": fresh.get("p95_s"),
        "max_s": fresh.get("max_s"), "never_visible": fresh.get("never_visible"),
        "steady_events": fresh.get("steady_events"), "steady_p50_s": fresh.get("steady_p50_s"),
        "steady_p95_s": fresh.get("steady_p95_s"), "tail_events": fresh.get("tail_events"),
        "tail_p50_s": fresh.get("tail_p50_s"), "tail_p95_s": fresh.get("tail_p95_s"),
        "target_p95_s": fresh.get("target_p95_s"),
        "board_events": board.get("events"), "board_p50_s": board.get("p50_s"), "board_p95_s": board.get("p95_s"),
        "board_max_s": board.get("max_s"), "board_never_shown": board.get("never_shown"),
        "board_target_p95_s": board.get("target_p95_s"),
    },
    "memory": {
        "peak_concurrent_sessions": mem.get("peak_sessions"),
        "state_bytes_per_session": mem.get("bytes_per_session"),
        "peak_rss_kib": mem.get("peak_rss_kib"),
        "micro_rss_bytes_per_session": num(r"\(RSS delta\): ([0-9]+)", state),
        "micro_snapshot_bytes_per_session": num(r"\(zstd\):\s+([0-9.]+)", state),
        "target_bytes_per_session": 300,
    },
    "rollup": {
        "by_shows": rollups,
        "report_from_rollup_s": line_of("report", "report_rollup").get("seconds"),
        "report_from_raw_s": line_of("report", "report_raw").get("seconds"),
        "targets": {"events_per_s": 2_000_000, "ratio_to_duckdb": 2.0, "peak_rss_kib": 1024 * 1024, "report_s": 5},
    },
    "build": {"cold_build_seconds": num(r"cold build seconds ([0-9]+)", text("build"), int)},
}
dest.write_text(json.dumps(results, indent=2) + "\n")
i, q, f, m = results["ingest"], results["queries"], results["freshness"], results["memory"]
fmt = lambda v, p="{:.2f}": "n/a" if v is None else p.format(v)  # noqa: E731
print(f"ingest: livelake {fmt(i['livelake_kafka_events_per_s'], '{:,.0f}')} ev/s; "
      f"{fmt(i['ratio_to_ceiling'])}x the ceiling (target 0.35), {fmt(i['ratio_to_duckdb'])}x DuckDB (target 1.0), "
      f"peak RSS {fmt(i['peak_rss_kib'], '{:,.0f}')} KiB (target <= 1 GiB)")
for kind, runs in i["by_threads"].items():
    for n, r in runs.items():
        print(f"  {kind} → lake, {n} thread(s): {fmt(r['events_per_s'], '{:,.0f}')} ev/s, "
              f"{fmt(r['events_per_cpu_s'], '{:,.0f}')} events per CPU-second, peak RSS {fmt(r['peak_rss_kib'], '{:,.0f}')} KiB")
for n, r in i["scale_out_workers"].items():
    print(f"  scale-out, {n} worker(s): {fmt(r['events_per_s'], '{:,.0f}')} ev/s until the group's lag is zero, "
          f"{fmt(r['events_per_cpu_s'], '{:,.0f}')} events per CPU-second")
for name, r in i["file_shapes"].items():
    two = r["by_threads"]["2"]
    print(f"  shape {name} ({fmt(r['messages'], '{:,.0f}')} messages, {fmt(r['sessions'], '{:,.0f}')} sessions): "
          f"file → lake {fmt(two['events_per_s'], '{:,.0f}')} ev/s, {fmt(two['events_per_cpu_s'], '{:,.0f}')} events "
          f"per CPU-second (1 thread: {fmt(r['by_threads']['1']['events_per_cpu_s'], '{:,.0f}')}), "
          f"{fmt(r['ratio_to_duckdb'])}x DuckDB, {fmt(r['speedup_1_to_2_threads'])}x from 1 to 2 threads")
print(f"  file: {fmt(i['file_speedup_1_to_2_threads'])}x from 1 to 2 threads (target 1.6), "
      f"events per CPU-second target 450,000")
print(f"queries: median {fmt(q['median_ratio'])}x DuckDB (target <= 1.0)")
print(f"freshness: p50 {fmt(f['p50_s'], '{:.1f}')} s, p95 {fmt(f['p95_s'], '{:.1f}')} s; while the show runs "
      f"p50 {fmt(f['steady_p50_s'], '{:.1f}')} s, p95 {fmt(f['steady_p95_s'], '{:.1f}')} s (target <= {fmt(f['target_p95_s'], '{:.0f}')} s)")
print(f"event → board: p50 {fmt(f['board_p50_s'])} s, p95 {fmt(f['board_p95_s'])} s "
      f"(target <= {fmt(f['board_target_p95_s'], '{:.0f}')} s)")
print(f"memory: {fmt(m['state_bytes_per_session'], '{:.0f}')} B/session at {fmt(m['peak_concurrent_sessions'], '{:,.0f}')} "
      f"sessions, peak RSS {fmt(m['peak_rss_kib'], '{:,.0f}')} KiB (target <= 300 B)")
for shows, r in results["rollup"]["by_shows"].items():
    print(f"rollup, {shows} shows ({fmt(r['events'], '{:,.0f}')} events): livelake {fmt(r['livelake_s'])} s "
          f"({fmt(r['livelake_events_per_s'], '{:,.0f}')} ev/s, target 2,000,000), peak RSS "
          f"{fmt(r['livelake_peak_rss_kib'], '{:,.0f}')} KiB (target <= 1 GiB); DuckDB {fmt(r['duckdb_s'])} s "
          f"({fmt(r['duckdb_events_per_s'], '{:,.0f}')} ev/s); "
          f"{fmt(r['ratio_to_duckdb'])}x DuckDB's time (target <= 2)")
print(f"report of a rolled-up show: {fmt(results['rollup']['report_from_rollup_s'])} s (target <= 5); "
      f"recomputed from raw {fmt(results['rollup']['report_from_raw_s'])} s")
print(f"written: {dest}")
