//! `livelake report --stream ID`: the retrospective (复盘) page of one show — goals vs actual,
//! headlines vs the seller's previous shows and same-category shows, regions, traffic sources,
//! minute-by-minute charts, anomalies with their region and minute, the stall → exit → lost-GMV
//! estimate and 3–5 next-show actions — as a self-contained HTML page and a Markdown file. It
//! opens with the seller's previous show's actions and whether they worked, and stores its own in
//! `show_actions` for the next one ([`followup`]).
//!
//! The show's figures are the rollup's rows of it (`show_summary`, `show_sources`,
//! `show_minute`, `show_retention`) when it is rolled up and no event of it arrived since;
//! otherwise they are recomputed from the raw tables with the rollup's definitions (late events
//! included), so the report is right before the nightly rollup has run. Comparisons read
//! earlier shows' `show_summary` rows.

mod charts;
mod data;
mod findings;
pub mod followup;
mod render;

use std::path::{Path, PathBuf};

use crate::store::delta::LakeUrl;

pub use charts::Chart;
pub use data::{Figures, MinutePoint, ReportData, gather, gather_from};
pub use findings::{Action, Anomaly, Estimate, Findings, Goal, find};
pub use followup::{PastAction, Verdict};

use crate::error::{Result, io};
use crate::rules::RuleConfig;

/// The files a report wrote.
#[derive(Debug, Clone)]
pub struct ReportFiles {
    /// The HTML page.
    pub html: PathBuf,
    /// The Markdown file.
    pub markdown: PathBuf,
    /// Chart images (SVG) the Markdown links to.
    pub charts: Vec<PathBuf>,
    /// The figures came from the rollup's tables ([`ReportData::from_rollup`]).
    pub from_rollup: bool,
}

/// A file name for `stream`: its characters outside `[A-Za-z0-9._-]` replaced, never a path.
pub fn file_stem(stream: &str) -> String {
    let s: String =
        stream.chars().map(|c| if c.is_ascii_alphanumeric() || "._-".contains(c) { c } else { '_' }).collect();
    if s.is_empty() || s.chars().all(|c| c == '.') { format!("_{s}") } else { s }
}

/// Build the report of `stream` from the lake at `lake` into `out`, and store its actions in the
/// lake's `show_actions` (replacing those of an earlier report of the show). `use_rollup`: read
/// the rollup's tables when they hold the show as it is ([`gather_from`]).
pub async fn report(
    lake: &LakeUrl,
    stream: &str,
    out: &Path,
    cfg: RuleConfig,
    use_rollup: bool,
) -> Result<(ReportFiles, Findings)> {
    let data = gather_from(lake, stream, cfg, use_rollup).await?;
    let findings = find(&data);
    let charts = charts::charts(&data, &findings)?;
    let stem = file_stem(stream);
    let chart_dir = out.join("charts");
    std::fs::create_dir_all(&chart_dir).map_err(io("creating", &chart_dir))?;
    let rel = |id: &str| format!("charts/{stem}-{id}.svg");
    let mut files = ReportFiles {
        html: out.join(format!("{stem}.html")),
        markdown: out.join(format!("{stem}.md")),
        charts: Vec::new(),
        from_rollup: data.from_rollup,
    };
    for c in &charts {
        let path = out.join(rel(c.id));
        std::fs::write(&path, &c.svg).map_err(io("writing", &path))?;
        files.charts.push(path);
    }
    std::fs::write(&files.html, render::html(&data, &findings, &charts)).map_err(io("writing", &files.html))?;
    let md = render::markdown(&data, &findings, &charts, rel);
    std::fs::write(&files.markdown, md).map_err(io("writing", &files.markdown))?;
    followup::store(lake, &data, &findings.actions, chrono::Utc::now().timestamp_millis()).await?;
    Ok((files, findings))
}
