//! Reading a lake back as a test would with any Parquet reader and the Delta protocol: the files a
//! table's Delta log holds (the log's JSON commits replayed here, independently of livelake's
//! code), with the Hive partition values from their paths, and rows rendered as sortable text for
//! comparisons.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use arrow::util::display::array_value_to_string;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;

/// One file of a table: its partition values and batches.
pub struct LakeFile {
    pub partition: BTreeMap<String, String>,
    pub batches: Vec<RecordBatch>,
}

/// The files (absolute paths, sorted) the Delta log of `table` under `lake` holds: its JSON
/// commits replayed in version order (`add` puts a path in, `remove` takes it out). None when
/// the table has no log yet.
pub fn committed_files(lake: &Path, table: &str) -> Vec<PathBuf> {
    let log = lake.join(table).join("_delta_log");
    let Ok(rd) = std::fs::read_dir(&log) else { return Vec::new() };
    let mut commits: Vec<PathBuf> =
        rd.map(|e| e.unwrap().path()).filter(|p| p.extension().is_some_and(|x| x == "json")).collect();
    commits.sort();
    let mut files = std::collections::BTreeSet::new();
    for c in commits {
        for line in std::fs::read_to_string(&c).unwrap().lines().filter(|l| !l.trim().is_empty()) {
            let action: serde_json::Value = serde_json::from_str(line).unwrap();
            if let Some(p) = action["add"]["path"].as_str() {
                files.insert(percent_decode(p));
            } else if let Some(p) = action["remove"]["path"].as_str() {
                files.remove(&percent_decode(p));
            }
        }
    }
    files.into_iter().map(|p| lake.join(table).join(p)).collect()
}

/// A log path with its `%XX` escapes decoded.
fn percent_decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'%'
            && i + 2 < b.len()
            && let Ok(v) = u8::from_str_radix(&s[i + 1..i + 3], 16)
        {
            out.push(v);
            i += 3;
            continue;
        }
        out.push(b[i]);
        i += 1;
    }
    String::from_utf8(out).unwrap()
}

/// Every committed Parquet file of `table` under `lake` (see [`committed_files`]).
pub fn read_table(lake: &Path, table: &str) -> Vec<LakeFile> {
    let paths = committed_files(lake, table);
    paths
        .into_iter()
        .map(|path| {
            let partition = path
                .strip_prefix(lake.join(table))
                .unwrap()
                .components()
                .filter_map(|c| c.as_os_str().to_str()?.split_once('=').map(|(k, v)| (k.to_string(), v.to_string())))
                .collect();
            let f = std::fs::File::open(&path).unwrap();
            let batches = ParquetRecordBatchReaderBuilder::try_new(f)
                .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
                .build()
                .unwrap()
                .collect::<Result<Vec<_>, _>>()
                .unwrap();
            LakeFile { partition, batches }
        })
        .collect()
}

/// Total rows of a table.
pub fn count_rows(lake: &Path, table: &str) -> u64 {
    read_table(lake, table).iter().flat_map(|f| &f.batches).map(|b| b.num_rows() as u64).sum()
}

/// Row `i` of `b` as column → display text (`NULL` for null), skipping `skip` columns.
pub fn render_row(b: &RecordBatch, i: usize, skip: &[&str]) -> BTreeMap<String, String> {
    let mut row = BTreeMap::new();
    for (j, field) in b.schema().fields().iter().enumerate() {
        if skip.contains(&field.name().as_str()) {
            continue;
        }
        let col = b.column(j);
        let v = if col.is_null(i) { "NULL".to_string() } else { array_value_to_string(col, i).unwrap() };
        row.insert(field.name().clone(), v);
    }
    row
}

/// Rows of a table as maps column → display text (partition values included), skipping
/// `skip` columns (wall-clock columns that differ between runs).
pub fn rows(lake: &Path, table: &str, skip: &[&str]) -> Vec<BTreeMap<String, String>> {
    let mut out = Vec::new();
    for f in read_table(lake, table) {
        for b in &f.batches {
            for i in 0..b.num_rows() {
                let mut row: BTreeMap<String, String> = f.partition.clone();
                row.extend(render_row(b, i, skip));
                out.push(row);
            }
        }
    }
    out
}

/// Sorted row texts of every table, for run-vs-run comparison (wall-clock columns skipped: the
/// ingest and receive times, and the dead letters' date/hour partitions, which come from the
/// receive time — two runs either side of an hour boundary put them in different partitions).
pub fn snapshot(lake: &Path) -> BTreeMap<String, Vec<String>> {
    let mut out = BTreeMap::new();
    for t in ["player_events", "commerce_events", "deadletter", "stream_minute"] {
        let mut r: Vec<String> = rows(lake, t, &["ingested_at", "received_at"])
            .into_iter()
            .map(|mut r| {
                if t == "deadletter" {
                    r.remove("date");
                    r.remove("hour");
                }
                format!("{r:?}")
            })
            .collect();
        r.sort();
        out.insert(t.to_string(), r);
    }
    out
}

/// Every committed file of the lake's tables must be a complete Parquet file.
pub fn assert_all_files_complete(lake: &Path) {
    let mut paths = Vec::new();
    for t in ["player_events", "commerce_events", "deadletter", "stream_minute"] {
        paths.extend(committed_files(lake, t));
    }
    for p in paths {
        let f = std::fs::File::open(&p).unwrap();
        ParquetRecordBatchReaderBuilder::try_new(f).unwrap_or_else(|e| panic!("{} is not complete: {e}", p.display()));
    }
}
