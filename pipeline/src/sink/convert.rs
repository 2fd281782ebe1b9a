//! `livelake lake convert`: a lake in the layout of livelake before Delta Lake — its own commit
//! log `_livelake/log/<seq>.json`, files renamed from `_livelake/staging/` into the table
//! folders — becomes Delta tables in place, keeping the source positions, so a restarted
//! `livelake run` resumes without loss or duplicates.
//!
//! Steps (each safe to repeat after a crash): finish publishing the latest commit (renames a
//! crash left undone); create each table's Delta log over the files in its folders (every file
//! there is committed in that layout), the streaming tables with the latest commit's positions
//! as application transactions; write that commit's record in the new place
//! (`_livelake/state/<seq>.json`, the session state stays where it is); and last remove the old
//! log and staging, after which the lake opens as Delta.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use livelake_jobs::store::delta::{self, Add, LakeUrl, partition_values};
use livelake_jobs::store::{file_stats, lock_exclusive, maintenance_lock};
use livelake_schemas::Table;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use serde::Deserialize;
use tracing::info;

use super::lake::{COMMIT_APP, CommitRecord, partition_app};
use crate::engine::Checkpoint;
use crate::error::{Error, Result, commit_log, io};

/// A commit record of the earlier layout (the parts the conversion reads).
#[derive(Deserialize)]
struct OldRecord {
    seq: u64,
    created_at_ms: i64,
    files: Vec<OldFile>,
    checkpoint: Checkpoint,
    #[serde(default)]
    state: Option<String>,
}

#[derive(Deserialize)]
struct OldFile {
    path: String,
}

/// What a conversion did.
#[derive(Debug, Default)]
pub struct Converted {
    /// The latest commit of the old log (the positions carried over), if any.
    pub seq: Option<u64>,
    /// Per table converted: files taken into its Delta log.
    pub tables: BTreeMap<&'static str, usize>,
}

