//! Compaction: the small files `livelake run` commits (one per partition per commit) merged into
//! one file per partition (more when it would exceed the target size), sorted by `stream_id`
//! then time — streamed, in bounded memory (`compact_partition`), in one Delta commit per table that removes the merged files and adds the new ones
//! (`dataChange` false: no row changes, so a `livelake run` appending meanwhile never conflicts;
//! its new files are not inputs and stay).
//!
//! Before anything is committed, the written files are read back and compared with their inputs:
//! the row count, and per key (`stream_id`; `topic` for the dead letters) the count and an
//! order-independent checksum of every row's full content.

use std::collections::{BTreeMap, HashMap};
use std::hash::{DefaultHasher, Hasher};

use arrow::array::{AsArray, RecordBatch};
use arrow::row::{RowConverter, SortField};
use chrono::NaiveDate;
use datafusion::prelude::SessionContext;
use futures::StreamExt;
use livelake_schemas::{PartitionLevel, Table};

use crate::error::{Error, Result};
use crate::store::delta::{
    self, Action, CommittedFile, FileWriter, LakeUrl, committed_files, optimize_operation, read_files,
};
use crate::store::{time_column, writer_properties};
use crate::{conform, lake_session};

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

/// `livelake compact`: [`compact_day`] under the lake's maintenance lock (one rollup, compaction
/// or shows import at a time), stamped now.
pub async fn compact(lake: &LakeUrl, date: NaiveDate, target_bytes: u64) -> Result<Vec<Compacted>> {
    let _job = crate::store::maintenance_lock(lake)?;
    compact_day(lake, date, target_bytes, chrono::Utc::now().timestamp_millis()).await
}

