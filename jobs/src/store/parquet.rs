//! The Parquet settings of every file of the lake: zstd (a streaming commit's files: zstd only
//! for the columns it shrinks most, Snappy for the rest and for small files), page-level
//! statistics and page indexes, row groups sized for scans, no dictionary for the columns whose
//! values hardly repeat. Column chunk statistics keep whole strings (not Parquet's default of 64
//! bytes): the Delta log's statistics are read from them (`stats.rs`), and must be exact.

use parquet::basic::{Compression, ZstdLevel};
use parquet::file::properties::{EnabledStatistics, WriterProperties};
use parquet::schema::types::ColumnPath;

/// Rows per row group.
pub const ROW_GROUP_ROWS: usize = 128 * 1024;

/// Rows per data page at most: a file holds many shows (sorted by `stream_id`), so small pages
/// let the page index skip the other shows' rows when one show is read (the rollup, the report).
pub const PAGE_ROWS: usize = 4096;

/// Columns written without a dictionary: a value per event (`event_id`, the source offset) or
/// nearly (`ts`, in milliseconds). A dictionary of them is as large as the values, and building it
/// hashes and compares every value; the other columns (stream, session, type, region, small
/// counters) repeat and keep theirs.
const PLAIN_COLUMNS: [&str; 3] = ["event_id", "ts", "src_offset"];

/// Files of at most this many rows (one page per column) are compressed with Snappy instead of
/// zstd: each column of a file gets its own codec, and a zstd one allocates a compression and a
/// decompression context (hundreds of KiB) on every write and every read of the column. The
/// many small files of the streaming commits (`stream_minute`, `deadletter`, a slot's few rows)
/// spent more on those contexts than on their rows; their bytes are few either way.
pub const SMALL_FILE_ROWS: usize = PAGE_ROWS;

/// Columns a streaming commit's file compresses with zstd ([`writer_properties_for`]): the
/// values of an event that hardly repeat, which zstd shrinks 2–7× (a player_events file of
/// 20,000 rows: `event_id` 1.74 MB → 0.25, `ts` 0.61 → 0.08, `session_id` 0.23 → 0.12), and a
/// dead letter's raw `payload`. The other columns are dictionary codes of a few values each
/// (type, country, platform, CDN, bitrates, counters), a few KB that zstd shrinks little (0–50
/// %), while each zstd column costs a compression and a decompression context (hundreds of KiB,
/// allocated per column of every file) and the compressing: Snappy for them. The files
/// compaction merges them into use [`writer_properties`].
const ZSTD_COLUMNS: [&str; 6] = ["event_id", "ts", "src_offset", "session_id", "viewer_id", "payload"];

fn zstd() -> Compression {
    Compression::ZSTD(ZstdLevel::try_new(1).expect("valid zstd level"))
}

/// Writer settings of the lake's long-lived files (compaction, tables written whole): zstd.
pub fn writer_properties() -> WriterProperties {
    builder().set_compression(zstd()).build()
}

/// Writer settings for a streaming commit's file of `rows` rows: Snappy, with zstd for
/// [`ZSTD_COLUMNS`] unless the file is small ([`SMALL_FILE_ROWS`]).
pub fn writer_properties_for(rows: usize) -> WriterProperties {
    let mut b = builder().set_compression(Compression::SNAPPY);
    if rows > SMALL_FILE_ROWS {
        for c in ZSTD_COLUMNS {
            b = b.set_column_compression(ColumnPath::from(c), zstd());
        }
    }
    b.build()
}

fn builder() -> parquet::file::properties::WriterPropertiesBuilder {
    let mut b = WriterProperties::builder();
    for c in PLAIN_COLUMNS {
        b = b.set_column_dictionary_enabled(ColumnPath::from(c), false);
    }
    b.set_statistics_enabled(EnabledStatistics::Page)
        .set_statistics_truncate_length(None)
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_data_page_row_count_limit(PAGE_ROWS)
        .set_created_by("livelake".to_string())
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use arrow::array::{ArrayRef, Int64Array, RecordBatch, StringArray, TimestampMillisecondArray};
    use parquet::arrow::ArrowWriter;

    use super::*;

    #[test]
    fn small_files_are_snappy_the_others_zstd_where_it_shrinks_most_with_the_same_settings_otherwise() {
        let (ts, kind) = (ColumnPath::from("ts"), ColumnPath::from("type"));
        let (small, large) = (writer_properties_for(SMALL_FILE_ROWS), writer_properties_for(SMALL_FILE_ROWS + 1));
        assert_eq!(small.compression(&ts), Compression::SNAPPY);
        assert_eq!(large.compression(&ts), writer_properties().compression(&ts));
        assert!(matches!(large.compression(&ts), Compression::ZSTD(_)));
        assert_eq!(large.compression(&kind), Compression::SNAPPY);
        assert!(matches!(writer_properties().compression(&kind), Compression::ZSTD(_)));
        for p in [&small, &large] {
            assert!(!p.dictionary_enabled(&ts) && p.dictionary_enabled(&ColumnPath::from("stream_id")));
            assert_eq!(p.statistics_enabled(&ts), EnabledStatistics::Page);
            assert_eq!(p.data_page_row_count_limit(), PAGE_ROWS);
            assert_eq!(p.statistics_truncate_length(), None, "the Delta statistics are read from these");
        }
    }

    #[test]
    fn values_that_hardly_repeat_have_no_dictionary() {
        let n = 5_000;
        let columns: Vec<(&str, ArrayRef)> = vec![
            ("event_id", Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("e-{i}"))))),
            ("ts", Arc::new(TimestampMillisecondArray::from_iter_values((0..n).map(|i| 1_795_264_800_000 + i)))),
            ("src_offset", Arc::new(Int64Array::from_iter_values(0..n))),
            ("stream_id", Arc::new(StringArray::from_iter_values((0..n).map(|i| format!("show-{}", i % 3))))),
        ];
        let batch = RecordBatch::try_from_iter(columns).unwrap();
        let mut w = ArrowWriter::try_new(Vec::new(), batch.schema(), Some(writer_properties())).unwrap();
        w.write(&batch).unwrap();
        let metadata = w.close().unwrap();
        let rg = metadata.row_group(0);
        for c in rg.columns() {
            let name = c.column_path().string();
            let plain = PLAIN_COLUMNS.contains(&name.as_str());
            assert_eq!(c.dictionary_page_offset().is_none(), plain, "{name}: dictionary page");
        }
    }
}
