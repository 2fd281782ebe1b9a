//! The per-window job: events of final windows → `stream_minute` rows, by the SQL in
//! `jobs/sql/stream_minute.sql`.

use std::sync::Arc;

use arrow::array::RecordBatch;
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::datasource::MemTable;
use datafusion::prelude::SessionContext;
use livelake_schemas::{Table, batch_schema, ts_type};

use crate::{JobError, Result, conform};

/// The SQL of `stream_minute`.
pub const STREAM_MINUTE_SQL: &str = include_str!("../sql/stream_minute.sql");

const JOB: &str = "stream_minute";

/// Schema of the window job's inputs: the raw table's batch schema (with `region`) plus
/// `window_start` and `window_end`.
pub fn window_input_schema(table: Table) -> SchemaRef {
    let base = batch_schema(table);
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("window_start", ts_type(), false));
    fields.push(Field::new("window_end", ts_type(), false));
    Arc::new(Schema::new(fields))
}

/// Output schema: `stream_minute`'s file schema plus the `region` partition column.
fn output_schema() -> SchemaRef {
    let base = Table::StreamMinute.schema();
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.push(Field::new("region", DataType::Utf8, false));
    Arc::new(Schema::new(fields))
}

/// Compute `stream_minute` rows (with a trailing `region` column) from the events of final
/// windows. Inputs must have [`window_input_schema`].
pub async fn stream_minute(player: Vec<RecordBatch>, commerce: Vec<RecordBatch>) -> Result<Vec<RecordBatch>> {
    let df_err = |source| JobError::DataFusion { job: JOB, source };
    let ctx = SessionContext::new();
    let p = MemTable::try_new(window_input_schema(Table::PlayerEvents), vec![player]).map_err(df_err)?;
    let c = MemTable::try_new(window_input_schema(Table::CommerceEvents), vec![commerce]).map_err(df_err)?;
    ctx.register_table("player", Arc::new(p)).map_err(df_err)?;
    ctx.register_table("commerce", Arc::new(c)).map_err(df_err)?;
    let out = ctx.sql(STREAM_MINUTE_SQL).await.map_err(df_err)?.collect().await.map_err(df_err)?;
    let target = output_schema();
    out.iter().filter(|b| b.num_rows() > 0).map(|b| conform(JOB, b, &target)).collect()
}
