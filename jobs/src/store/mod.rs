//! The lake on disk, as every job writes it: Parquet files with one set of writer settings, the
//! Hive layout (`region=/date=/hour=`), the locks that keep one writer and one maintenance job per
//! lake, and the atomic directory swaps of maintenance jobs (docs/lake.md). The streaming sink
//! (`livelake run`) and the batch jobs both use it.

pub mod delta;
pub mod failpoint;
mod layout;
mod maintenance;
mod parquet;

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

pub use layout::{partition_dir, safe_region, split_by_partition, time_column};
pub use maintenance::Maintenance;
pub use parquet::{ROW_GROUP_ROWS, read_file, write_file, writer_properties};
use serde::Deserialize;

use crate::error::{Error, Result, io};

/// An exclusive lock on the file at `path` (created if missing), released by the kernel when the
/// process dies (kill -9 included). Held by another process: [`Error::Busy`] saying `held`, the
/// holder's pid, and `rule`. The holder's pid is written into the file for that message.
pub fn lock_exclusive(path: &Path, held: &str, rule: &str) -> Result<fs::File> {
    use std::io::Write;
    let mut lock =
        fs::OpenOptions::new().create(true).truncate(false).write(true).open(path).map_err(io("opening", path))?;
    if lock.try_lock().is_err() {
        let holder = fs::read_to_string(path).unwrap_or_default();
        let holder = holder.trim();
        let pid = if holder.is_empty() { "pid unknown".to_string() } else { format!("pid {holder}") };
        return Err(Error::Busy { path: path.to_path_buf(), detail: format!("{held} ({pid}): {rule}") });
    }
    // Who holds it, for the message above (advisory; the lock is what counts).
    let _ = lock.set_len(0).and_then(|()| writeln!(lock, "{}", std::process::id()));
    Ok(lock)
}

/// The commit log of `livelake run`: `<root>/_livelake/log/`.
pub fn log_dir(root: &Path) -> PathBuf {
    root.join("_livelake/log")
}

/// The record of commit `seq` in the log.
pub fn record_path(root: &Path, seq: u64) -> PathBuf {
    log_dir(root).join(format!("{seq:020}.json"))
}

/// Where commit `seq` stages its files until they are published.
pub fn staging_dir(root: &Path, seq: u64) -> PathBuf {
    root.join(format!("_livelake/staging/{seq:020}"))
}

/// The part of a commit record of `livelake run` that maintenance reads: its files.
#[derive(Deserialize)]
struct RecordFiles {
    files: Vec<RecordFile>,
}

#[derive(Deserialize)]
struct RecordFile {
    path: String,
}

/// The files (paths relative to the root) of a commit of `livelake run` that is still being
/// published: the latest record's (`_livelake/log/<seq>.json`), while its staging directory
/// exists. Maintenance leaves them alone, so the run's recovery can still find them.
pub fn unfinished_files(root: &Path) -> Result<BTreeSet<String>> {
    let log = log_dir(root);
    let Ok(entries) = fs::read_dir(&log) else { return Ok(BTreeSet::new()) };
    let mut latest = None;
    for entry in entries {
        let name = entry.map_err(io("listing", &log))?.file_name().to_string_lossy().into_owned();
        if let Some(seq) = name.strip_suffix(".json").and_then(|s| s.parse::<u64>().ok()) {
            latest = latest.max(Some(seq));
        }
    }
    let Some(seq) = latest else { return Ok(BTreeSet::new()) };
    if !staging_dir(root, seq).exists() {
        return Ok(BTreeSet::new());
    }
    let path = record_path(root, seq);
    let text = match fs::read(&path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(BTreeSet::new()), // pruned meanwhile
        Err(e) => return Err(Error::Io { op: "reading", path, source: e }),
    };
    let rec: RecordFiles =
        serde_json::from_slice(&text).map_err(|e| Error::CommitLog { path: path.clone(), detail: e.to_string() })?;
    Ok(rec.files.into_iter().map(|f| f.path).collect())
}
