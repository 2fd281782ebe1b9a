//! The pipeline's error type: where it happened and whether retrying can help.

use std::path::PathBuf;

/// Errors of the pipeline library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
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
    /// A DataFusion job failed.
    #[error(transparent)]
    Job(#[from] livelake_jobs::JobError),
    /// Kafka (retryable unless the configuration is wrong).
    #[error("kafka {context}: {source}")]
    Kafka {
        /// What was being done (topic, partition…).
        context: String,
        /// The cause.
        source: rdkafka::error::KafkaError,
    },
    /// The lake's commit log is damaged or inconsistent.
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
    /// Configuration is invalid.
    #[error("config: {0}")]
    Config(String),
}

/// Result alias of the pipeline library.
pub type Result<T> = std::result::Result<T, Error>;

/// Attach a path to an I/O error.
pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let path = path.into();
    move |source| Error::Io { op, path, source }
}
