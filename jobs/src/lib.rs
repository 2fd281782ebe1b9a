//! Every metric definition of livelake and every batch job over the lake.
//!
//! - The metric rules: the SQL in `jobs/sql/*.sql` (where a reviewer reads it as SQL; this crate
//!   registers inputs, runs it and conforms the output to the lake schema of `docs/lake.md`), and
//!   the session rules as plain functions over events ([`rules`]). The streaming engine
//!   (`livelake-pipeline`) and the batch jobs here both call them.
//! - The lake on disk ([`store`]): Parquet writing, the Hive layout, locks, atomic swaps.
//! - The batch jobs: [`rollup`], [`compact`]ion, the [`shows`] import, the [`report`], and the
//!   nightly [`schedule`].
//!
//! Depends on `livelake-schemas` only: no Kafka, no partitions, no run loop.
#![warn(missing_docs)]

mod baselines;
mod catalog;
pub mod clock;
pub mod compact;
mod conform;
mod error;
mod keys;
mod lake;
mod period;
pub mod progress;
mod query;
pub mod report;
pub mod rollup;
pub mod rules;
pub mod schedule;
pub mod shows;
pub mod store;
mod window;
mod workdir;

pub use baselines::{BASELINES_SQL, baselines};
pub use catalog::{PartitionStats, TableInfo, describe};
pub use conform::conform;
pub use error::{Error, Result, io};
pub use lake::{Spill, lake_session, level_type, register_lake, register_lake_as_of, set_memory_limit, sql_schema};
pub use period::{
    KeyedEvents, PERIOD_SQL, PeriodInputs, PeriodJob, PeriodOutput, PeriodPlans, RETENTION_SQL, period_metrics,
};
pub use query::{QueryError, run_query};
pub use window::{
    ExitRow, HistoryRow, ProbeRow, STREAM_MINUTE_SQL, SUSPECTS_SQL, Suspect, WINDOW_STARTS_SQL, WindowInputs,
    WindowJob, WindowOutput, window_columns, window_input_schema, window_projection, window_start, with_windows,
};

/// A hash map for lookups made once per event with keys that come from events (session ids,
/// event keys): keyed and randomly seeded per map like std's, so crafted keys cannot flood a
/// bucket, and several times cheaper than SipHash.
pub type FastMap<K, V> = std::collections::HashMap<K, V, ahash::RandomState>;

/// SQL of the demo's headline figures.
pub const HEADLINES_SQL: &str = include_str!("../sql/headlines.sql");

/// Headline figures of the lake at `root`, as a printable table.
pub async fn headlines(root: &store::delta::LakeUrl) -> Result<String> {
    let err = |source| Error::DataFusion { job: "headlines", source };
    let ctx = lake_session();
    let tables = register_lake(&ctx, root).await?;
    if !tables.contains(&"stream_minute") {
        return Ok("(no stream_minute rows yet)".to_string());
    }
    let batches = ctx.sql(HEADLINES_SQL).await.map_err(err)?.collect().await.map_err(err)?;
    arrow::util::pretty::pretty_format_batches(&batches)
        .map(|t| t.to_string())
        .map_err(|e| Error::Schema { job: "headlines", detail: e.to_string() })
}
