//! The measurement programs of `make bench`, one binary (a release build with thin LTO links the
//! whole dependency tree once per binary: one link instead of five):
//! `cargo run --release --features bench --example bench -- TOOL ARGS…`, TOOL one of
//! - `workers`: scale-out, N workers of one consumer group into one lake (step 1)
//! - `query_bench`: the example queries over a lake, best of 5 (step 2)
//! - `freshness`: production → queryable row and → live board (step 3)
//! - `state_size`: bytes of session state per session (step 4)
//! - `parquet_codecs`: a lake table rewritten with each codec (step 4)

mod freshness;
mod parquet_codecs;
mod query_bench;
mod state_size;
mod workers;

/// A tool's entry point: its arguments after the tool's name.
type Tool = fn(&[String]);

/// The tools by name: the one list the dispatch and the usage line are made of.
const TOOLS: [(&str, Tool); 5] = [
    ("workers", workers::main),
    ("query_bench", query_bench::main),
    ("freshness", freshness::main),
    ("state_size", state_size::main),
    ("parquet_codecs", parquet_codecs::main),
];

/// The `kB` figure of `field` (e.g. `VmRSS`, `VmHWM`) in `/proc/PID/status` (`pid`: a process id
/// or `self`); 0 when the file or the field cannot be read.
pub fn status_kib(pid: &str, field: &str) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix(field)?.strip_prefix(':'))
        .and_then(|v| v.split_whitespace().next()?.parse().ok())
        .unwrap_or(0)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let names: Vec<&str> = TOOLS.iter().map(|(name, _)| *name).collect();
    let names = names.join(" | ");
    let Some((tool, rest)) = args.split_first() else {
        eprintln!("usage: bench TOOL ARGS… (TOOL: {names})");
        std::process::exit(2);
    };
    let Some((_, run)) = TOOLS.iter().find(|(name, _)| name == tool) else {
        eprintln!("bench: unknown tool {tool:?} (TOOL: {names})");
        std::process::exit(2);
    };
    run(rest);
}
