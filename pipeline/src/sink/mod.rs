//! The lake sink: Hive-partitioned Parquet files published by a two-phase commit (stage, record
//! intent in the commit log, publish by rename, done) so readers never see half-written files and
//! a restart after a crash at any point neither loses nor duplicates rows.

mod commit;

pub use commit::{CommitRecord, FileEntry, Lake};
