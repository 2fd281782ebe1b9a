//! Replacing a directory of the lake in one step: maintenance jobs (`livelake shows import`; the
//! rollups and compaction to come) build the new directory under `_livelake/maintenance/m<seq>/`,
//! record the swap in `_livelake/maintenance/<seq>.json` (the commit point), then exchange old and new with
//! Linux `renameat2(RENAME_EXCHANGE)`. A reader listing the directory sees all the old files or
//! all the new ones, never a mix, and files it already opened stay readable. The old directory is
//! removed afterwards; then the record. One maintenance job runs at a time (an exclusive lock on
//! `_livelake/maintenance.lock`); a job that crashed is finished by the next one to open the lake.
//!
//! Each staged directory carries a marker file (`.livelake-new-<seq>`, hidden from Hive readers)
//! until its swap is done, so recovery can tell whether an exchange already happened.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use nix::fcntl::{AT_FDCWD, RenameFlags, renameat2};
use serde::{Deserialize, Serialize};
use tracing::info;

use super::failpoint;
use crate::error::{Error, Result, io};

/// One directory to replace.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
struct Swap {
    /// The directory readers see, relative to the lake root.
    target: String,
    /// The new content, relative to the lake root.
    staged: String,
    /// When set, the files of the old directory the new content replaces: any other file found
    /// there after the exchange (published meanwhile by `livelake run`) is moved into the new
    /// directory, so nothing is lost. When unset, the new content replaces all of the old.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    consumed: Option<Vec<String>>,
}

/// The commit point of one maintenance job.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct SwapRecord {
    seq: u64,
    swaps: Vec<Swap>,
}

/// The lake opened for a maintenance job (holds the maintenance lock while alive).
#[derive(Debug)]
pub struct Maintenance {
    root: PathBuf,
    seq: u64,
    consumed: BTreeMap<String, Vec<String>>,
    _lock: fs::File,
}

fn marker(seq: u64) -> String {
    format!(".livelake-new-{seq}")
}

impl Maintenance {
    /// Take the maintenance lock of the lake at `root` (failing at once if another job holds it)
    /// and finish a job that crashed.
    pub fn open(root: &Path) -> Result<Maintenance> {
        let dir = root.join("_livelake/maintenance");
        fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        let lock = super::lock_exclusive(
            &root.join("_livelake/maintenance.lock"),
            "another maintenance job (rollup, compaction or shows import) is running on this lake",
            "one at a time",
        )?;
        let mut m = Maintenance { root: root.to_path_buf(), seq: 0, consumed: BTreeMap::new(), _lock: lock };
        let mut last = 0;
        let mut orphans = Vec::new();
        for entry in fs::read_dir(&dir).map_err(io("listing", &dir))? {
            let path = entry.map_err(io("listing", &dir))?.path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
            if let Some(seq) = name.strip_prefix('m').and_then(|s| s.parse::<u64>().ok()) {
                last = last.max(seq);
                orphans.push(path);
                continue;
            }
            let Some(seq) = path.file_stem().and_then(|s| s.to_str()).and_then(|s| s.parse::<u64>().ok()) else {
                continue;
            };
            last = last.max(seq);
            if path.extension().is_some_and(|e| e == "json") {
                let text = fs::read(&path).map_err(io("reading", &path))?;
                let rec: SwapRecord = serde_json::from_slice(&text)
                    .map_err(|e| Error::CommitLog { path: path.clone(), detail: e.to_string() })?;
                m.finish(&rec)?;
                info!(seq, "finished an interrupted maintenance job");
            } else {
                // An intent that never reached its commit point: its staging goes.
                let _ = fs::remove_file(&path);
            }
        }
        // Staging of jobs that never reached their record.
        for dir in orphans {
            let _ = fs::remove_dir_all(dir);
        }
        m.seq = last + 1;
        Ok(m)
    }

    fn staging(&self, seq: u64) -> PathBuf {
        self.root.join(format!("_livelake/maintenance/m{seq:020}"))
    }

    fn record_path(&self, seq: u64) -> PathBuf {
        self.root.join(format!("_livelake/maintenance/{seq:020}.json"))
    }

    /// This job's sequence number (unique; use it in new file names).
    pub fn seq(&self) -> u64 {
        self.seq
    }

    /// A fresh directory to build the replacement for `target` (a path relative to the root).
    pub fn stage(&self, target: &str) -> Result<PathBuf> {
        let dir = self.staging(self.seq).join("new").join(target);
        fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
        fs::write(dir.join(marker(self.seq)), b"").map_err(io("writing", &dir))?;
        Ok(dir)
    }

