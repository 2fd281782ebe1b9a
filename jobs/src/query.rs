//! Ad hoc SQL over the lake, read-only: statements that write or change the catalog are refused,
//! and errors come back as one line that says what to fix.

use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use datafusion::execution::context::SQLOptions;
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
