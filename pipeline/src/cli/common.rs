//! What the subcommands share: the runtime, the lake check, the stop signal, and writing query
//! results (an aligned table, CSV, JSON lines or Parquet, to stdout or a file).

use std::io::Write;
use std::path::Path;

use livelake_jobs::store::delta::LakeUrl;

use anyhow::{Context, bail};
use arrow::array::RecordBatch;
use arrow::datatypes::SchemaRef;
use tokio::runtime::Runtime;

/// The batch jobs (rollup, compaction, report) hold a group of shows, drop it and take the next.
/// With glibc's default of one malloc arena per thread (up to eight per core) the freed memory
/// stays spread over the arenas and the peak RSS grows with it (measured on a 2 M-event day:
/// 1.05 GiB, with two arenas 0.81 GiB). Re-run this process with `MALLOC_ARENA_MAX=2` unless
/// the variable is set (any value, e.g. to keep glibc's default).
pub fn few_malloc_arenas() -> anyhow::Result<()> {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        use std::os::unix::process::CommandExt;
        let exe = std::env::current_exe().context("finding the livelake executable")?;
        let err = std::process::Command::new(exe).args(std::env::args_os().skip(1)).env("MALLOC_ARENA_MAX", "2").exec();
        return Err(anyhow::Error::new(err).context("re-running with MALLOC_ARENA_MAX=2"));
    }
    Ok(())
}

/// The tokio runtime every subcommand runs its async work on.
pub fn runtime() -> anyhow::Result<Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")
}

/// The runtime of `livelake run` with `run.threads` = `threads`: the thread that calls
/// [`Runtime::block_on`] runs the loop, and `threads` workers run what it spawns (commits, the
/// window SQL's partitions, HTTP); with one thread, all of it shares the calling thread. (With
/// fewer workers than threads, a commit's Parquet encoding, which holds its worker, would make
/// the loop's window SQL wait for it.)
pub fn runtime_of(threads: usize) -> anyhow::Result<Runtime> {
    let mut b = if threads <= 1 {
        tokio::runtime::Builder::new_current_thread()
    } else {
        let mut b = tokio::runtime::Builder::new_multi_thread();
        b.worker_threads(threads);
        b
    };
    b.enable_all().build().context("starting the runtime")
}

/// Fail with a one-line hint unless the lake on local disk is a directory (a lake on object
/// storage is checked when its tables are opened).
pub fn check_lake(lake: &LakeUrl) -> anyhow::Result<()> {
    if let Some(dir) = lake.local_dir()
        && !dir.is_dir()
    {
        bail!("lake directory {} does not exist (write one with `livelake run`, or pass --lake DIR)", dir.display());
    }
    Ok(())
}

/// `--lake` of a command that reads the lake: a path, `file://` or `s3://` URL (object-storage
/// settings from the `AWS_*` environment), checked with [`check_lake`].
pub fn lake_arg(lake: &str) -> anyhow::Result<LakeUrl> {
    let url = LakeUrl::parse(lake, Default::default())?;
    check_lake(&url)?;
    Ok(url)
}

/// Resolve on SIGINT (Ctrl-C) or SIGTERM.
pub async fn wait_for_signal() {
    use tokio::signal::unix::{SignalKind, signal};
    let mut term = signal(SignalKind::terminate()).expect("SIGTERM handler");
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// Output format of `livelake sql`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    /// An aligned table with a row count.
    Table,
    /// CSV with a header row.
    Csv,
    /// One JSON object per row.
    Json,
    /// A Parquet file (needs --output).
    Parquet,
}

/// Write `batches` (of `schema`) as `format` to `out`, or stdout.
pub fn write(schema: &SchemaRef, batches: &[RecordBatch], format: Format, out: Option<&Path>) -> anyhow::Result<()> {
    if format == Format::Parquet {
        let Some(path) = out else { bail!("--format parquet needs --output FILE") };
        let file = std::fs::File::create(path).with_context(|| format!("creating {}", path.display()))?;
        // The lake's own file settings: zstd, page statistics and indexes.
        let props = livelake_jobs::store::writer_properties();
        let mut w = parquet::arrow::ArrowWriter::try_new(file, schema.clone(), Some(props))?;
        for b in batches {
            w.write(b)?;
        }
        w.close()?;
        return Ok(());
    }
    let mut sink: Box<dyn Write> = match out {
        Some(p) => Box::new(std::io::BufWriter::new(
            std::fs::File::create(p).with_context(|| format!("creating {}", p.display()))?,
        )),
        None => Box::new(std::io::stdout().lock()),
    };
    match format {
        Format::Table => {
            let rows: usize = batches.iter().map(|b| b.num_rows()).sum();
            let empty = [RecordBatch::new_empty(schema.clone())];
            let shown = if batches.is_empty() { &empty[..] } else { batches };
            let options = arrow::util::display::FormatOptions::default().with_null("NULL");
            let table = arrow::util::pretty::pretty_format_batches_with_options(shown, &options)?;
            writeln!(sink, "{table}\n({rows} row{})", if rows == 1 { "" } else { "s" })?;
        }
        Format::Csv => {
            let mut w = arrow::csv::WriterBuilder::new().with_header(true).build(&mut sink);
            if batches.is_empty() {
                w.write(&RecordBatch::new_empty(schema.clone()))?;
            }
            for b in batches {
                w.write(b)?;
            }
        }
        Format::Json => {
            let mut w = arrow::json::WriterBuilder::new()
                .with_explicit_nulls(true)
                .build::<_, arrow::json::writer::LineDelimited>(&mut sink);
            for b in batches {
                w.write(b)?;
            }
            w.finish()?;
        }
        Format::Parquet => unreachable!("written above"),
    }
    sink.flush()?;
    Ok(())
}
