//! The report's comparisons (`jobs/sql/baselines.sql`): medians of earlier shows' headline
//! figures — the same seller's previous five, and same-category shows of the last 30 days.

use arrow::array::RecordBatch;
use datafusion::prelude::SessionContext;
use datafusion::scalar::ScalarValue;

use crate::{Error, Result};

/// The SQL of the baselines.
pub const BASELINES_SQL: &str = include_str!("../sql/baselines.sql");

/// Baseline rows (`seller_previous_5`, `same_category_30d`) for the show `stream` of `seller`
/// in `category` that started at `start_ms`, over a session with the lake registered
/// ([`crate::register_lake`]). A missing seller or category gives a baseline of 0 shows.
pub async fn baselines(
    ctx: &SessionContext,
    stream: &str,
    seller: Option<&str>,
    category: Option<&str>,
    start_ms: i64,
) -> Result<Vec<RecordBatch>> {
    let err = |source| Error::DataFusion { job: "baselines", source };
    let text = |v: Option<&str>| ScalarValue::Utf8(v.map(String::from));
    let params = vec![
        text(Some(stream)),
        text(seller),
        text(category),
        ScalarValue::TimestampMillisecond(Some(start_ms), Some("UTC".into())),
    ];
    ctx.sql(BASELINES_SQL).await.map_err(err)?.with_param_values(params).map_err(err)?.collect().await.map_err(err)
}