/// Convert the lake in directory `root` (see the module docs).
pub async fn convert(root: &Path, now_ms: i64) -> Result<Converted> {
    let internal = root.join("_livelake");
    let log = internal.join("log");
    if !log.is_dir() {
        return Err(Error::Config(format!(
            "{}: no commit log of an earlier livelake (_livelake/log/): nothing to convert",
            root.display()
        )));
    }
    let _writer = lock_exclusive(
        &internal.join("writer.lock"),
        "a livelake run is writing to this lake",
        "stop it before converting",
    )?;
    let url = LakeUrl::parse(&root.to_string_lossy(), Default::default())?;
    let _maintenance = maintenance_lock(&url)?;
    if fs::read_dir(internal.join("maintenance")).is_ok_and(|mut d| d.next().is_some()) {
        return Err(Error::Config(format!(
            "{}: an unfinished maintenance job (_livelake/maintenance/): finish it with the livelake that started it \
             (run its rollup or shows import again), then convert",
            root.display()
        )));
    }
    let mut out = Converted::default();
    let latest = latest_record(&log)?;
    if let Some(rec) = &latest {
        complete_publish(root, rec)?;
        out.seq = Some(rec.seq);
    }
    let mut txns: Vec<(String, i64)> = Vec::new();
    if let Some(rec) = &latest {
        txns.push((COMMIT_APP.to_string(), rec.seq as i64));
        txns.extend(
            rec.checkpoint.partitions.iter().map(|p| (partition_app(&p.part.topic, p.part.partition), p.next_offset)),
        );
    }
    for table in Table::ALL {
        let dir = root.join(table.name());
        if !dir.is_dir() || dir.join("_delta_log").is_dir() {
            continue;
        }
        let adds = adds_of(&dir, now_ms)?;
        let streaming =
            matches!(table, Table::PlayerEvents | Table::CommerceEvents | Table::Deadletter | Table::StreamMinute);
        let n = adds.len();
        delta::create_with_files(&url, table, adds, if streaming { &txns } else { &[] }).await?;
        info!(table = table.name(), files = n, "converted to a Delta table");
        out.tables.insert(table.name(), n);
    }
    if let Some(rec) = latest {
        let state = rec.state.as_deref().map(|s| s.strip_prefix("_livelake/").unwrap_or(s).to_string());
        let new = CommitRecord {
            version: 2,
            slot: None,
            run: None,
            seq: rec.seq,
            created_at_ms: rec.created_at_ms,
            files: Vec::new(),
            checkpoint: rec.checkpoint,
            state,
        };
        let path = internal.join(format!("state/{:020}.json", rec.seq));
        fs::create_dir_all(internal.join("state")).map_err(io("creating", internal.join("state")))?;
        let tmp = path.with_extension("json.tmp");
        fs::write(&tmp, serde_json::to_vec(&new).expect("commit record serialises")).map_err(io("writing", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("renaming", &tmp))?;
    }
    // Last: without the old log the lake opens as Delta.
    let _ = fs::remove_dir_all(internal.join("staging"));
    let _ = fs::remove_dir(internal.join("maintenance")); // empty (checked above) or absent
    fs::remove_dir_all(&log).map_err(io("removing", &log))?;
    Ok(out)
}

fn latest_record(log: &Path) -> Result<Option<OldRecord>> {
    let mut seqs: Vec<(u64, PathBuf)> = Vec::new();
    for entry in fs::read_dir(log).map_err(io("listing", log))? {
        let path = entry.map_err(io("listing", log))?.path();
        let seq = path
            .file_name()
            .and_then(|n| n.to_str())
            .and_then(|n| n.strip_suffix(".json"))
            .and_then(|s| s.parse().ok());
        if let Some(seq) = seq {
            seqs.push((seq, path));
        }
    }
    let Some((_, path)) = seqs.into_iter().max_by_key(|(s, _)| *s) else { return Ok(None) };
    let text = fs::read(&path).map_err(io("reading", &path))?;
    serde_json::from_slice(&text).map(Some).map_err(|e| commit_log(path, e.to_string()))
}

/// Redo the renames of the latest commit that a crash left undone (its files are committed).
fn complete_publish(root: &Path, rec: &OldRecord) -> Result<()> {
    let staging = root.join(format!("_livelake/staging/{:020}", rec.seq));
    for f in &rec.files {
        let dest = root.join(&f.path);
        if dest.exists() {
            continue;
        }
        let staged = staging.join(f.path.rsplit('/').next().unwrap_or(&f.path));
        if !staged.exists() {
            return Err(commit_log(
                root.join(format!("_livelake/log/{:020}.json", rec.seq)),
                format!("file {} is neither published nor staged", f.path),
            ));
        }
        let parent = dest.parent().expect("table files live in a folder");
        fs::create_dir_all(parent).map_err(io("creating", parent))?;
        fs::rename(&staged, &dest).map_err(io("publishing", &dest))?;
    }
    Ok(())
}

/// The `add` action of every Parquet file below a table folder, with the statistics a new
/// file gets (read from the file's rows).
fn adds_of(table_dir: &Path, now_ms: i64) -> Result<Vec<Add>> {
    let mut files = Vec::new();
    walk(table_dir, &mut files)?;
    files.sort();
    let mut adds = Vec::with_capacity(files.len());
    for path in files {
        let rel = path.strip_prefix(table_dir).expect("below the table").to_string_lossy().into_owned();
        let dir = rel.rsplit_once('/').map_or("", |(d, _)| d);
        let file = fs::File::open(&path).map_err(io("opening", &path))?;
        let size = file.metadata().map_err(io("stat", &path))?.len() as i64;
        let pq = |source| Error::Lake(livelake_jobs::Error::Parquet { path: path.clone(), source });
        let reader = ParquetRecordBatchReaderBuilder::try_new(file).map_err(pq)?;
        let schema = reader.schema().clone();
        let batches =
            reader.build().map_err(pq)?.collect::<std::result::Result<Vec<_>, _>>().map_err(|e| pq(e.into()))?;
        let rows = arrow::compute::concat_batches(&schema, &batches).map_err(|e| pq(e.into()))?;
        adds.push(Add {
            partition_values: partition_values(dir),
            path: rel,
            size,
            modification_time: now_ms,
            data_change: true,
            stats: Some(file_stats(&rows)),
            ..Default::default()
        });
    }
    Ok(adds)
}

fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> Result<()> {
    for entry in fs::read_dir(dir).map_err(io("listing", dir))? {
        let path = entry.map_err(io("listing", dir))?.path();
        if path.is_dir() {
            if !path.file_name().is_some_and(|n| n.to_string_lossy().starts_with('_')) {
                walk(&path, out)?;
            }
        } else if path.extension().is_some_and(|e| e == "parquet") {
            out.push(path);
        }
    }
    Ok(())
}
