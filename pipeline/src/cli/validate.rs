//! `livelake validate`: run NDJSON events through the contract's decoder and report what would
//! be accepted (by type) and rejected (by reason), so producers can check their output.

use std::collections::BTreeMap;
use std::io::{BufRead, BufReader};
use std::path::PathBuf;

use anyhow::Context;
use livelake_schemas::Decoder;

/// Arguments of `livelake validate`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// NDJSON file (`-` for stdin).
    path: PathBuf,
    /// Print each rejected line number with its reason.
    #[arg(long)]
    show_rejects: bool,
}

/// Run `livelake validate`.
pub fn run(a: Args) -> anyhow::Result<()> {
    let reader: Box<dyn BufRead> = if a.path.as_os_str() == "-" {
        Box::new(BufReader::new(std::io::stdin().lock()))
    } else {
        let f = std::fs::File::open(&a.path).with_context(|| format!("opening {}", a.path.display()))?;
        Box::new(BufReader::new(f))
    };
    let decoder = Decoder::default();
    let now = chrono::Utc::now().timestamp_millis();
    let mut accepted: BTreeMap<&'static str, u64> = BTreeMap::new();
    let mut rejected: BTreeMap<String, u64> = BTreeMap::new();
    let mut regions: BTreeMap<String, u64> = BTreeMap::new();
    let mut buf = Vec::new();
    let mut reader = reader;
    let mut line_no = 0u64;
    loop {
        buf.clear();
        let n = reader.read_until(b'\n', &mut buf).with_context(|| format!("reading {}", a.path.display()))?;
        if n == 0 {
            break;
        }
        line_no += 1;
        let bytes = buf.strip_suffix(b"\n").unwrap_or(&buf);
        match decoder.decode(bytes, now) {
            Ok(e) => {
                *accepted.entry(e.kind().as_str()).or_default() += 1;
                *regions.entry(e.region.to_string()).or_default() += 1;
            }
            Err(r) => {
                if a.show_rejects {
                    println!("line {line_no}: {}", r.reason);
                }
                *rejected.entry(r.reason.to_string()).or_default() += 1;
            }
        }
    }
    let ok: u64 = accepted.values().sum();
    let bad: u64 = rejected.values().sum();
    println!("{} lines: {ok} accepted, {bad} rejected", ok + bad);
    println!("\naccepted by type:");
    for (k, v) in &accepted {
        println!("  {k:<16} {v:>10}");
    }
    println!("\naccepted by region:");
    for (k, v) in &regions {
        println!("  {k:<16} {v:>10}");
    }
    if !rejected.is_empty() {
        println!("\nrejected by reason:");
        for (k, v) in &rejected {
            println!("  {k:<24} {v:>6}");
        }
    }
    Ok(())
}
