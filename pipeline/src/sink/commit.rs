//! The lake directory and its commit log (`<lake>/_livelake/`).
//!
//! A commit: (1) every file is written and fsynced under `_livelake/staging/<seq>/`; (2) the
//! commit record — files, their final paths, and the engine checkpoint — is written to
//! `_livelake/log/<seq>.json` atomically (temp file, fsync, rename): this is the commit point;
//! (3) staged files are renamed into their table directories; (4) the staging directory is
//! removed. On open, the latest record is completed (renames redone where the final file is
//! missing), and staging directories of commits that never got a record are discarded.
//!
//! The engine's session state is too large for the JSON record: it goes to
//! `_livelake/state/<seq>.bin` (written and fsynced before the record that names it); only the
//! latest commit's state file is kept.

use std::fs;
use std::path::{Path, PathBuf};

use arrow::array::RecordBatch;
use livelake_schemas::Table;
use serde::{Deserialize, Serialize};
use tracing::{debug, info, warn};

use crate::engine::Checkpoint;
use crate::error::{Result, commit_log, io};
use livelake_jobs::store::{self, failpoint, lock_exclusive, split_by_partition, write_file};

/// One file of a commit.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileEntry {
    /// Table name.
    pub table: String,
    /// Path relative to the lake root.
    pub path: String,
    /// Rows in the file.
    pub rows: u64,
    /// Bytes on disk.
    pub bytes: u64,
}

/// A commit record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CommitRecord {
    /// Format version.
    pub version: u32,
    /// Sequence number (1, 2, …).
    pub seq: u64,
    /// Wall-clock time of the commit.
    pub created_at_ms: i64,
    /// Files published by this commit.
    pub files: Vec<FileEntry>,
    /// Engine state after this commit (its session state is in `state`).
    pub checkpoint: Checkpoint,
    /// The session-state file of this commit, relative to the lake root.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
}

/// Records kept in the log besides the latest (older ones are pruned).
const KEEP_RECORDS: u64 = 20;

/// An open lake.
#[derive(Debug)]
pub struct Lake {
    /// The writer lock (`_livelake/writer.lock`), held while the lake is open.
    _lock: fs::File,
    root: PathBuf,
    run_id: String,
    next_seq: u64,
    /// Positions of the latest record (its session state left out): a commit must not move any
    /// partition back from them.
    last: Checkpoint,
}

fn fsync_dir(dir: &Path) -> Result<()> {
    fs::File::open(dir).and_then(|f| f.sync_all()).map_err(io("syncing directory", dir))
}

impl Lake {
    /// Open (or create) the lake at `root` and recover: returns the lake and the latest
    /// committed record, if any.
    pub fn open(root: &Path, now_ms: i64) -> Result<(Lake, Option<CommitRecord>)> {
        let log = store::log_dir(root);
        fs::create_dir_all(&log).map_err(io("creating", &log))?;
        fs::create_dir_all(root.join("_livelake/staging")).map_err(io("creating", root.join("_livelake/staging")))?;
        let root = root.canonicalize().map_err(io("resolving", root))?;
        let lock = take_writer_lock(&root)?;
        let run_id = format!("{:08x}", (now_ms as u64 ^ ((std::process::id() as u64) << 20)) & 0xffff_ffff);
        let mut lake = Lake { _lock: lock, root, run_id, next_seq: 1, last: Checkpoint::default() };
        let latest = lake.recover()?;
        if let Some(r) = &latest {
            lake.next_seq = r.seq + 1;
            lake.last = r.checkpoint.positions();
        }
        Ok((lake, latest))
    }

    /// The lake root (canonical).
    pub fn root(&self) -> &Path {
        &self.root
    }

    fn log_dir(&self) -> PathBuf {
        store::log_dir(&self.root)
    }

    fn staging_dir(&self, seq: u64) -> PathBuf {
        store::staging_dir(&self.root, seq)
    }

    fn record_path(&self, seq: u64) -> PathBuf {
        store::record_path(&self.root, seq)
    }

    fn state_rel(seq: u64) -> String {
        format!("_livelake/state/{seq:020}.bin")
    }

