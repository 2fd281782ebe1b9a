//! Make a job's output exactly the lake schema: columns by name, cast to the declared types.

use arrow::array::RecordBatch;
use arrow::compute::{CastOptions, cast_with_options};
use arrow::datatypes::SchemaRef;

use crate::{Error, Result};

/// Select `target`'s columns from `batch` by name and cast each to its declared type. A missing
/// column or a cast that would lose data (overflow, bad decimal) is an error, never a NULL.
pub fn conform(job: &'static str, batch: &RecordBatch, target: &SchemaRef) -> Result<RecordBatch> {
    let err = |detail: String| Error::Schema { job, detail };
    let opts = CastOptions { safe: false, ..Default::default() };
    let mut cols = Vec::with_capacity(target.fields().len());
    for f in target.fields() {
        let src = batch.column_by_name(f.name()).ok_or_else(|| err(format!("missing column {}", f.name())))?;
        let col = if src.data_type() == f.data_type() {
            src.clone()
        } else {
            cast_with_options(src, f.data_type(), &opts).map_err(|e| err(format!("column {}: {e}", f.name())))?
        };
        if !f.is_nullable() && col.null_count() > 0 {
            return Err(err(format!("column {} has NULLs", f.name())));
        }
        cols.push(col);
    }
    RecordBatch::try_new(target.clone(), cols).map_err(|e| err(e.to_string()))
}
