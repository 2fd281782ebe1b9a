#!/usr/bin/env python3
"""DuckDB doing livelake's ingest job on the same events, as NDJSON — what an analyst would
otherwise run. In one timed run it parses every line (malformed ones skipped), keeps the event
types of the contract, reads `ts` as epoch ms or RFC 3339, deduplicates by (stream_id, event_id),
maps country → region and local amounts → USD with the default tables of
schemas/src/reference.rs, writes `player_events` and `commerce_events` and the `stream_minute`
columns that need no session state (active and started sessions with suspects, play/stall seconds,
stall count/ratio/per minute, stalled sessions, startup and latency percentiles, bitrate, fatal
errors, engagement, funnel counts, units, GMV, buyers) as Hive-partitioned Parquet
(region/date/hour, zstd). Not computed (they need per-session state across windows): exits,
exits after a stall, the cleaned columns, dead letters with reasons.

Prints `lines <n> events <n> seconds <s> events_per_s <n>`.

usage: duckdb_ingest.py EVENTS.ndjson OUT_DIR [THREADS]"""
import re
import shutil
import sys
import time
from pathlib import Path

import duckdb

ROOT = Path(__file__).resolve().parent.parent
reference = (ROOT / "schemas/src/reference.rs").read_text()
regions_src = reference[reference.index("DEFAULT_REGIONS") : reference.index("OTHER_REGION")]
rates_src = reference[reference.index("DEFAULT_USD_RATES") : reference.index("RATE_SCALE")]
REGIONS = [(c, r) for r, cs in re.findall(r'\("([A-Z]+)",\s*"([A-Z ]+)",?\s*\)', regions_src) for c in cs.split()]
RATES = re.findall(r'\("([A-Z]{3})", "([0-9.]+)"\)', rates_src)

PLAYER = ("session_start", "first_frame", "heartbeat", "stall_start", "stall_end", "error", "session_end")
COMMERCE = ("comment", "like", "gift", "share", "follow", "product_click", "add_to_cart", "order")

events, out = Path(sys.argv[1]).resolve(), Path(sys.argv[2]).resolve()
threads = int(sys.argv[3]) if len(sys.argv) > 3 else 2
shutil.rmtree(out, ignore_errors=True)
out.mkdir(parents=True)
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
con.execute("CREATE TABLE region_map (country VARCHAR, region VARCHAR)")
con.executemany("INSERT INTO region_map VALUES (?, ?)", REGIONS)
con.execute("CREATE TABLE usd (currency VARCHAR, rate DECIMAL(18, 8))")
con.executemany("INSERT INTO usd VALUES (?, ?)", RATES)
quoted = lambda names: ", ".join(f"'{n}'" for n in names)  # noqa: E731

started = time.perf_counter()
text_cols = ["event_id", "type", "ts", "stream_id", "session_id", "viewer_id", "region", "country", "platform",
             "cdn", "source", "error_code", "end_reason", "product_id", "order_id", "lang", "currency", "amount",
             "value", "code"]
int_cols = ["v", "startup_ms", "play_ms", "stall_ms", "bitrate_kbps", "height", "latency_ms", "dropped_frames",
            "quantity", "count"]
columns = ", ".join([f"'{c}': 'VARCHAR'" for c in text_cols] + [f"'{c}': 'BIGINT'" for c in int_cols]
                    + ["'fatal': 'BOOLEAN'"])
con.execute(f"""
CREATE TABLE lines AS
SELECT *, row_number() OVER () AS line
FROM read_json('{events}', format = 'newline_delimited', columns = {{{columns}}}, ignore_errors = true)
""")
lines = con.execute("SELECT count(*) FROM lines").fetchone()[0]
con.execute(f"""
CREATE TABLE ev AS
WITH parsed AS (
    SELECT l.*,
           CASE WHEN regexp_full_match(l.ts, '[0-9]+') THEN make_timestamptz(CAST(l.ts AS BIGINT) * 1000)
                ELSE TRY_CAST(l.ts AS TIMESTAMPTZ) END AS t,
           coalesce(l.region, m.region, 'OTHER') AS reg
    FROM lines l LEFT JOIN region_map m ON m.country = l.country
    WHERE l.v = 1 AND l.type IN ({quoted(PLAYER + COMMERCE)}) AND l.event_id IS NOT NULL
      AND l.stream_id IS NOT NULL AND l.session_id IS NOT NULL
)
SELECT * EXCLUDE (ts, region), t AS ts, reg AS region,
       strftime(t AT TIME ZONE 'UTC', '%Y-%m-%d') AS date, hour(t AT TIME ZONE 'UTC') AS hour,
       time_bucket(INTERVAL 1 MINUTE, t) AS window_start
FROM parsed
WHERE t IS NOT NULL
QUALIFY row_number() OVER (PARTITION BY stream_id, event_id ORDER BY line) = 1
""")
n_events = con.execute("SELECT count(*) FROM ev").fetchone()[0]
copy = "(FORMAT parquet, COMPRESSION zstd, PARTITION_BY (region, date, hour))"
con.execute(f"""COPY (SELECT * EXCLUDE (window_start) FROM ev WHERE type IN ({quoted(PLAYER)})
            ORDER BY stream_id, ts) TO '{out}/player_events' {copy}""")
