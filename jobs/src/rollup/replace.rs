//! The new content of the rollup tables' partitions: the rows of the streams just recomputed
//! replace theirs; rows of other streams in the same partition are kept. One file per
//! partition, sorted by `stream_id` then region, source or window.

use std::collections::{BTreeMap, BTreeSet};

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::{SortColumn, concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch};
use livelake_schemas::Table;

use crate::error::Result;
use crate::store::delta::{
    Action, CommittedFile, DeltaTable, PartitionRows, partition_values, read_files, write_files,
};

/// Split rows by a per-row key (e.g. their partition); `keys` gives a batch's keys, row by row.
pub(super) fn split_rows(
    batches: &[RecordBatch],
    keys: impl Fn(&RecordBatch) -> Result<Vec<String>>,
) -> Result<BTreeMap<String, Vec<RecordBatch>>> {
    let mut out: BTreeMap<String, Vec<RecordBatch>> = BTreeMap::new();
    for b in batches {
        let keys = keys(b)?;
        let distinct: BTreeSet<&String> = keys.iter().collect();
        for k in distinct {
            let mask: BooleanArray = keys.iter().map(|x| Some(x == k)).collect();
            out.entry(k.clone()).or_default().push(filter_record_batch(b, &mask)?);
        }
    }
    Ok(out)
}

/// The columns that order rows within a stream in `table`'s files.
fn second_key(table: Table) -> &'static [&'static str] {
    match table {
        Table::ShowSummary => &["region"],
        Table::ShowSources => &["source"],
        Table::ShowActions => &["action_id"],
        Table::ShowMinute => &["region", "window_start"],
        Table::ShowRetention => &["region", "minute"],
        _ => &[],
    }
}

/// The new content of partition `dir` (below the table) of `table`: its committed rows of
/// streams not in `streams`, plus `new` (file columns only), as one file named `name`. `files`
/// are the table's committed files (read once per table, not per partition). Returns the actions
/// that swap it in (every current file of the partition removed; one file added when there are
/// rows) and the rows written.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn replace_partition(
    dt: &DeltaTable,
    table: Table,
    files: &[CommittedFile],
    dir: &str,
    streams: &BTreeSet<String>,
    new: Vec<RecordBatch>,
    name: &str,
    now_ms: i64,
) -> Result<(Vec<Action>, usize)> {
    let schema = table.schema();
    let mut rows = new;
    let current: Vec<CommittedFile> = files.iter().filter(|f| f.dir() == dir).cloned().collect();
    for b in read_files(dt, &current).await? {
        let ids = b.column_by_name("stream_id").expect("stream_id column").as_string::<i32>().clone();
        let keep: BooleanArray = (0..b.num_rows()).map(|i| Some(!streams.contains(ids.value(i)))).collect();
        rows.push(filter_record_batch(&b, &keep)?);
    }
    let mut actions: Vec<Action> = current.iter().map(|f| f.remove(true, now_ms)).collect();
    let all = concat_batches(&schema, &rows)?;
    if all.num_rows() == 0 {
        return Ok((actions, 0));
    }
    let sort: Vec<SortColumn> = std::iter::once("stream_id")
        .chain(second_key(table).iter().copied())
        .map(|c| SortColumn { values: all.column_by_name(c).expect("sort column").clone(), options: None })
        .collect();
    let sorted = take_record_batch(&all, &lexsort_to_indices(&sort, None)?)?;
    let n = sorted.num_rows();
    let part = PartitionRows { dir: dir.to_string(), values: partition_values(dir), batch: sorted };
    let adds = write_files(dt, vec![part], |_| name.to_string(), now_ms).await?;
    actions.extend(adds.into_iter().map(Action::Add));
    Ok((actions, n))
}
