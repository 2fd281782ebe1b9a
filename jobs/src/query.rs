//! Ad hoc SQL over the lake, read-only: statements that write or change the catalog are refused,
//! and errors come back as one line that says what to fix.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use std::sync::Arc;

use datafusion::execution::TaskContext;
use datafusion::execution::context::SQLOptions;
use datafusion::physical_plan::display::DisplayableExecutionPlan;
use datafusion::physical_plan::{ExecutionPlan, collect};
use datafusion::prelude::SessionContext;
use livelake_schemas::Table;

/// Why a query did not run.
#[derive(Debug, thiserror::Error)]
pub enum QueryError {
    /// The statement would write or change the catalog.
    #[error("read-only: `{0}` statements are not allowed here (livelake sql only reads the lake)")]
    ReadOnly(String),
    /// Parsing, planning or execution failed.
    #[error("{0}")]
    Failed(String),
}

/// Run `sql` on `ctx` read-only and collect the result (with its schema, for empty results).
pub async fn run_query(ctx: &SessionContext, sql: &str) -> Result<(SchemaRef, Vec<RecordBatch>), QueryError> {
    let options = SQLOptions::new().with_allow_ddl(false).with_allow_dml(false).with_allow_statements(false);
    let df = ctx.sql_with_options(sql, options).await.map_err(|e| explain(sql, e))?;
    let schema = df.schema().inner().clone();
    let batches = df.collect().await.map_err(|e| explain(sql, e))?;
    Ok((schema, batches))
}

/// Run `plan` (query `name` of a job) and collect its rows; its time and rows at debug level,
/// and the plan with each operator's metrics (rows, time) at trace level
/// (`RUST_LOG=livelake_jobs::query=trace`): where a job's time went.
pub(crate) async fn run_plan(
    name: &'static str,
    plan: Arc<dyn ExecutionPlan>,
    task_ctx: Arc<TaskContext>,
) -> crate::Result<Vec<RecordBatch>> {
    let t0 = std::time::Instant::now();
    let rows =
        collect(plan.clone(), task_ctx).await.map_err(|source| crate::Error::DataFusion { job: name, source })?;
    let n: usize = rows.iter().map(RecordBatch::num_rows).sum();
    tracing::debug!(ms = t0.elapsed().as_millis(), query = name, rows = n, "query ran");
    if tracing::enabled!(tracing::Level::TRACE) {
        let shown = DisplayableExecutionPlan::with_metrics(plan.as_ref());
        tracing::trace!(query = name, "plan with metrics\n{}", shown.indent(true));
    }
    Ok(rows)
}

/// One line for a DataFusion error: the refused kind of statement, an unknown table with the
/// tables there are, or the error's first line.
fn explain(sql: &str, e: datafusion::error::DataFusionError) -> QueryError {
    let text = e.strip_backtrace();
    let first = text.lines().next().unwrap_or("query failed").trim();
    for kind in ["DDL", "DML", "Statement"] {
        if first.contains(&format!("{kind} not supported")) {
            let verb = sql.split_whitespace().next().unwrap_or(kind).to_uppercase();
            return QueryError::ReadOnly(verb);
        }
    }
    if let Some(rest) = first.split("table '").nth(1)
        && first.contains("not found")
    {
        let name = rest.split('\'').next().unwrap_or(rest).rsplit('.').next().unwrap_or(rest);
        let known: Vec<&str> = Table::ALL.iter().map(|t| t.name()).collect();
        return QueryError::Failed(format!("unknown table {name} (the lake has: {})", known.join(", ")));
    }
    let first = first.strip_prefix("Error during planning: ").unwrap_or(first);
    let first = first.strip_prefix("SQL error: ").unwrap_or(first);
    if let Some(parse) = first.strip_prefix("ParserError(\"").and_then(|r| r.strip_suffix("\")")) {
        return QueryError::Failed(format!("syntax error: {parse}"));
    }
    if let Some(rest) = first.strip_prefix("Schema error: No field named ") {
        return QueryError::Failed(format!("unknown column {}", rest.trim_end_matches('.')));
    }
    QueryError::Failed(first.to_string())
}
