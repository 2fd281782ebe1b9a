//! The lake sink: Hive-partitioned Parquet files published by a two-phase commit (stage, record
//! intent in the commit log, publish by rename, done) so readers never see half-written files and
//! a restart after a crash at any point neither loses nor duplicates rows.

mod commit;
pub mod failpoint;
mod parquet;
mod partitioning;
mod swap;

pub use commit::{CommitRecord, FileEntry, Lake, unfinished_files};
pub use parquet::{ROW_GROUP_ROWS, read_file, write_file, writer_properties};
pub use partitioning::{partition_dir, safe_region, split_by_partition, time_column};
pub use swap::Maintenance;
