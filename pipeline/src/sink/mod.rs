//! The lake sink: every table a Delta table, a streaming commit exactly once through the Delta
//! logs (see [`lake`]): files, then a commit record per slot (partition number) with its share of
//! the engine checkpoint, then one Delta commit per table carrying the slots' sequence numbers
//! and the source positions as application transactions.

mod convert;
mod lake;

pub use convert::{Converted, convert};
pub use lake::{COMMIT_APP, CommitRecord, FileEntry, Lake, SlotCommit, partition_app, slot_app};
