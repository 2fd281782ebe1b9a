//! The per-period job of the nightly rollup: whole shows' events (late ones included, duplicates
//! removed), their views' ends and the suspect sessions → `stream_daily`, `show_summary` and
//! `show_sources` rows by `jobs/sql/period.sql`.

use std::sync::Arc;

use arrow::array::{BooleanArray, RecordBatch, StringArray};
use arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use datafusion::prelude::{SessionConfig, SessionContext};
use livelake_schemas::{Table, ts_type};

use crate::window::{batch, field, register, strings, suspects_batch, times};
use crate::{ExitRow, JobError, Result, Suspect, conform, window_input_schema};

/// The SQL of the per-period tables.
pub const PERIOD_SQL: &str = include_str!("../sql/period.sql");

const JOB: &str = "period";

/// Everything the period job reads: whole shows.
#[derive(Debug, Default)]
pub struct PeriodInputs {
    /// Player events ([`window_input_schema`]), deduplicated.
    pub player: Vec<RecordBatch>,
    /// Commerce events ([`window_input_schema`]), deduplicated.
    pub commerce: Vec<RecordBatch>,
    /// Every view's end.
    pub exits: Vec<ExitRow>,
    /// The suspect sessions.
    pub suspects: Vec<Suspect>,
}

/// Rows of one table, each with its slice and period: `stream_daily` rows carry `region` and
/// `date` (utf8 `YYYY-MM-DD`); `show_summary` rows carry `region` (a region or `ALL`);
/// `show_sources` rows carry `source`. All rows carry `stream_id`, `show_start` and `show_end`.
#[derive(Debug, Default)]
pub struct PeriodOutput {
    /// `stream_daily` columns + `region`, `date`.
    pub daily: Vec<RecordBatch>,
    /// `show_summary` columns.
    pub show: Vec<RecordBatch>,
    /// `show_sources` columns + `show_start`.
    pub sources: Vec<RecordBatch>,
}

fn exits_batch(rows: &[ExitRow]) -> Result<RecordBatch> {
    batch(
        vec![
            field("stream_id", DataType::Utf8),
            field("region", DataType::Utf8),
            field("session_id", DataType::Utf8),
            field("end_ts", ts_type()),
            field("after_stall", DataType::Boolean),
        ],
        vec![
            strings(rows.iter().map(|r| r.stream_id.as_str())),
            strings(rows.iter().map(|r| r.region.as_str())),
            strings(rows.iter().map(|r| r.session_id.as_str())),
            times(rows.iter().map(|r| r.end_ts)),
            Arc::new(rows.iter().map(|r| Some(r.after_stall)).collect::<BooleanArray>()),
        ],
    )
}

/// `base`'s columns, then `extra` (name, type), as the schema a table's rows are conformed to.
fn with_columns(base: SchemaRef, extra: &[(&str, DataType)]) -> SchemaRef {
    let mut fields: Vec<Field> = base.fields().iter().map(|f| f.as_ref().clone()).collect();
    fields.extend(extra.iter().map(|(n, t)| Field::new(*n, t.clone(), false)));
    Arc::new(Schema::new(fields))
}

/// Rename the SQL's `slice` / `period` to the table's names and conform to `target`.
fn shape(out: &[RecordBatch], slice_as: &str, period_as: &str, target: &SchemaRef) -> Result<Vec<RecordBatch>> {
    out.iter()
        .filter(|b| b.num_rows() > 0)
        .map(|b| {
            let fields: Vec<Field> = b
                .schema()
                .fields()
                .iter()
                .map(|f| match f.name().as_str() {
                    "slice" => f.as_ref().clone().with_name(slice_as),
                    "period" => f.as_ref().clone().with_name(period_as),
                    _ => f.as_ref().clone(),
                })
                .collect();
            let renamed = RecordBatch::try_new(Arc::new(Schema::new(fields)), b.columns().to_vec())
                .map_err(|e| JobError::Schema { job: JOB, detail: e.to_string() })?;
            conform(JOB, &renamed, target)
        })
        .collect()
}

/// Run the period SQL with `scope.kind` = `kind`.
async fn run_scope(ctx: &SessionContext, kind: &str) -> Result<Vec<RecordBatch>> {
    let df_err = |source| JobError::DataFusion { job: JOB, source };
    let scope = batch(vec![field("kind", DataType::Utf8)], vec![Arc::new(StringArray::from(vec![kind]))])?;
    ctx.deregister_table("scope").map_err(df_err)?;
    register(ctx, "scope", scope.schema(), vec![scope])?;
    ctx.sql(PERIOD_SQL).await.map_err(df_err)?.collect().await.map_err(df_err)
}

/// Run the period job over whole shows: the three rollup tables' rows.
pub async fn period_metrics(inputs: PeriodInputs) -> Result<PeriodOutput> {
    // One partition: sums and means of floats then add up in one fixed order, so a re-run gives
    // bit-identical files.
    let ctx = SessionContext::new_with_config(SessionConfig::new().with_target_partitions(1));
    register(&ctx, "player", window_input_schema(Table::PlayerEvents), inputs.player)?;
    register(&ctx, "commerce", window_input_schema(Table::CommerceEvents), inputs.commerce)?;
    let exits = exits_batch(&inputs.exits)?;
    register(&ctx, "exits", exits.schema(), vec![exits])?;
    let suspects = suspects_batch(&inputs.suspects)?;
    register(&ctx, "suspects", suspects.schema(), vec![suspects])?;

    let daily = run_scope(&ctx, "daily").await?;
    let show = run_scope(&ctx, "show").await?;
    let sources = run_scope(&ctx, "sources").await?;
    Ok(PeriodOutput {
        daily: shape(
            &daily,
            "region",
            "date",
            &with_columns(Table::StreamDaily.schema(), &[("region", DataType::Utf8), ("date", DataType::Utf8)]),
        )?,
        show: shape(&show, "region", "period", &Table::ShowSummary.schema())?,
        sources: shape(
            &sources,
            "source",
            "period",
            &with_columns(Table::ShowSources.schema(), &[("show_start", ts_type())]),
        )?,
    })
}
