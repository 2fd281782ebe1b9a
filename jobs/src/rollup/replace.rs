//! Staging the new content of the rollup tables' partitions: the rows of the streams just
//! recomputed replace theirs; rows of other streams in the same partition are kept. One file
//! per partition, sorted by `stream_id` then region or source, so a re-run writes the same bytes.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use arrow::array::{AsArray, BooleanArray, RecordBatch};
use arrow::compute::{SortColumn, concat_batches, filter_record_batch, lexsort_to_indices, take_record_batch};
use livelake_schemas::Table;

use crate::error::{Result, io};
use crate::store::{Maintenance, read_file, write_file};

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

/// The column that orders rows within a stream in `table`'s files.
fn second_key(table: Table) -> Option<&'static str> {
    match table {
        Table::ShowSummary => Some("region"),
        Table::ShowSources => Some("source"),
        _ => None,
    }
}

/// Stage partition `rel` of `table`: its current rows of streams not in `streams`, plus `new`
/// (file columns only). Returns the rows written (no file when there are none).
pub(super) fn stage_partition(
    job: &mut Maintenance,
    root: &Path,
    table: Table,
    rel: &str,
    streams: &BTreeSet<String>,
    new: Vec<RecordBatch>,
) -> Result<usize> {
    let schema = table.schema();
    let mut rows = new;
    let dir = root.join(rel);
    if dir.is_dir() {
        let mut files: Vec<_> = std::fs::read_dir(&dir)
            .map_err(io("listing", &dir))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|e| e == "parquet"))
            .collect();
        files.sort();
        for f in files {
            for b in read_file(&f)? {
                let ids = b.column_by_name("stream_id").expect("stream_id column").as_string::<i32>().clone();
                let keep: BooleanArray = (0..b.num_rows()).map(|i| Some(!streams.contains(ids.value(i)))).collect();
                rows.push(filter_record_batch(&b, &keep)?);
            }
        }
    }
    let all = concat_batches(&schema, &rows)?;
    let staged = job.stage(rel)?;
    if all.num_rows() == 0 {
        return Ok(0);
    }
    let sort: Vec<SortColumn> = std::iter::once("stream_id")
        .chain(second_key(table))
        .map(|c| SortColumn { values: all.column_by_name(c).expect("sort column").clone(), options: None })
        .collect();
    let sorted = take_record_batch(&all, &lexsort_to_indices(&sort, None)?)?;
    write_file(&staged.join(format!("rollup-{:010}.parquet", job.seq())), &sorted)?;
    Ok(sorted.num_rows())
}
