//! The lake sink: every table a Delta table, a streaming commit exactly once through the Delta
//! logs (see [`lake`]): files, then the commit record with the engine checkpoint, then one Delta
//! commit per table carrying the source positions as application transactions.

mod convert;
mod lake;

pub use convert::{Converted, convert};
pub use lake::{COMMIT_APP, CommitRecord, FileEntry, Lake, partition_app};