    /// Write (and fsync) a commit's session state; returns its path relative to the root.
    fn write_state(&self, seq: u64, bytes: &[u8]) -> Result<Option<String>> {
        if bytes.is_empty() {
            return Ok(None);
        }
        let rel = Self::state_rel(seq);
        let path = self.root.join(&rel);
        let dir = path.parent().expect("state files live in a directory");
        fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let tmp = path.with_extension("bin.tmp");
        write_synced(&tmp, bytes)?;
        fs::rename(&tmp, &path).map_err(io("renaming", &tmp))?;
        fsync_dir(dir)?;
        Ok(Some(rel))
    }

    /// Remove state files of commits before `seq` (recovery only reads the latest).
    fn prune_state(&self, seq: u64) {
        let dir = self.root.join("_livelake/state");
        let Ok(entries) = fs::read_dir(&dir) else { return };
        for entry in entries.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            let old = name.split('.').next().and_then(|s| s.parse::<u64>().ok()).is_some_and(|s| s < seq);
            if old || name.ends_with(".tmp") {
                let _ = fs::remove_file(entry.path());
            }
        }
    }

    fn recover(&mut self) -> Result<Option<CommitRecord>> {
        let log = self.log_dir();
        let mut seqs = Vec::new();
        for entry in fs::read_dir(&log).map_err(io("listing", &log))? {
            let entry = entry.map_err(io("listing", &log))?;
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.ends_with(".tmp") {
                // An intent that never reached its commit point.
                fs::remove_file(entry.path()).map_err(io("removing", entry.path()))?;
            } else if let Some(seq) = name.strip_suffix(".json").and_then(|s| s.parse::<u64>().ok()) {
                seqs.push(seq);
            }
        }
        seqs.sort_unstable();
        let latest = match self.latest_checked(&seqs)? {
            Some(mut rec) => {
                self.complete(&rec)?;
                if let Some(state) = &rec.state {
                    let p = self.root.join(state);
                    rec.checkpoint.sessions = fs::read(&p).map_err(io("reading session state", &p))?;
                }
                Some(rec)
            }
            None => None,
        };
        // Staging of commits without a record is discarded: their data will be re-read.
        let staging = self.root.join("_livelake/staging");
        for entry in fs::read_dir(&staging).map_err(io("listing", &staging))? {
            let entry = entry.map_err(io("listing", &staging))?;
            let seq: Option<u64> = entry.file_name().to_string_lossy().parse().ok();
            if latest.as_ref().is_none_or(|r| seq != Some(r.seq)) {
                warn!(dir = %entry.path().display(), "discarding uncommitted staging");
                fs::remove_dir_all(entry.path()).map_err(io("removing", entry.path()))?;
            }
        }
        if let Some(r) = &latest {
            let _ = fs::remove_dir_all(self.staging_dir(r.seq));
            info!(seq = r.seq, files = r.files.len(), "lake recovered to commit");
        }
        Ok(latest)
    }

    /// The latest of the records `seqs` (ascending). Refuses a log in which a record's positions
    /// go back from its predecessor's: resuming from it would write the offsets in between again.
    fn latest_checked(&self, seqs: &[u64]) -> Result<Option<CommitRecord>> {
        let mut prev: Option<CommitRecord> = None;
        for &seq in seqs {
            let rec = self.read_record(seq)?;
            if let Some(p) = prev.as_ref().filter(|p| p.seq + 1 == seq)
                && let Some(why) = rec.checkpoint.backwards_from(&p.checkpoint)
            {
                return Err(commit_log(
                    self.record_path(seq),
                    format!(
                        "commit {seq} goes back from commit {}: {why}; resuming would write those rows twice \
                         (a livelake with the replay-commit bug wrote this log): restore the lake from a copy \
                         taken before, or rebuild it from the topics",
                        p.seq
                    ),
                ));
            }
            prev = Some(rec);
        }
        Ok(prev)
    }

    fn read_record(&self, seq: u64) -> Result<CommitRecord> {
        let path = self.record_path(seq);
        let text = fs::read(&path).map_err(io("reading", &path))?;
        serde_json::from_slice(&text).map_err(|e| commit_log(path, e.to_string()))
    }

    /// Finish publishing a committed record: rename staged files whose final file is missing.
    /// A record whose staging directory is gone was published in full (the directory goes last);
    /// its files may since have been merged by compaction, so they are not looked for.
    fn complete(&self, rec: &CommitRecord) -> Result<()> {
        let staging = self.staging_dir(rec.seq);
        if !staging.exists() {
            return Ok(());
        }
        for f in &rec.files {
            let dest = self.root.join(&f.path);
            if dest.exists() {
                continue;
            }
            let staged = staging.join(file_name(&f.path));
            if !staged.exists() {
                return Err(commit_log(
                    self.record_path(rec.seq),
                    format!("file {} is neither published nor staged", f.path),
                ));
            }
            publish(&staged, &dest)?;
            info!(file = %f.path, seq = rec.seq, "redid publish after restart");
        }
        Ok(())
    }

    /// Commit batches (each with file columns + `region`) of their tables with `checkpoint`.
    /// Returns the record. Empty input still commits (the checkpoint moves on).
    pub fn commit(
        &mut self,
        batches: &[(Table, RecordBatch)],
        checkpoint: Checkpoint,
        now_ms: i64,
    ) -> Result<CommitRecord> {
        let seq = self.next_seq;
        if let Some(why) = checkpoint.backwards_from(&self.last) {
            // A bug, never the input: refuse to record it rather than let a restart write rows twice.
            return Err(commit_log(
                self.record_path(seq),
                format!("refusing to commit positions behind commit {}: {why}", seq - 1),
            ));
        }
        let staging = self.staging_dir(seq);
        fs::create_dir_all(&staging).map_err(io("creating", &staging))?;
        // Phase 1: stage.
        let mut files = Vec::new();
        let mut n = 0;
        for (table, batch) in batches {
            if batch.num_rows() == 0 {
                continue;
            }
            for (dir, part) in split_by_partition(*table, batch)? {
                n += 1;
                let name = format!("part-{seq:010}-{}-{n:04}.parquet", self.run_id);
                let staged = staging.join(&name);
                let bytes = write_file(&staged, &part)?;
                let rel = dir.join(&name);
                files.push(FileEntry {
                    table: table.name().to_string(),
                    path: rel.to_string_lossy().into_owned(),
                    rows: part.num_rows() as u64,
                    bytes,
                });
            }
        }
        fsync_dir(&staging)?;
        failpoint::hit("after_stage");
        let state = self.write_state(seq, &checkpoint.sessions)?;
        // Phase 2: the commit point.
        let rec = CommitRecord { version: 1, seq, created_at_ms: now_ms, files, checkpoint, state };
        let path = self.record_path(seq);
        let tmp = path.with_extension("json.tmp");
        let body = serde_json::to_vec(&rec).expect("commit record serialises");
        write_synced(&tmp, &body)?;
        fs::rename(&tmp, &path).map_err(io("renaming", &tmp))?;
        fsync_dir(&self.log_dir())?;
        failpoint::hit("after_log");
        // Phase 3: publish.
        for (i, f) in rec.files.iter().enumerate() {
            publish(&staging.join(file_name(&f.path)), &self.root.join(&f.path))?;
            if i == 0 {
                failpoint::hit("mid_publish");
            }
        }
        failpoint::hit("after_publish");
        // Phase 4: done.
        fs::remove_dir_all(&staging).map_err(io("removing", &staging))?;
        self.prune_log(seq);
        self.prune_state(seq);
        self.next_seq = seq + 1;
        self.last = rec.checkpoint.positions();
        debug!(seq, files = rec.files.len(), "committed");
        Ok(rec)
    }

    fn prune_log(&self, seq: u64) {
        if seq > KEEP_RECORDS {
            let _ = fs::remove_file(self.record_path(seq - KEEP_RECORDS));
        }
    }
}

/// One `livelake run` writes a lake: `_livelake/writer.lock`. A second writer fails at once:
/// its positions would race the first's and rows would be written twice.
fn take_writer_lock(root: &Path) -> Result<fs::File> {
    Ok(lock_exclusive(
        &root.join("_livelake/writer.lock"),
        "another livelake run is writing to this lake",
        "one writer per lake",
    )?)
}

fn write_synced(path: &Path, bytes: &[u8]) -> Result<()> {
    use std::io::Write;
    let mut f = fs::File::create(path).map_err(io("creating", path))?;
    f.write_all(bytes).map_err(io("writing", path))?;
    f.sync_all().map_err(io("syncing", path))
}

fn file_name(rel: &str) -> &str {
    rel.rsplit('/').next().unwrap_or(rel)
}

fn publish(staged: &Path, dest: &Path) -> Result<()> {
    let dir = dest.parent().expect("table files live in a directory");
    fs::create_dir_all(dir).map_err(io("creating", dir))?;
    fs::rename(staged, dest).map_err(io("publishing", dest))?;
    fsync_dir(dir)
}
