//! Hive partitioning: rows → `region=R/date=YYYY-MM-DD/hour=HH` groups, with region values
//! checked again before they become path components (they were validated at decode time).

use std::path::PathBuf;
use std::sync::Arc;

use arrow::array::{ArrayRef, AsArray, RecordBatch, UInt32Array};
use arrow::compute::{take, take_record_batch};
use arrow::datatypes::{Int64Type, TimestampMillisecondType};
use arrow::row::{RowConverter, SortField};
use chrono::{DateTime, Datelike, Timelike};
use livelake_schemas::{PartitionLevel, Table, is_valid_region};

use crate::error::Result;

/// The time column that places a table's rows in date/hour partitions.
pub fn time_column(table: Table) -> &'static str {
    match table {
        Table::Deadletter => "received_at",
        Table::StreamMinute => "window_start",
        _ => "ts",
    }
}

/// A region value safe to use as a directory name; anything else goes to `INVALID`.
pub fn safe_region(region: &str) -> &str {
    if is_valid_region(region) && region != "." && region != ".." { region } else { "INVALID" }
}

/// Relative directory of a partition, e.g. `player_events/region=EU/date=2026-11-27/hour=12`.
pub fn partition_dir(table: Table, region: &str, ts_ms: i64) -> PathBuf {
    let t = DateTime::from_timestamp_millis(ts_ms).unwrap_or_default();
    let mut p = PathBuf::from(table.name());
    for level in table.partitioning() {
        p.push(match level {
            PartitionLevel::Region => format!("region={}", safe_region(region)),
            PartitionLevel::Date => format!("date={:04}-{:02}-{:02}", t.year(), t.month(), t.day()),
            PartitionLevel::Hour => format!("hour={:02}", t.hour()),
        });
    }
    p
}

/// Split a batch (file columns + `region`) into per-partition batches of file columns, each
/// sorted by `stream_id` then time (dead letters: by receive time, partition, offset); the
/// partitions in the order of (region, hour).
///
/// One sort of the whole batch by (region, hour, the file's sort columns), in Arrow's row format
/// (each row's keys encoded as bytes that compare like the values), and one `take`: each
/// partition is then a slice of the sorted batch, no copy (no `String` or map entry per row).
pub fn split_by_partition(table: Table, batch: &RecordBatch) -> Result<Vec<(PathBuf, RecordBatch)>> {
    if batch.num_rows() == 0 {
        return Ok(Vec::new());
    }
    let column = |name: &str| batch.column_by_name(name).unwrap_or_else(|| panic!("batch has {name}")).clone();
    let time = column(time_column(table));
    let hour_of = |ms: i64| ms.div_euclid(3_600_000);
    let hours: ArrayRef = Arc::new(time.as_primitive::<TimestampMillisecondType>().unary::<_, Int64Type>(hour_of));
    let mut keys = vec![column("region"), hours.clone()];
    keys.extend(file_sort_columns(table).iter().map(|n| column(n)));
    let converter = RowConverter::new(keys.iter().map(|k| SortField::new(k.data_type().clone())).collect())?;
    let rows = converter.convert_columns(&keys)?;
    let mut order: Vec<u32> = (0..batch.num_rows() as u32).collect();
    order.sort_unstable_by(|a, b| rows.row(*a as usize).cmp(&rows.row(*b as usize)));
    let order = UInt32Array::from(order);
    let file_schema = table.schema();
    let projection: Vec<usize> =
        file_schema.fields().iter().map(|f| batch.schema().index_of(f.name()).expect("file column in batch")).collect();
    let sorted = take_record_batch(&batch.project(&projection)?, &order)?;
    let sorted = RecordBatch::try_new(file_schema, sorted.columns().to_vec())?;
    let regions = take(&keys[0], &order, None)?;
    let regions = regions.as_string::<i32>();
    let hours = take(&hours, &order, None)?;
    let hours = hours.as_primitive::<Int64Type>();
    let mut out = Vec::new();
    let mut start = 0;
    for i in 1..=sorted.num_rows() {
        if i < sorted.num_rows() && regions.value(i) == regions.value(start) && hours.value(i) == hours.value(start) {
            continue;
        }
        let dir = partition_dir(table, regions.value(start), hours.value(start) * 3_600_000);
        out.push((dir, sorted.slice(start, i - start)));
        start = i;
    }
    Ok(out)
}

/// The columns a table's files are sorted by.
fn file_sort_columns(table: Table) -> &'static [&'static str] {
    match table {
        Table::Deadletter => &["received_at", "src_partition", "src_offset"],
        Table::StreamMinute => &["stream_id", "window_start"],
        _ => &["stream_id", "ts", "src_partition", "src_offset"],
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_are_hive_and_safe() {
        let t = 1_795_780_800_000 + 3 * 3_600_000; // 2026-11-27T15:00Z
        assert_eq!(
            partition_dir(Table::PlayerEvents, "EU", t),
            PathBuf::from("player_events/region=EU/date=2026-11-27/hour=15")
        );
        assert_eq!(partition_dir(Table::StreamDaily, "EU", t), PathBuf::from("stream_daily/region=EU/date=2026-11-27"));
        for hostile in ["../../etc", "..", "a/b", "", "EU/../../x"] {
            let p = partition_dir(Table::Deadletter, hostile, t);
            assert!(p.starts_with("deadletter/region=INVALID"), "{hostile} → {}", p.display());
            assert!(p.components().all(|c| matches!(c, std::path::Component::Normal(_))));
        }
    }
}