    /// Like [`Maintenance::stage`], for a directory others may add files to while the job runs:
    /// the new content replaces only the `consumed` files (names) of the old directory.
    pub fn stage_replacing(&mut self, target: &str, consumed: Vec<String>) -> Result<PathBuf> {
        self.consumed.insert(target.to_string(), consumed);
        self.stage(target)
    }

    /// Replace every staged target (see the module docs). Consumes the job.
    pub fn commit(self, targets: &[&str]) -> Result<()> {
        let swaps = targets
            .iter()
            .map(|t| Swap {
                target: t.to_string(),
                staged: format!("_livelake/maintenance/m{:020}/new/{t}", self.seq),
                consumed: self.consumed.get(*t).cloned(),
            })
            .collect();
        let rec = SwapRecord { seq: self.seq, swaps };
        let path = self.record_path(self.seq);
        let tmp = path.with_extension("tmp");
        fs::write(&tmp, serde_json::to_vec(&rec).expect("record serialises")).map_err(io("writing", &tmp))?;
        fs::File::open(&tmp).and_then(|f| f.sync_all()).map_err(io("syncing", &tmp))?;
        fs::rename(&tmp, &path).map_err(io("renaming", &tmp))?;
        failpoint::hit("maintenance_after_record");
        self.finish(&rec)
    }

    /// Carry out a recorded job: exchange what is not exchanged yet, drop markers and the old
    /// directories, then the record.
    fn finish(&self, rec: &SwapRecord) -> Result<()> {
        let mark = marker(rec.seq);
        for s in &rec.swaps {
            let target = self.root.join(&s.target);
            let staged = self.root.join(&s.staged);
            if staged.join(&mark).exists() {
                if let Some(parent) = target.parent() {
                    fs::create_dir_all(parent).map_err(io("creating", parent))?;
                }
                let flags = if target.exists() { RenameFlags::RENAME_EXCHANGE } else { RenameFlags::empty() };
                renameat2(AT_FDCWD, &staged, AT_FDCWD, &target, flags).map_err(|e| Error::Io {
                    op: "swapping in",
                    path: target.clone(),
                    source: std::io::Error::from(e),
                })?;
                failpoint::hit("maintenance_mid_swap");
            }
            let _ = fs::remove_file(target.join(&mark));
            if let Some(consumed) = &s.consumed {
                // `staged` now holds the old directory: keep what the job did not replace.
                move_others(&staged, &target, consumed)?;
            }
        }
        let staging = self.staging(rec.seq);
        if staging.exists() {
            fs::remove_dir_all(&staging).map_err(io("removing", &staging))?;
        }
        let path = self.record_path(rec.seq);
        fs::remove_file(&path).map_err(io("removing", &path))?;
        Ok(())
    }
}

/// Move the files of `old` that are not `consumed` (nor already in `new`) into `new`.
fn move_others(old: &Path, new: &Path, consumed: &[String]) -> Result<()> {
    let Ok(entries) = fs::read_dir(old) else { return Ok(()) };
    for entry in entries {
        let path = entry.map_err(io("listing", old))?.path();
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else { continue };
        if !path.is_file() || name.starts_with(".livelake-new-") || consumed.iter().any(|c| c == name) {
            continue;
        }
        let dest = new.join(name);
        if !dest.exists() {
            fs::rename(&path, &dest).map_err(io("keeping", &dest))?;
            info!(file = %dest.display(), "kept a file published during maintenance");
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn names(dir: &Path) -> Vec<String> {
        let mut v: Vec<String> =
            fs::read_dir(dir).unwrap().flatten().map(|e| e.file_name().to_string_lossy().into_owned()).collect();
        v.sort();
        v
    }

    #[test]
    fn a_file_published_during_the_job_survives_the_swap() {
        let root = tempfile::tempdir().unwrap();
        let target = root.path().join("t/hour=01");
        fs::create_dir_all(&target).unwrap();
        for f in ["a.parquet", "b.parquet"] {
            fs::write(target.join(f), f).unwrap();
        }
        let mut job = Maintenance::open(root.path()).unwrap();
        let staged = job.stage_replacing("t/hour=01", vec!["a.parquet".into(), "b.parquet".into()]).unwrap();
        fs::write(staged.join("merged.parquet"), "a+b").unwrap();
        // `livelake run` publishes a file into the partition while the job runs.
        fs::write(target.join("late.parquet"), "late").unwrap();
        job.commit(&["t/hour=01"]).unwrap();
        assert_eq!(names(&target), ["late.parquet", "merged.parquet"]);
        assert_eq!(fs::read_to_string(target.join("late.parquet")).unwrap(), "late");
        assert_eq!(names(&root.path().join("_livelake/maintenance")), Vec::<String>::new(), "nothing left behind");
    }
}
