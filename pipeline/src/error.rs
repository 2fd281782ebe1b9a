//! The pipeline's error type: where it happened and whether retrying can help.

use std::fmt;
use std::path::PathBuf;

/// Errors of the pipeline library.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// A file, record or lock of the lake, or a job (DataFusion, Parquet, Arrow): the error
    /// type of `livelake_jobs`, which the stream shares for everything on disk.
    #[error(transparent)]
    Lake(#[from] livelake_jobs::Error),
    /// Kafka (retryable unless the configuration is wrong).
    #[error("kafka {context}: {source}")]
    Kafka {
        /// What was being done (topic, partition…).
        context: String,
        /// The cause, as the Kafka client reported it.
        source: KafkaFailure,
    },
    /// Configuration is invalid.
    #[error("config: {0}")]
    Config(String),
}

impl From<arrow::error::ArrowError> for Error {
    fn from(e: arrow::error::ArrowError) -> Self {
        Error::Lake(e.into())
    }
}

/// Result alias of the pipeline library.
pub type Result<T> = std::result::Result<T, Error>;

/// Attach a path to an I/O error.
pub fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> Error {
    let f = livelake_jobs::io(op, path);
    move |source| Error::Lake(f(source))
}

/// A damaged or inconsistent record of the lake's commit log.
pub fn commit_log(path: impl Into<PathBuf>, detail: impl Into<String>) -> Error {
    Error::Lake(livelake_jobs::Error::CommitLog { path: path.into(), detail: detail.into() })
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
