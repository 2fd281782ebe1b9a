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

const TOOLS: &str = "workers | query_bench | freshness | state_size | parquet_codecs";

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let Some((tool, rest)) = args.split_first() else {
        eprintln!("usage: bench TOOL ARGS… (TOOL: {TOOLS})");
        std::process::exit(2);
    };
    match tool.as_str() {
        "workers" => workers::main(rest),
        "query_bench" => query_bench::main(rest),
        "freshness" => freshness::main(rest),
        "state_size" => state_size::main(rest),
        "parquet_codecs" => parquet_codecs::main(rest),
        other => {
            eprintln!("bench: unknown tool {other:?} (TOOL: {TOOLS})");
            std::process::exit(2);
        }
    }
}
