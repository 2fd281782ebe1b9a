//! The DataFusion jobs of livelake. Each metric's SQL lives in `jobs/sql/*.sql`, where a reviewer
//! reads it as SQL; this crate registers inputs, runs the SQL and conforms the output to the lake
//! schema of `shared/LAKE.md`.
#![warn(missing_docs)]

mod conform;
mod window;

pub use conform::conform;
pub use window::{STREAM_MINUTE_SQL, stream_minute, window_input_schema};

/// Errors of the jobs.
#[derive(Debug, thiserror::Error)]
pub enum JobError {
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
}

/// Result alias of the jobs.
pub type Result<T> = std::result::Result<T, JobError>;
