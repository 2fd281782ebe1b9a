#!/usr/bin/env python3
"""DuckDB beside `livelake rollup`: the same lake's committed Parquet files (as the Delta logs list
them), the same day, daily aggregates per show × region × UTC date and per show × region and for the
whole show (`ALL`) — duplicates removed (the first ingested copy of an event wins), then sessions,
viewers, play and stall time, stall ratio and count, startup p50/p95 and the fast-start share,
latency p50/p95/p99, watch time, engagement counts, clicks, carts, orders, units, GMV and buyers.
It does not run livelake's session rules (views' ends, exits after stalls, fake-spike cleaning,
the ordered funnel): DuckDB does less than the rollup here, so the comparison flatters DuckDB.

Prints one line: `duckdb_rollup seconds S rows N events E`.

usage: duckdb_rollup.py LAKE DATE THREADS"""
import sys
import time
from pathlib import Path

import duckdb
from deltalake import DeltaTable

lake, day, threads = Path(sys.argv[1]), sys.argv[2], int(sys.argv[3])

# One table's rows of the day's shows (all dates), the first ingested copy of each event.
DEDUP = """
  SELECT * EXCLUDE (rn) FROM (
    SELECT *, row_number() OVER (PARTITION BY stream_id, event_id
                                 ORDER BY ingested_at, src_partition, src_offset) AS rn
    FROM read_parquet({files}, hive_partitioning = true)
    WHERE stream_id IN (SELECT DISTINCT stream_id FROM read_parquet({player}, hive_partitioning = true)
                        WHERE date = DATE '{day}')) WHERE rn = 1
"""

QUERY = """
WITH p AS ({dedup_player}),
c AS ({dedup_commerce}),
qoe AS (
  SELECT stream_id, region, CAST(ts AS DATE) AS day,
         count(DISTINCT session_id) AS sessions, count(DISTINCT viewer_id) AS viewers,
         sum(play_ms) / 1000.0 AS play_seconds, sum(stall_ms) / 1000.0 AS stall_seconds,
         count(*) FILTER (WHERE type = 'stall_end') AS stall_count,
         sum(stall_ms) / nullif(sum(play_ms) + sum(stall_ms), 0) AS stall_ratio,
         quantile_cont(startup_ms, 0.5) FILTER (WHERE type = 'first_frame') AS startup_ms_p50,
         quantile_cont(startup_ms, 0.95) FILTER (WHERE type = 'first_frame') AS startup_ms_p95,
         avg(CASE WHEN startup_ms <= 1000 THEN 1.0 ELSE 0.0 END) FILTER (WHERE type = 'first_frame') AS fast_start_pct,
         quantile_cont(latency_ms, [0.5, 0.95, 0.99]) FILTER (WHERE type = 'heartbeat') AS latency_ms_p,
         (sum(play_ms) + sum(stall_ms)) / 1000.0 AS watch_seconds
  FROM p GROUP BY GROUPING SETS ((stream_id, region, day), (stream_id, region), (stream_id))
),
sales AS (
  SELECT stream_id, region, CAST(ts AS DATE) AS day,
         count(*) FILTER (WHERE type = 'comment') AS comments,
         sum(like_count) FILTER (WHERE type = 'like') AS likes,
         count(*) FILTER (WHERE type = 'product_click') AS product_clicks,
         count(*) FILTER (WHERE type = 'add_to_cart') AS add_to_carts,
         count(*) FILTER (WHERE type = 'order') AS orders,
         sum(quantity) FILTER (WHERE type = 'order') AS units,
         sum(amount_usd) FILTER (WHERE type = 'order') AS gmv_usd,
         count(DISTINCT viewer_id) FILTER (WHERE type = 'order') AS buyers
  FROM c GROUP BY GROUPING SETS ((stream_id, region, day), (stream_id, region), (stream_id))
)
SELECT * FROM qoe FULL JOIN sales USING (stream_id, region, day)
"""


def files(table):
    return [u.replace("file://", "") for u in DeltaTable(str(lake / table)).file_uris()]


start = time.perf_counter()
con = duckdb.connect()
con.execute(f"SET threads = {threads}")
player, commerce = files("player_events"), files("commerce_events")
dedup = {f"dedup_{name}": DEDUP.format(files=files, player=player, day=day)
         for name, files in (("player", player), ("commerce", commerce))}
rows = con.execute(QUERY.format(**dedup)).fetchall()
seconds = time.perf_counter() - start
events = con.execute(
    f"SELECT (SELECT count(*) FROM read_parquet({player})) + (SELECT count(*) FROM read_parquet({commerce}))"
).fetchone()[0]
print(f"duckdb_rollup seconds {seconds:.3f} rows {len(rows)} events {events}")
