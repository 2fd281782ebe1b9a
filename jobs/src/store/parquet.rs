//! Writing one Parquet file of the lake: zstd, page-level statistics and page indexes, row
//! groups sized for scans, fsynced before anyone may rename it into place.

use std::fs::File;
use std::path::Path;

use arrow::array::RecordBatch;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

use super::failpoint;
use crate::error::{Error, Result, io};

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Writer settings used for every lake file.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid zstd level")))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_created_by("livelake".to_string())
        .build()
}

/// Write `batch` to a new file at `path` and fsync it.
pub fn write_file(path: &Path, batch: &RecordBatch) -> Result<u64> {
    let pq = |source| Error::Parquet { path: path.to_path_buf(), source };
    let file = File::create(path).map_err(io("creating", path))?;
    let mut w = ArrowWriter::try_new(file, batch.schema(), Some(writer_properties())).map_err(pq)?;
    w.write(batch).map_err(pq)?;
    w.flush().map_err(pq)?;
    failpoint::hit("stage_mid_write");
    let file = w.into_inner().map_err(pq)?;
    file.sync_all().map_err(io("syncing", path))?;
    Ok(file.metadata().map_err(io("stat", path))?.len())
}

/// Read every row of the lake file at `path`.
pub fn read_file(path: &Path) -> Result<Vec<RecordBatch>> {
    let pq = |source| Error::Parquet { path: path.to_path_buf(), source };
    let file = File::open(path).map_err(io("opening", path))?;
    let reader = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(file)
        .map_err(pq)?
        .build()
        .map_err(pq)?;
    reader.map(|b| b.map_err(|e| pq(e.into()))).collect()
}
