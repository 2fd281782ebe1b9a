//! Hive partitioning: rows → `region=R/date=YYYY-MM-DD/hour=HH` groups, with region values
//! checked again before they become path components (they were validated at decode time).

use std::collections::BTreeMap;
use std::path::PathBuf;

use arrow::array::{AsArray, RecordBatch, UInt32Array};
use arrow::compute::{SortColumn, SortOptions, lexsort_to_indices, take_record_batch};
use arrow::datatypes::TimestampMillisecondType;
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
/// sorted by `stream_id` then time (dead letters: by receive time, partition, offset).
pub fn split_by_partition(table: Table, batch: &RecordBatch) -> Result<Vec<(PathBuf, RecordBatch)>> {
    let region = batch.column_by_name("region").expect("batch has region").as_string::<i32>();
    let time =
        batch.column_by_name(time_column(table)).expect("time column").as_primitive::<TimestampMillisecondType>();
    let hour_of = |ms: i64| ms.div_euclid(3_600_000);
    let mut groups: BTreeMap<(String, i64), Vec<u32>> = BTreeMap::new();
    for i in 0..batch.num_rows() {
        let key = (region.value(i).to_string(), hour_of(time.value(i)));
        groups.entry(key).or_default().push(i as u32);
    }
    let file_schema = table.schema();
    let projection: Vec<usize> =
        file_schema.fields().iter().map(|f| batch.schema().index_of(f.name()).expect("file column in batch")).collect();
    let mut out = Vec::with_capacity(groups.len());
    for ((region, hour), idx) in groups {
        let part = take_record_batch(batch, &UInt32Array::from(idx))?.project(&projection)?;
        let sorted = sort_for_file(table, &part)?;
        let sorted = RecordBatch::try_new(file_schema.clone(), sorted.columns().to_vec())?;
        out.push((partition_dir(table, &region, hour * 3_600_000), sorted));
    }
    Ok(out)
}

fn sort_for_file(table: Table, b: &RecordBatch) -> Result<RecordBatch> {
    let names: &[&str] = match table {
        Table::Deadletter => &["received_at", "src_partition", "src_offset"],
        Table::StreamMinute => &["stream_id", "window_start"],
        _ => &["stream_id", "ts", "src_partition", "src_offset"],
    };
    let cols: Vec<SortColumn> = names
        .iter()
        .map(|n| SortColumn {
            values: b.column_by_name(n).expect("sort column").clone(),
            options: Some(SortOptions::default()),
        })
        .collect();
    let idx = lexsort_to_indices(&cols, None)?;
    Ok(take_record_batch(b, &idx)?)
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
