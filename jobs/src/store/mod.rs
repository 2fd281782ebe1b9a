//! The lake as every job writes it: Delta tables ([`delta`]) of Parquet files with one set of
//! writer settings in the Hive layout (`region=/date=/hour=`), and the locks that keep one
//! writer and one maintenance job per lake on local disk (docs/lake.md). The streaming sink
//! (`livelake run`) and the batch jobs both use it.

pub mod delta;
pub mod failpoint;
mod layout;
mod parquet;
mod stats;

use std::fs;
use std::path::Path;

pub use layout::{partition_dir, safe_region, split_by_partition, time_column};
pub use parquet::{ROW_GROUP_ROWS, SMALL_FILE_ROWS, writer_properties, writer_properties_for};
pub use stats::{FileStats, file_stats};

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

/// The lock of the maintenance jobs of a lake on local disk (`_livelake/maintenance.lock`):
/// one rollup, compaction or shows import at a time (two compactions of the same files would
/// both commit, and rows would be doubled). `None` for a lake on object storage: run its
/// maintenance from one scheduler.
pub fn maintenance_lock(lake: &delta::LakeUrl) -> Result<Option<fs::File>> {
    let Some(dir) = lake.local_dir() else { return Ok(None) };
    let dir = dir.join("_livelake");
    fs::create_dir_all(&dir).map_err(io("creating", &dir))?;
    lock_exclusive(
        &dir.join("maintenance.lock"),
        "another maintenance job (rollup, compaction, shows import) is running on this lake",
        "one at a time",
    )
    .map(Some)
}
