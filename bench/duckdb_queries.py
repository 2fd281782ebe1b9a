#!/usr/bin/env python3
"""DuckDB on the same lake and the same example queries as examples/query_bench.rs: in process,
best of 5 runs each, a fresh connection per run (views over read_parquet(..., hive_partitioning=true)).
Prints `<query file> <best seconds> <rows>` per query.

usage: duckdb_queries.py LAKE [QUERY_DIR]"""
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "tools"))
import duckdb  # noqa: E402
from lake_engines import PARTITIONS, TYPES  # noqa: E402


def connect(lake: Path):
    con = duckdb.connect()
    for table, parts in PARTITIONS.items():
        if (lake / table).is_dir():
            types = ", ".join(f"'{p}': '{TYPES[p]}'" for p in parts)
            hive = f", hive_partitioning = true, hive_types = {{{types}}}" if parts else ""
            con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake}/{table}/**/*.parquet'{hive})")
    return con


lake = Path(sys.argv[1]).resolve()
qdir = Path(sys.argv[2] if len(sys.argv) > 2 else "docs/queries")
for q in sorted(qdir.glob("*.sql")):
    sql = q.read_text()
    best, rows = float("inf"), 0
    for _ in range(5):
        t = time.perf_counter()
        rows = len(connect(lake).execute(sql).fetchall())
        best = min(best, time.perf_counter() - t)
    print(f"{q.name} {best:.4f} {rows}")
