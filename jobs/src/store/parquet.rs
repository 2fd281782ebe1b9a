//! The Parquet settings of every file of the lake: zstd, page-level statistics and page indexes,
//! row groups sized for scans.

use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Rows per data page at most: a file holds many shows (sorted by `stream_id`), so small pages
/// let the page index skip the other shows' rows when one show is read (the rollup, the report).
pub const PAGE_ROWS: usize = 4096;

/// Writer settings used for every lake file.
pub fn writer_properties() -> WriterProperties {
    WriterProperties::builder()
        .set_compression(Compression::ZSTD(ZstdLevel::try_new(1).expect("valid zstd level")))
        .set_statistics_enabled(EnabledStatistics::Page)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_created_by("livelake".to_string())
        .build()
}
