#!/usr/bin/env python3
"""Memory of `livelake run` with many concurrent sessions: runs it on an NDJSON show with its
Prometheus endpoint on, scrapes `livelake_sessions_tracked` and `livelake_session_state_bytes`
(updated at each commit; small commits give many samples) every 100 ms, and reads the peak RSS
from /proc while it runs. Prints `peak_sessions <n> state_bytes_at_peak <n> bytes_per_session <x>
peak_rss_kib <n>`.

usage: memory.py LIVELAKE_BIN EVENTS.ndjson LAKE_DIR"""
import subprocess
import sys
import time
import urllib.request

bin_, events, lake = sys.argv[1:4]
port = 19_464
proc = subprocess.Popen(
    [bin_, "run", "--source", f"file:{events}", "--lake", lake, "--metrics-listen", f"127.0.0.1:{port}"],
    stdout=subprocess.DEVNULL,
    stderr=subprocess.DEVNULL,
    env={"RUST_LOG": "warn", "LIVELAKE__SINK__ROLL_MB": "16", "PATH": "/usr/bin:/bin"},
)
peak = (0, 0)  # (sessions, state bytes) at the largest session count
peak_rss = 0
while proc.poll() is None:
    try:
        with open(f"/proc/{proc.pid}/status") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    peak_rss = max(peak_rss, int(line.split()[1]))
        text = urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=1).read().decode()
        values = {}
        for line in text.splitlines():
            if line.startswith(("livelake_sessions_tracked ", "livelake_session_state_bytes ")):
                name, value = line.split()
                values[name] = int(float(value))
        sessions = values.get("livelake_sessions_tracked", 0)
        if sessions > peak[0]:
            peak = (sessions, values.get("livelake_session_state_bytes", 0))
    except (OSError, ValueError):
        pass
    time.sleep(0.1)
if proc.returncode != 0:
    sys.exit(f"livelake run exited with {proc.returncode}")
per = peak[1] / peak[0] if peak[0] else float("nan")
print(f"peak_sessions {peak[0]} state_bytes_at_peak {peak[1]} bytes_per_session {per:.1f} peak_rss_kib {peak_rss}")