/// Compact every hour partition of `date` in the tables `livelake run` writes: per table one
/// Delta commit (see the module docs). `target_bytes`: split a partition's rows into files of
/// about this size at most.
pub async fn compact_day(lake: &LakeUrl, date: NaiveDate, target_bytes: u64, now_ms: i64) -> Result<Vec<Compacted>> {
    let day = date.format("%Y-%m-%d").to_string();
    let ctx = lake_session();
    let mut out = Vec::new();
    for table in COMPACTED_TABLES {
        let Some(mut dt) = delta::open_table(lake, table).await? else { continue };
        let df_err = |source| Error::DataFusion { job: "compaction", source };
        let _ = ctx.deregister_table(table.name()).map_err(df_err)?;
        ctx.register_table(table.name(), delta::provider(&dt, table, &ctx)?).map_err(df_err)?;
        let mut by_dir: BTreeMap<String, Vec<CommittedFile>> = BTreeMap::new();
        for f in committed_files(&dt, table)? {
            if f.values.get("date").and_then(|v| v.as_deref()) == Some(day.as_str()) {
                by_dir.entry(f.dir().to_string()).or_default().push(f);
            }
        }
        let mut actions = Vec::new();
        let mut done = Vec::new();
        for (dir, inputs) in by_dir {
            if inputs.len() < 2 {
                continue;
            }
            let (mut a, c) = compact_partition(&ctx, &dt, table, &dir, &inputs, target_bytes, now_ms).await?;
            actions.append(&mut a);
            done.push(c);
        }
        if actions.is_empty() {
            continue;
        }
        let info = HashMap::from([("livelake.job".to_string(), serde_json::json!("compaction"))]);
        delta::commit(&mut dt, table, actions, &[], optimize_operation(target_bytes as i64), info).await?;
        out.extend(done);
    }
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

/// Add `other`'s rows to `into`.
fn merge_checksums(into: &mut Checksums, other: Checksums) {
    for (k, (n, sum, xor)) in other {
        let e = into.entry(k).or_default();
        *e = (e.0 + n, e.1.wrapping_add(sum), e.2 ^ xor);
    }
}

/// Rows and checksums of `files`, read one file at a time.
async fn file_by_file(dt: &delta::DeltaTable, table: Table, files: &[CommittedFile]) -> Result<(u64, Checksums)> {
    let (mut rows, mut sums) = (0, Checksums::new());
    for f in files {
        let batches = read_files(dt, std::slice::from_ref(f)).await?;
        rows += batches.iter().map(|b| b.num_rows() as u64).sum::<u64>();
        merge_checksums(&mut sums, checksums(table, &batches)?);
    }
    Ok((rows, sums))
}

/// Merge `inputs`, the files of partition `dir` of `table`, into sorted files of about
/// `target_bytes` at most, verified; returns the actions that swap them (not committed).
///
/// Streaming: the inputs are checksummed one file at a time; a DataFusion plan over the table's
/// snapshot (registered in `ctx`) sorts the partition's rows (spilling to disk beyond `rollup.memory_mb`); each output file is
/// encoded as its rows arrive and stored when full; the stored files are read back one at a
/// time. Memory: one input or output file's rows, plus one output file's encoded bytes, plus
/// what the sort is allowed.
async fn compact_partition(
    ctx: &SessionContext,
    dt: &delta::DeltaTable,
    table: Table,
    dir: &str,
    inputs: &[CommittedFile],
    target_bytes: u64,
    now_ms: i64,
) -> Result<(Vec<Action>, Compacted)> {
    let rel = format!("{}/{dir}", table.name());
    let (rows, before) = file_by_file(dt, table, inputs).await?;
    let df_err = |source| Error::DataFusion { job: "compaction", source };
    // The partition's rows in the table's snapshot (registered in `ctx` under its name): the
    // inputs, as they are every committed file of the partition there.
    let filter: Vec<String> = table
        .partitioning()
        .iter()
        .map(|level| {
            let v = inputs[0].values.get(level.name()).cloned().flatten().unwrap_or_default().replace('\'', "''");
            match level {
                PartitionLevel::Region => format!("region = '{v}'"),
                PartitionLevel::Date => format!("date = DATE '{v}'"),
                PartitionLevel::Hour => format!("hour = {}", v.parse::<i32>().unwrap_or(-1)),
            }
        })
        .collect();
    // Sorted by the key, then time, so row-group statistics prune well.
    let sql = format!(
        "SELECT * FROM {} WHERE {} ORDER BY {}, {}",
        table.name(),
        filter.join(" AND "),
        key_column(table),
        time_column(table)
    );
    let sorted = ctx.sql(&sql).await.map_err(df_err)?;
    let mut stream = sorted.execute_stream().await.map_err(df_err)?;

    let in_bytes: u64 = inputs.iter().map(|f| f.size.max(0) as u64).sum();
    let pieces = in_bytes.div_ceil(target_bytes.max(1)).max(1);
    let per = rows.div_ceil(pieces).max(1) as usize;
    let (schema, values, stamp) = (table.schema(), inputs[0].values.clone(), format!("{now_ms:013}"));
    let new_file = |i: usize| {
        let name = format!("compact-{stamp}-{i:03}.parquet");
        FileWriter::new(dir, &name, values.clone(), schema.clone(), writer_properties())
    };
    let (mut adds, mut file, mut in_file) = (Vec::new(), new_file(0)?, 0usize);
    while let Some(batch) = stream.next().await {
        let mut batch = conform("compaction", &batch.map_err(df_err)?, &schema)?;
        while batch.num_rows() > 0 {
            let take = batch.num_rows().min(per - in_file);
            file.write(&batch.slice(0, take))?;
            in_file += take;
            batch = batch.slice(take, batch.num_rows() - take);
            if in_file == per {
                let full = std::mem::replace(&mut file, new_file(adds.len() + 1)?);
                adds.push(full.finish(dt, now_ms).await?);
                in_file = 0;
            }
        }
    }
    if in_file > 0 {
        adds.push(file.finish(dt, now_ms).await?);
    }
    for a in &mut adds {
        a.data_change = false;
    }
    let written: Vec<CommittedFile> = adds
        .iter()
        .map(|a| CommittedFile {
            path: a.path.clone(),
            values: a.partition_values.clone(),
            size: a.size,
            rows: None,
            modification_time: a.modification_time,
        })
        .collect();
    let (rows_after, after) = file_by_file(dt, table, &written).await?;
    if rows_after != rows || after != before {
        return Err(Error::Config(format!(
            "compaction of {rel}: the merged files do not hold the same rows ({rows} in, {rows_after} out, \
             checksums {}); nothing replaced",
            if after == before { "equal" } else { "differ" }
        )));
    }
    let mut actions: Vec<Action> = inputs.iter().map(|f| f.remove(false, now_ms)).collect();
    let files_after = adds.len();
    actions.extend(adds.into_iter().map(Action::Add));
    Ok((actions, Compacted { partition: rel, files_before: inputs.len(), files_after, rows }))
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

    /// Three commits of dead letters into one partition, compacted with a target size of about
    /// half their bytes: two files, every row kept, the old files out of the table.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_partition_is_merged_into_files_of_the_target_size() {
        use crate::store::delta::{Action, PartitionRows, append_operation, commit, open_or_create, write_files};
        let dir = tempfile::tempdir().unwrap();
        let lake = LakeUrl::parse(dir.path().to_str().unwrap(), Default::default()).unwrap();
        let t = Table::Deadletter;
        let mut dt = open_or_create(&lake, t).await.unwrap();
        let dir_name = "region=EU/date=2026-11-27/hour=12";
        for i in 0..3i64 {
            let schema = t.schema();
            let n = 200;
            let cols: Vec<arrow::array::ArrayRef> = vec![
                Arc::new(
                    arrow::array::TimestampMillisecondArray::from_iter_values((0..n).map(|k| 1_795_780_800_000 + k))
                        .with_timezone("UTC"),
                ),
                Arc::new(StringArray::from_iter_values((0..n).map(|k| format!("topic-{}", (k + i) % 3)))),
                Arc::new(arrow::array::Int32Array::from(vec![0; n as usize])),
                Arc::new(Int64Array::from_iter_values((0..n).map(|k| i * 1000 + k))),
                Arc::new(StringArray::from(vec!["bad_json"; n as usize])),
                Arc::new(arrow::array::BinaryArray::from_iter_values((0..n).map(|k| format!("{{{k}").into_bytes()))),
            ];
            let batch = RecordBatch::try_new(schema, cols).unwrap();
            let part =
                PartitionRows { dir: dir_name.into(), values: crate::store::delta::partition_values(dir_name), batch };
            let adds = write_files(&dt, vec![part], |_| format!("part-{i}.parquet"), 0).await.unwrap();
            let actions = adds.into_iter().map(Action::Add).collect();
            commit(&mut dt, t, actions, &[], append_operation(t), Default::default()).await.unwrap();
        }
        let before = committed_files(&dt, t).unwrap();
        let bytes: i64 = before.iter().map(|f| f.size).sum();
        let date = NaiveDate::from_ymd_opt(2026, 11, 27).unwrap();
        let done = compact_day(&lake, date, (bytes / 2 + 1) as u64, 1).await.unwrap();
        assert_eq!(done.len(), 1);
        assert_eq!((done[0].files_before, done[0].files_after, done[0].rows), (3, 2, 600));
        let dt = crate::store::delta::open_table(&lake, t).await.unwrap().unwrap();
        let after = committed_files(&dt, t).unwrap();
        assert_eq!(after.len(), 2);
        assert!(after.iter().all(|f| f.path.contains("/compact-")), "{after:?}");
        let rows: usize = read_files(&dt, &after).await.unwrap().iter().map(|b| b.num_rows()).sum();
        assert_eq!(rows, 600);
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
