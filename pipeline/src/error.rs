//! The pipeline's error type: where it happened and whether retrying can help.

use std::fmt;
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
    /// Arrow failed (an internal invariant: batches we built did not fit their schema).
    #[error("arrow: {0}")]
    Arrow(#[from] arrow::error::ArrowError),
    /// A job or a lake file operation of `livelake_jobs` failed (DataFusion, Parquet, a lock).
    #[error(transparent)]
    Job(#[from] livelake_jobs::Error),
    /// Kafka (retryable unless the configuration is wrong).
    #[error("kafka {context}: {source}")]
    Kafka {
        /// What was being done (topic, partition…).
        context: String,
        /// The cause, as the Kafka client reported it.
        source: KafkaFailure,
    },
    /// The lake's commit log is damaged or inconsistent.
    #[error("commit log {path}: {detail}")]
    CommitLog {
        /// The record.
        path: PathBuf,
        /// What is wrong.
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

/// What the Kafka client reported. The client's own error type stays inside `source/` and
/// `kafka/`; this keeps its message and its cause chain.
#[derive(Debug)]
pub struct KafkaFailure(Box<dyn std::error::Error + Send + Sync>);

impl KafkaFailure {
    /// Wrap a Kafka client error.
    pub(crate) fn new(e: impl std::error::Error + Send + Sync + 'static) -> Self {
        KafkaFailure(Box::new(e))
    }
}

impl fmt::Display for KafkaFailure {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.0.fmt(f)
    }
}

impl std::error::Error for KafkaFailure {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        self.0.source()
    }
}
