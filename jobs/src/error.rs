//! The jobs' error type: which job or file, and what went wrong.

use std::path::PathBuf;

/// Errors of the metric jobs and the batch jobs over the lake.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// DataFusion failed to plan or run a job.
    #[error("{job}: {source}")]
    DataFusion {
        /// Which job.
        job: &'static str,
        /// The cause.
        source: datafusion::error::DataFusionError,
    },
    /// The job's output does not fit the lake schema.
    #[error("{job}: output does not match the lake schema: {detail}")]
    Schema {
        /// Which job.
        job: &'static str,
        /// What is wrong.
        detail: String,
    },
    /// Reading or writing a file of the lake.
    #[error("{op} {path}: {source}")]
    Io {
        /// What was being done.
        op: &'static str,
        /// Which file or directory.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// Writing Parquet.
    #[error("writing parquet {path}: {source}")]
    Parquet {
        /// Which file.
        path: PathBuf,
        /// The cause.
        source: parquet::errors::ParquetError,
    },
    /// Arrow failed (an internal invariant: batches we built did not fit their schema).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A record of the lake (commit log, maintenance record) is damaged or inconsistent.
    #[error("commit log {path}: {detail}")]
    CommitLog {
        /// The record.
        path: PathBuf,
        /// What is wrong.
        detail: String,
    },
    /// Another process holds the lake (a second writer would write rows twice).
    #[error("lake {path}: {detail}")]
    Busy {
        /// The lock file.
        path: PathBuf,
        /// Who holds it.
        detail: String,
    },
    /// A Delta Lake operation on a table failed (load, create, commit, read the log).
    #[error("delta table {table}: {op}: {source}")]
    Delta {
        /// Which table.
        table: &'static str,
        /// What was being done.
        op: &'static str,
        /// The cause.
        source: Box<deltalake::DeltaTableError>,
    },
    /// Reading or writing an object of a lake on object storage (or through its object store).
    #[error("{op} {path}: {source}")]
    ObjectStore {
        /// What was being done.
        op: &'static str,
        /// Which object (its URL).
        path: String,
        /// The cause.
        source: Box<deltalake::ObjectStoreError>,
    },
    /// A request or input is invalid (a day, a stream, a plan file).
    #[error("config: {0}")]
    Config(String),
}

impl Error {
    /// Whether a DataFusion plan failed because the memory pool of [`crate::set_memory_limit`] was
    /// full: an operator that cannot spill asked for more than the other plans running beside it
    /// left. The same plan may fit when it runs alone.
    pub fn is_memory_exhausted(&self) -> bool {
        matches!(
            self,
            Error::DataFusion { source, .. }
                if matches!(source.find_root(), datafusion::error::DataFusionError::ResourcesExhausted(_))
        )
    }
}

/// Result alias of the jobs.
pub type Result<T> = std::result::Result<T, Error>;

/// Attach a path to an I/O error.
pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