con.execute(f"""COPY (SELECT e.* EXCLUDE (window_start),
                   CAST(CAST(coalesce(e.amount, e.value) AS DECIMAL(18, 4)) * u.rate AS DECIMAL(18, 4)) AS amount_usd
            FROM ev e LEFT JOIN usd u ON u.currency = e.currency WHERE e.type IN ({quoted(COMMERCE)})
            ORDER BY e.stream_id, e.ts) TO '{out}/commerce_events' {copy}""")
con.execute(f"""
COPY (
WITH c AS (
    SELECT e.*, CAST(CAST(coalesce(e.amount, e.value) AS DECIMAL(18, 4)) * u.rate AS DECIMAL(18, 4)) AS usd
    FROM ev e LEFT JOIN usd u ON u.currency = e.currency
)
SELECT stream_id, region, window_start, window_start + INTERVAL 1 MINUTE AS window_end,
       count(DISTINCT session_id) FILTER (WHERE type IN ({quoted(PLAYER)}))         AS sessions_active_raw,
       count(*) FILTER (WHERE type = 'session_start')                               AS sessions_started_raw,
       coalesce(sum(play_ms), 0) / 1000.0                                           AS play_seconds,
       coalesce(sum(stall_ms), 0) / 1000.0                                          AS stall_seconds,
       count(*) FILTER (WHERE type = 'stall_end')                                   AS stall_count,
       stall_seconds / nullif(play_seconds + stall_seconds, 0)                      AS stall_ratio,
       stall_count / nullif((play_seconds + stall_seconds) / 60.0, 0)               AS stalls_per_minute,
       count(DISTINCT session_id) FILTER (WHERE type = 'stall_end')                 AS sessions_stalled,
       quantile_cont(startup_ms, 0.5) FILTER (WHERE type = 'first_frame')           AS startup_ms_p50,
       quantile_cont(startup_ms, 0.95) FILTER (WHERE type = 'first_frame')          AS startup_ms_p95,
       quantile_cont(latency_ms, 0.5) FILTER (WHERE type = 'heartbeat')             AS latency_ms_p50,
       quantile_cont(latency_ms, 0.95) FILTER (WHERE type = 'heartbeat')            AS latency_ms_p95,
       quantile_cont(latency_ms, 0.99) FILTER (WHERE type = 'heartbeat')            AS latency_ms_p99,
       avg(bitrate_kbps) FILTER (WHERE type = 'heartbeat')                          AS bitrate_kbps_avg,
       count(*) FILTER (WHERE type = 'error' AND fatal)                             AS fatal_errors,
       count(*) FILTER (WHERE type = 'comment')                                     AS comments,
       coalesce(sum("count") FILTER (WHERE type = 'like'), 0)                       AS likes,
       count(*) FILTER (WHERE type = 'gift')                                        AS gifts,
       coalesce(sum(usd) FILTER (WHERE type = 'gift'), 0)                           AS gift_value_usd,
       count(*) FILTER (WHERE type = 'share')                                       AS shares,
       count(*) FILTER (WHERE type = 'follow')                                      AS follows,
       count(*) FILTER (WHERE type = 'product_click')                               AS product_clicks,
       count(*) FILTER (WHERE type = 'add_to_cart')                                 AS add_to_carts,
       count(*) FILTER (WHERE type = 'order')                                       AS orders,
       coalesce(sum(quantity) FILTER (WHERE type = 'order'), 0)                     AS units,
       coalesce(sum(usd) FILTER (WHERE type = 'order'), 0)                          AS gmv_usd,
       count(DISTINCT viewer_id) FILTER (WHERE type = 'order')                      AS buyers,
       strftime(window_start AT TIME ZONE 'UTC', '%Y-%m-%d') AS date, hour(window_start AT TIME ZONE 'UTC') AS hour
FROM c
GROUP BY stream_id, region, window_start
ORDER BY stream_id, window_start
) TO '{out}/stream_minute' {copy}""")
seconds = time.perf_counter() - started
minute_rows = con.execute(f"SELECT count(*) FROM read_parquet('{out}/stream_minute/**/*.parquet')").fetchone()[0]
print(f"lines {lines} events {n_events} stream_minute_rows {minute_rows} seconds {seconds:.2f} "
      f"events_per_s {lines / seconds:.0f}")
