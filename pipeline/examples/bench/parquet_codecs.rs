//! Which compression for lake files: rewrite every file of a lake table with each codec (same
//! rows, same row groups, page statistics and indexes as the sink writes) and measure bytes on
//! disk, write time and the time to scan three columns back. Run by `make bench` on its lake:
//! `cargo run --release --features bench --example bench -- parquet_codecs LAKE [TABLE]`.

use std::path::PathBuf;
use std::time::Instant;

use parquet::arrow::ArrowWriter;
use parquet::arrow::ProjectionMask;
use parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder;
use parquet::basic::{Compression, GzipLevel, ZstdLevel};

pub fn main(args: &[String]) {
    let mut args = args.iter().cloned();
    let lake = PathBuf::from(args.next().expect("usage: parquet_codecs LAKE [TABLE]"));
    let table = args.next().unwrap_or_else(|| "player_events".into());
    let t = livelake_schemas::Table::from_name(&table).expect("a table of the lake");
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
    let inputs = rt.block_on(livelake_jobs::store::delta::local_files(&lake, t)).unwrap_or_else(|e| panic!("{e}"));
    let batches: Vec<Vec<arrow::array::RecordBatch>> = inputs
        .iter()
        .map(|p| {
            let r = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(p).unwrap()).unwrap().build().unwrap();
            r.map(|b| b.unwrap()).collect()
        })
        .collect();
    let rows: usize = batches.iter().flatten().map(|b| b.num_rows()).sum();
    println!("{table}: {rows} rows in {} files", inputs.len());
    println!("{:<14} {:>10} {:>9} {:>10}", "codec", "MiB", "write s", "scan3 s");
    let out = std::env::temp_dir().join(format!("livelake-codecs-{}", std::process::id()));
    std::fs::create_dir_all(&out).unwrap();
    for (name, codec) in [
        ("zstd(1) *", Compression::ZSTD(ZstdLevel::try_new(1).unwrap())),
        ("zstd(3)", Compression::ZSTD(ZstdLevel::try_new(3).unwrap())),
        ("snappy", Compression::SNAPPY),
        ("gzip(6)", Compression::GZIP(GzipLevel::default())),
        ("none", Compression::UNCOMPRESSED),
    ] {
        let props = livelake_jobs::store::writer_properties().into_builder().set_compression(codec).build();
        let t = Instant::now();
        let mut paths = Vec::new();
        for (i, file_batches) in batches.iter().enumerate() {
            let path = out.join(format!("{i}.parquet"));
            let mut w = ArrowWriter::try_new(
                std::fs::File::create(&path).unwrap(),
                file_batches[0].schema(),
                Some(props.clone()),
            )
            .unwrap();
            for b in file_batches {
                w.write(b).unwrap();
            }
            w.close().unwrap();
            paths.push(path);
        }
        let write_s = t.elapsed().as_secs_f64();
        let bytes: u64 = paths.iter().map(|p| std::fs::metadata(p).unwrap().len()).sum();
        let t = Instant::now();
        let mut scanned = 0;
        for p in &paths {
            let b = ParquetRecordBatchReaderBuilder::try_new(std::fs::File::open(p).unwrap()).unwrap();
            let mask = ProjectionMask::columns(b.parquet_schema(), ["stream_id", "ts", "type"]);
            scanned += b.with_projection(mask).build().unwrap().map(|b| b.unwrap().num_rows()).sum::<usize>();
        }
        let scan_s = t.elapsed().as_secs_f64();
        assert_eq!(scanned, rows);
        println!("{name:<14} {:>10.1} {write_s:>9.2} {scan_s:>10.2}", bytes as f64 / (1 << 20) as f64);
    }
    let _ = std::fs::remove_dir_all(&out);
    println!("* what the sink writes");
}
