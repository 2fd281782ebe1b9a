//! Temporary directories of the batch jobs that outlive no killed process for long: each is
//! locked while its job runs, and the next job removes those whose lock nobody holds.

use std::path::Path;

use tracing::{info, warn};

use crate::error::Result;

/// What a job keeps in a work directory, naming it `livelake-<kind>-…`: `rollup` — a rollup's
/// rows split by group of shows; `spill` — the DataFusion plans' spill files
/// ([`crate::set_memory_limit`]).
const KINDS: [&str; 2] = ["rollup", "spill"];
/// The file a running job keeps locked in its work directory.
const WORK_LOCK: &str = "owner.lock";

/// A job's temporary directory, locked (`owner.lock`) while the job runs and removed when this
/// is dropped. The lock goes with the process, so a directory whose lock is free belongs to a job
/// that was killed (kill -9, out of memory) and never removed it: [`WorkDir::new`] removes those
/// first.
#[derive(Debug)]
pub(crate) struct WorkDir {
    dir: tempfile::TempDir,
    _lock: std::fs::File,
}

impl WorkDir {
    /// Remove the killed jobs' directories in `parent`, then make and lock this one's,
    /// `livelake-<kind>-…` (`kind` one of [`KINDS`]).
    pub(crate) fn new(parent: &Path, kind: &'static str) -> Result<WorkDir> {
        debug_assert!(KINDS.contains(&kind), "{kind} is swept");
        sweep_killed_work_dirs(parent);
        let dir = tempfile::Builder::new()
            .prefix(&format!("livelake-{kind}-"))
            .tempdir_in(parent)
            .map_err(crate::io("creating a temporary directory in", parent))?;
        // Locked under another name first, so that no sweep ever finds `owner.lock` unlocked
        // while this job lives (the lock follows the file through the rename).
        let (fresh, path) = (dir.path().join(format!("{WORK_LOCK}.new")), dir.path().join(WORK_LOCK));
        let lock = std::fs::File::create(&fresh).map_err(crate::io("creating", &fresh))?;
        lock.try_lock().map_err(|e| crate::io("locking", &fresh)(e.into()))?;
        std::fs::rename(&fresh, &path).map_err(crate::io("renaming", &fresh))?;
        Ok(WorkDir { dir, _lock: lock })
    }

    pub(crate) fn path(&self) -> &Path {
        self.dir.path()
    }
}

/// Remove every job's directory in `parent` whose lock no process holds. One without a lock
/// file is a job's that has not locked it yet, or an older release's: left alone unless it is a
/// day old.
fn sweep_killed_work_dirs(parent: &Path) {
    let Ok(entries) = std::fs::read_dir(parent) else { return };
    for e in entries.flatten() {
        let path = e.path();
        let name = e.file_name().to_string_lossy().into_owned();
        if !KINDS.iter().any(|k| name.starts_with(&format!("livelake-{k}-"))) || !path.is_dir() {
            continue;
        }
        let abandoned = match std::fs::File::open(path.join(WORK_LOCK)) {
            Ok(f) => f.try_lock().is_ok(),
            Err(_) => e
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age > std::time::Duration::from_secs(24 * 3600))),
        };
        if abandoned {
            match std::fs::remove_dir_all(&path) {
                Ok(()) => info!(dir = %path.display(), "removed the temporary directory of a job that was killed"),
                // Another job's sweep removed it first.
                Err(err) if err.kind() == std::io::ErrorKind::NotFound => {}
                Err(err) => {
                    warn!(dir = %path.display(), error = %err, "could not remove a killed job's temporary directory")
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{WORK_LOCK, WorkDir};

    #[test]
    fn a_job_removes_the_work_dirs_of_killed_jobs_and_keeps_the_running_ones() {
        let parent = tempfile::tempdir().unwrap();
        let running = WorkDir::new(parent.path(), "rollup").unwrap();
        std::fs::write(running.path().join("player_events-0.arrow"), b"rows").unwrap();
        // Killed jobs': their lock files, held by nobody.
        let killed = [parent.path().join("livelake-rollup-killed"), parent.path().join("livelake-spill-killed")];
        for k in &killed {
            std::fs::create_dir(k).unwrap();
            std::fs::write(k.join(WORK_LOCK), b"").unwrap();
            std::fs::write(k.join("rows.arrow"), b"rows").unwrap();
        }
        // One not locked yet, and another program's.
        let unlocked = parent.path().join("livelake-rollup-starting");
        std::fs::create_dir(&unlocked).unwrap();
        let other = parent.path().join("other-killed");
        std::fs::create_dir(&other).unwrap();
        std::fs::write(other.join(WORK_LOCK), b"").unwrap();

        let next = WorkDir::new(parent.path(), "spill").unwrap();
        assert!(killed.iter().all(|k| !k.exists()), "the killed jobs' directories are removed");
        assert!(running.path().join("player_events-0.arrow").exists(), "the running job's stays");
        assert!(unlocked.exists() && other.exists());
        let gone = next.path().to_path_buf();
        assert!(gone.file_name().unwrap().to_string_lossy().starts_with("livelake-spill-"));
        drop(next);
        assert!(!gone.exists(), "a job removes its own directory when it ends");
    }
}
