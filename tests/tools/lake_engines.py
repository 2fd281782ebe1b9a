#!/usr/bin/env python3
"""Read a livelake lake with engines that are not livelake's own, for the end-to-end tests.

  lake_engines.py duckdb LAKE QUERY.sql
      Run the query in DuckDB, each lake table a view over
      read_parquet('LAKE/<table>/**/*.parquet', hive_partitioning=true); print the result as CSV.
  lake_engines.py pyarrow LAKE
      Print, as JSON, figures computed with pyarrow.dataset (Hive partitioning): rows per table,
      orders and GMV (USD) per traffic source, sessions started per region.

Needs duckdb and pyarrow (infra/test.sh installs pinned versions from PyPI into .cache/venv).
"""
import csv
import json
import sys
from decimal import Decimal
from pathlib import Path

# Partition columns per table (docs/lake.md) and their types.
PARTITIONS = {
    "player_events": ["region", "date", "hour"],
    "commerce_events": ["region", "date", "hour"],
    "deadletter": ["region", "date", "hour"],
    "stream_minute": ["region", "date", "hour"],
    "stream_daily": ["region", "date"],
    "show_summary": ["date"],
    "show_sources": ["date"],
    "shows": [],
}
TYPES = {"region": "VARCHAR", "date": "DATE", "hour": "INTEGER"}


def duckdb_query(lake: Path, query: str) -> None:
    import duckdb

    con = duckdb.connect()
    for table, parts in PARTITIONS.items():
        if not (lake / table).is_dir():
            continue
        types = ", ".join(f"'{p}': '{TYPES[p]}'" for p in parts)
        hive = f", hive_partitioning = true, hive_types = {{{types}}}" if parts else ""
        con.execute(f"CREATE VIEW {table} AS SELECT * FROM read_parquet('{lake}/{table}/**/*.parquet'{hive})")
    cur = con.execute(query)
    out = csv.writer(sys.stdout, lineterminator="\n")
    out.writerow([d[0] for d in cur.description])
    for row in cur.fetchall():
        out.writerow(["" if v is None else (v.isoformat() if hasattr(v, "isoformat") else v) for v in row])


def pyarrow_figures(lake: Path) -> None:
    import pyarrow.compute as pc
    import pyarrow.dataset as ds

    def dataset(table):
        return ds.dataset(lake / table, format="parquet", partitioning="hive")

    figures = {"rows": {}}
    for table in PARTITIONS:
        if (lake / table).is_dir():
            figures["rows"][table] = dataset(table).count_rows()
    orders = dataset("commerce_events").to_table(
        columns=["source", "amount_usd"], filter=pc.field("type") == "order"
    )
    by_source = {}
    for row in orders.to_pylist():
        s = by_source.setdefault(row["source"] or "unknown", {"orders": 0, "gmv_usd": Decimal(0)})
        s["orders"] += 1
        s["gmv_usd"] += row["amount_usd"]
    figures["gmv_by_source"] = {k: {"orders": v["orders"], "gmv_usd": str(v["gmv_usd"])} for k, v in by_source.items()}
    minutes = dataset("stream_minute").to_table(columns=["region", "sessions_started"])
    started = minutes.group_by("region").aggregate([("sessions_started", "sum")])
    figures["sessions_started_by_region"] = dict(
        zip(started.column("region").to_pylist(), started.column("sessions_started_sum").to_pylist())
    )
    json.dump(figures, sys.stdout, indent=1, sort_keys=True)


if __name__ == "__main__":
    if len(sys.argv) == 4 and sys.argv[1] == "duckdb":
        duckdb_query(Path(sys.argv[2]).resolve(), Path(sys.argv[3]).read_text())
    elif len(sys.argv) == 3 and sys.argv[1] == "pyarrow":
        pyarrow_figures(Path(sys.argv[2]).resolve())
    else:
        sys.exit(__doc__)
