//! Compaction: the small files `livelake run` commits (one per partition per commit) merged into
//! one large file per partition, sorted by `stream_id` then time, swapped in atomically by a
//! maintenance job ([`Maintenance`]).
//!
//! Before anything is swapped, the written file is read back and compared with its inputs: the
//! row count, and per key (`stream_id`; `topic` for the dead letters) the count and an
//! order-independent checksum of every row's full content. Files `livelake run` publishes into
//! the partition meanwhile are not inputs: they stay (see [`Maintenance::stage_replacing`]),
//! and so do the files of a commit that is still being published
//! ([`crate::store::unfinished_files`]).

use std::collections::{BTreeMap, BTreeSet};
use std::hash::{DefaultHasher, Hasher};
use std::path::{Path, PathBuf};

use arrow::array::{AsArray, RecordBatch};
use arrow::compute::{SortColumn, concat_batches, lexsort_to_indices, take_record_batch};
use arrow::row::{RowConverter, SortField};
use chrono::NaiveDate;
use livelake_schemas::Table;

use crate::error::{Error, Result, io};
use crate::store::{Maintenance, read_file, time_column, write_file};

/// The tables `livelake run` appends small files to, partitioned by hour.
pub const COMPACTED_TABLES: [Table; 4] =
    [Table::PlayerEvents, Table::CommerceEvents, Table::Deadletter, Table::StreamMinute];

/// What compacting one partition did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Compacted {
    /// The partition, relative to the lake root.
    pub partition: String,
    /// Files merged.
    pub files_before: usize,
    /// Files written.
    pub files_after: usize,
    /// Rows (the same before and after).
    pub rows: u64,
}

/// The hour partitions of `date` of the compacted tables, relative to the root.
pub fn day_partitions(root: &Path, date: NaiveDate) -> Result<Vec<(Table, String)>> {
    let mut out = Vec::new();
    let date_dir = format!("date={}", date.format("%Y-%m-%d"));
    for table in COMPACTED_TABLES {
        for region in subdirs(&root.join(table.name()))? {
            let day = root.join(table.name()).join(&region).join(&date_dir);
            for hour in subdirs(&day)? {
                out.push((table, format!("{}/{region}/{date_dir}/{hour}", table.name())));
            }
        }
    }
    Ok(out)
}

/// Names of the Hive-style subdirectories (`name=value`) of `dir`, sorted; none when absent.
pub(crate) fn subdirs(dir: &Path) -> Result<Vec<String>> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Ok(Vec::new()) };
    let mut out = Vec::new();
    for entry in entries {
        let entry = entry.map_err(io("listing", dir))?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && name.contains('=') {
            out.push(name);
        }
    }
    out.sort();
    Ok(out)
}

/// The column rows are grouped by for the checksums.
fn key_column(table: Table) -> &'static str {
    if table == Table::Deadletter { "topic" } else { "stream_id" }
}

/// Per key: (rows, wrapping sum of row hashes, xor of row hashes).
type Checksums = BTreeMap<String, (u64, u64, u64)>;

/// Checksums of every row's full content (all columns, in arrow's row format), per key.
fn checksums(table: Table, batches: &[RecordBatch]) -> Result<Checksums> {
    let mut out = Checksums::new();
    let Some(first) = batches.first() else { return Ok(out) };
    let fields = first.schema().fields().iter().map(|f| SortField::new(f.data_type().clone())).collect();
    let converter = RowConverter::new(fields)?;
    for b in batches {
        let rows = converter.convert_columns(b.columns())?;
        let key = b.column_by_name(key_column(table)).expect("key column").clone();
        let key = key.as_string::<i32>();
        for (i, row) in rows.iter().enumerate() {
            let mut h = DefaultHasher::new();
            h.write(row.as_ref());
            let h = h.finish();
            let e = out.entry(key.value(i).to_string()).or_default();
            *e = (e.0 + 1, e.1.wrapping_add(h), e.2 ^ h);
        }
    }
    Ok(out)
}

