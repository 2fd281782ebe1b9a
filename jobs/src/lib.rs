//! The DataFusion jobs of livelake. Each metric's SQL lives in `jobs/sql/*.sql`, where a reviewer
//! reads it as SQL; this crate registers inputs, runs the SQL and conforms the output to the lake
//! schema of `docs/lake.md`.
#![warn(missing_docs)]

mod baselines;
mod catalog;
mod conform;
mod lake;
mod period;
mod query;
mod window;

pub use baselines::{BASELINES_SQL, baselines};
pub use catalog::{CatalogError, PartitionStats, TableInfo, describe, parquet_files};
pub use conform::conform;
pub use lake::{lake_session, level_type, register_lake, sql_schema};
pub use period::{PERIOD_SQL, PeriodInputs, PeriodJob, PeriodOutput, RETENTION_SQL, period_metrics};
pub use query::{QueryError, run_query};
pub use window::{
    ExitRow, HistoryRow, ProbeRow, STREAM_MINUTE_SQL, SUSPECTS_SQL, Suspect, WindowInputs, WindowOutput,
    window_input_schema, window_metrics,
};

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

/// SQL of the demo's headline figures.
pub const HEADLINES_SQL: &str = include_str!("../sql/headlines.sql");

/// Headline figures of the lake at `root`, as a printable table.
pub async fn headlines(root: &std::path::Path) -> Result<String> {
    let err = |source| JobError::DataFusion { job: "headlines", source };
    let ctx = lake_session();
    let tables = register_lake(&ctx, root).await?;
    if !tables.contains(&"stream_minute") {
        return Ok("(no stream_minute rows yet)".to_string());
    }
    let batches = ctx.sql(HEADLINES_SQL).await.map_err(err)?.collect().await.map_err(err)?;
    arrow::util::pretty::pretty_format_batches(&batches)
        .map(|t| t.to_string())
        .map_err(|e| JobError::Schema { job: "headlines", detail: e.to_string() })
}
