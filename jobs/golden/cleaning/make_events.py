#!/usr/bin/env python3
"""Writes events.ndjson of the `cleaning` golden case (see README.md): python3 make_events.py.

Only the input is generated here (sessions are too many to type); the expected rows in
stream_minute.csv are written by hand from the construction described in README.md."""
import json

T0 = 1795780800000  # 2026-11-27T12:00:00Z
MIN, SEC = 60_000, 1_000
lines = []


def ev(stream, region, session, kind, ts, **extra):
    lines.append(dict(type=kind, ts=ts, stream_id=stream, session_id=session, region=region, **extra))


def starts(stream, region, minute, n, spacing=SEC, prefix="s"):
    """n sessions that only send session_start, in minute `minute`."""
    for i in range(n):
        ev(stream, region, f"{prefix}{minute}-{i}", "session_start", T0 + minute * MIN + i * spacing)


# spike / SEA: 2 one-event sessions per minute in minutes 0-9, then a join spike in minute 10.
for m in range(10):
    starts("spike", "SEA", m, 2, spacing=20 * SEC)
for i in range(50):  # bots: start, one heartbeat 3 s later with 2 s of play, nothing else
    t = T0 + 10 * MIN + i * SEC
    ev("spike", "SEA", f"bot{i}", "session_start", t)
    ev("spike", "SEA", f"bot{i}", "heartbeat", t + 3 * SEC, play_ms=2000)
# bot49 also ends (12:10:53), and its session_start arrives only after that (see below)
ev("spike", "SEA", "bot49", "session_end", T0 + 10 * MIN + 53 * SEC)
# bot0 lingers: 1 s more play at 12:10:50 (within its 60 s) and at 12:11:20 (after them)
ev("spike", "SEA", "bot0", "heartbeat", T0 + 10 * MIN + 50 * SEC, play_ms=1000)
ev("spike", "SEA", "bot0", "heartbeat", T0 + 11 * MIN + 20 * SEC, play_ms=1000)
for k, start_s in [(1, 10), (2, 20), (3, 30)]:  # real viewers who stay until 12:11:55
    sid = f"stay{k}"
    ev("spike", "SEA", sid, "session_start", T0 + 10 * MIN + start_s * SEC)
    t = T0 + 10 * MIN + (start_s + 10) * SEC
    while t <= T0 + 11 * MIN + 50 * SEC:
        ev("spike", "SEA", sid, "heartbeat", t, play_ms=10000)
        t += 10 * SEC
    ev("spike", "SEA", sid, "session_end", T0 + 11 * MIN + 55 * SEC)
ev("spike", "SEA", "stay1", "comment", T0 + 11 * MIN)
# a real viewer who leaves after 7 s without watching, but liked first: not a suspect
ev("spike", "SEA", "liker", "session_start", T0 + 10 * MIN + 40 * SEC)
ev("spike", "SEA", "liker", "like", T0 + 10 * MIN + 45 * SEC)
ev("spike", "SEA", "liker", "session_end", T0 + 10 * MIN + 47 * SEC)

# opening / EU: 55 starts in the show's first minute: an opening rush, never a spike.
starts("opening", "EU", 0, 55)

# threshold / ME: 10 per minute, then 50 = max(50, 5 x 10): a spike (the rule is >=).
# threshold / NA: 11 per minute, then 54 < 5 x 11: not a spike.
for m in range(10):
    starts("threshold", "ME", m, 10, spacing=5 * SEC, prefix="me")
    starts("threshold", "NA", m, 11, spacing=5 * SEC, prefix="na")
starts("threshold", "ME", 10, 50, prefix="me")
starts("threshold", "NA", 10, 54, prefix="na")

# gaps / LATAM: 20 per minute in minutes 0-3, none in 4-9, then 50 in minute 10. Missing minutes
# count 0, so the median of the 10 before is 0 and 50 >= max(50, 0) is a spike (skipping the
# missing minutes would give a median of 20 and a threshold of 100).
for m in range(4):
    starts("gaps", "LATAM", m, 20, spacing=2 * SEC)
starts("gaps", "LATAM", 10, 50)

lines.sort(key=lambda e: e["ts"])
# Delivered out of order: bot49's session_start arrives after its session_end (4 s late, on time).
late_start = next(e for e in lines if e["session_id"] == "bot49" and e["type"] == "session_start")
lines.remove(late_start)
lines.insert(next(i for i, e in enumerate(lines) if e["session_id"] == "bot49" and e["type"] == "session_end") + 1, late_start)
with open("events.ndjson", "w") as f:
    for n, e in enumerate(lines, 1):
        f.write(json.dumps({"event_id": f"c-{n}", **e}) + "\n")
print(len(lines), "events")