/// Merge the files of one partition (`rel`, relative to the root) into one, staged in `job`.
/// `None` when there is nothing to merge (fewer than two files that are not `unfinished`).
pub fn compact_partition(
    job: &mut Maintenance,
    root: &Path,
    table: Table,
    rel: &str,
    unfinished: &BTreeSet<String>,
) -> Result<Option<Compacted>> {
    let dir = root.join(rel);
    let mut inputs: Vec<PathBuf> = Vec::new();
    let mut kept: Vec<PathBuf> = Vec::new();
    for entry in std::fs::read_dir(&dir).map_err(io("listing", &dir))? {
        let path = entry.map_err(io("listing", &dir))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if !name.ends_with(".parquet") {
            continue;
        }
        if unfinished.contains(&format!("{rel}/{name}")) { kept.push(path) } else { inputs.push(path) }
    }
    if inputs.len() < 2 {
        return Ok(None);
    }
    inputs.sort();
    let mut batches = Vec::new();
    for p in &inputs {
        batches.extend(read_file(p)?);
    }
    let schema = table.schema();
    let all = concat_batches(&schema, &batches)?;
    let rows = all.num_rows() as u64;
    let before = checksums(table, &batches)?;
    // Sorted by the key, then time, so row-group statistics prune well.
    let sort: Vec<SortColumn> = [key_column(table), time_column(table)]
        .iter()
        .map(|c| SortColumn { values: all.column_by_name(c).expect("sort column").clone(), options: None })
        .collect();
    let sorted = take_record_batch(&all, &lexsort_to_indices(&sort, None)?)?;

    let consumed = inputs.iter().filter_map(|p| p.file_name()?.to_str().map(String::from)).collect();
    let staged = job.stage_replacing(rel, consumed)?;
    let out = staged.join(format!("compact-{:010}.parquet", job.seq()));
    write_file(&out, &sorted)?;
    let written = read_file(&out)?;
    let after = checksums(table, &written)?;
    let rows_after: u64 = written.iter().map(|b| b.num_rows() as u64).sum();
    if rows_after != rows || after != before {
        return Err(Error::Config(format!(
            "compaction of {rel}: the merged file does not hold the same rows ({rows} in, {rows_after} out, \
             checksums {}); nothing replaced",
            if after == before { "equal" } else { "differ" }
        )));
    }
    // Files of a commit still being published stay visible under their own names.
    for p in &kept {
        let link = staged.join(p.file_name().expect("file name"));
        std::fs::hard_link(p, &link).map_err(io("linking", &link))?;
    }
    Ok(Some(Compacted { partition: rel.to_string(), files_before: inputs.len(), files_after: 1 + kept.len(), rows }))
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow::array::{Int64Array, StringArray};
    use arrow::datatypes::{DataType, Field, Schema};
    use std::sync::Arc;

    fn batch(keys: &[&str], vals: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("stream_id", DataType::Utf8, false),
            Field::new("v", DataType::Int64, false),
        ]));
        RecordBatch::try_new(
            schema,
            vec![Arc::new(StringArray::from(keys.to_vec())), Arc::new(Int64Array::from(vals.to_vec()))],
        )
        .unwrap()
    }

    #[test]
    fn checksums_ignore_order_and_see_any_change() {
        let a = checksums(Table::PlayerEvents, &[batch(&["s1", "s2", "s1"], &[1, 2, 3])]).unwrap();
        let b = checksums(Table::PlayerEvents, &[batch(&["s1"], &[3]), batch(&["s2", "s1"], &[2, 1])]).unwrap();
        assert_eq!(a, b, "same rows, other order and split");
        assert_eq!(a["s1"].0, 2);
        let changed = checksums(Table::PlayerEvents, &[batch(&["s1", "s2", "s1"], &[1, 2, 4])]).unwrap();
        assert_ne!(a, changed, "a changed value");
        let doubled = checksums(Table::PlayerEvents, &[batch(&["s1", "s2", "s1", "s1"], &[1, 2, 3, 3])]).unwrap();
        assert_ne!(a, doubled, "a doubled row");
    }
}
