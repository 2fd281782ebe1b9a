//! The report as one self-contained HTML page (charts inline as SVG, styles inline, no scripts)
//! and as Markdown (charts as SVG files beside it). Both are built from the same sections: a
//! section is a heading plus blocks (paragraphs, tables, lists, charts), rendered twice.

use chrono::DateTime;

use super::charts::Chart;
use super::data::{Figures, ReportData};
use super::findings::Findings;
use super::followup::display;

/// A piece of a section.
enum Block {
    Para(String),
    Table { head: Vec<String>, rows: Vec<Vec<String>> },
    List(Vec<String>),
    Chart(usize),
}

struct Section {
    title: String,
    blocks: Vec<Block>,
}

fn utc(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(String::new, |t| t.format("%Y-%m-%d %H:%M UTC").to_string())
}

fn hhmm(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(String::new, |t| t.format("%H:%M").to_string())
}

/// How a figure is shown.
#[derive(Clone, Copy)]
enum Fmt {
    Int,
    Pct,
    Usd,
    Num,
    Ms,
}

fn show(v: Option<f64>, f: Fmt) -> String {
    match v {
        None => "–".to_string(),
        Some(v) => match f {
            Fmt::Int => format!("{v:.0}"),
            Fmt::Pct => format!("{:.2}%", v * 100.0),
            Fmt::Usd => format!("${v:.2}"),
            Fmt::Num => format!("{v:.1}"),
            Fmt::Ms => format!("{v:.0} ms"),
        },
    }
}

fn get(f: Option<&Figures>, name: &str) -> Option<f64> {
    f.and_then(|f| f.get(name).copied().flatten())
}

const HEADLINES: [(&str, &str, Fmt); 10] = [
    ("viewers", "viewers", Fmt::Int),
    ("peak_concurrent", "peak concurrent", Fmt::Int),
    ("avg_watch_seconds", "avg watch (s)", Fmt::Num),
    ("stall_ratio", "stall ratio", Fmt::Pct),
    ("startup_ms_p50", "startup p50", Fmt::Ms),
    ("ctr", "CTR", Fmt::Pct),
    ("click_to_order", "click → order", Fmt::Pct),
    ("orders", "orders", Fmt::Int),
    ("gmv_usd", "GMV", Fmt::Usd),
    ("gpm_usd", "GPM (GMV / 1,000 sessions)", Fmt::Usd),
];

/// The region figures, as two tables (audience and QoE; engagement and sales) so each fits a
/// laptop screen (1366 px).
const REGION_QOE_COLUMNS: [(&str, &str, Fmt); 8] = [
    ("sessions", "sessions", Fmt::Int),
    ("viewers", "viewers", Fmt::Int),
    ("peak_concurrent", "peak", Fmt::Int),
    ("stall_ratio", "stall ratio", Fmt::Pct),
    ("smoothness_score", "smoothness", Fmt::Num),
    ("startup_score", "startup score", Fmt::Num),
    ("startup_ms_p50", "startup p50", Fmt::Ms),
    ("fast_start_pct", "starts ≤ 1 s", Fmt::Pct),
];

const REGION_SALES_COLUMNS: [(&str, &str, Fmt); 8] = [
    ("comments", "comments", Fmt::Int),
    ("likes", "likes", Fmt::Int),
    ("engaged_viewers", "engaged", Fmt::Int),
    ("ctr", "CTR", Fmt::Pct),
    ("click_to_order", "click → order", Fmt::Pct),
    ("orders", "orders", Fmt::Int),
    ("gmv_usd", "GMV", Fmt::Usd),
    ("gpm_usd", "GPM", Fmt::Usd),
];

const SOURCE_COLUMNS: [(&str, &str, Fmt); 9] = [
    ("sessions", "sessions", Fmt::Int),
    ("viewers", "viewers", Fmt::Int),
    ("avg_watch_seconds", "avg watch (s)", Fmt::Num),
    ("stall_ratio", "stall ratio", Fmt::Pct),
    ("ctr", "CTR", Fmt::Pct),
    ("click_to_order", "click → order", Fmt::Pct),
    ("orders", "orders", Fmt::Int),
    ("gmv_usd", "GMV", Fmt::Usd),
    ("gpm_usd", "GPM", Fmt::Usd),
];

/// One row per key: the key, then `cols` of its figures.
fn figures_table<'a>(
    keys: &[String],
    source: impl Fn(&str) -> Option<&'a Figures>,
    cols: &[(&str, &str, Fmt)],
    first: &str,
) -> Block {
    Block::Table {
        head: std::iter::once(first.to_string()).chain(cols.iter().map(|c| c.1.to_string())).collect(),
        rows: keys
            .iter()
            .map(|k| {
                std::iter::once(k.clone()).chain(cols.iter().map(|(c, _, fmt)| show(get(source(k), c), *fmt))).collect()
            })
            .collect(),
    }
}

fn sections(data: &ReportData, f: &Findings, charts: &[Chart]) -> Vec<Section> {
    let mut out = Vec::new();
    let title = data.show.as_ref().and_then(|s| s.title.clone()).unwrap_or_else(|| data.stream_id.clone());
    let origin = match data.from_rollup {
        true => "the nightly rollup's tables of the show",
        false => "recomputed from the raw tables (the show is not rolled up since its last event arrived)",
    };
    let mut about = format!(
        "Stream `{}`, {} – {} ({} minutes). Figures include late events; duplicates and fake sessions are removed. Source: {origin}.",
        data.stream_id,
        utc(data.show_start_ms),
        utc(data.show_end_ms),
        data.minutes_long()
    );
    if let Some(s) = &data.show {
        about.push_str(&format!(
            " Seller {}, category {}.",
            s.seller_id.as_deref().unwrap_or("?"),
            s.category.as_deref().unwrap_or("?")
        ));
    }
    out.push(Section { title: format!("Show review: {title}"), blocks: vec![Block::Para(about)] });
    out.push(Section { title: "Last show's actions — did they work?".into(), blocks: followup(data, f) });

    let goals = if f.goals.is_empty() {
        vec![Block::Para(
            "No targets for this show: import them with `livelake shows import plan.csv` to compare.".into(),
        )]
    } else {
        let fmt = |name: &str| {
            if name.starts_with("stall") {
                Fmt::Pct
            } else if name.starts_with("GMV") {
                Fmt::Usd
            } else {
                Fmt::Int
            }
        };
        vec![Block::Table {
            head: vec!["goal".into(), "target".into(), "actual".into(), "result".into()],
            rows: f
                .goals
                .iter()
                .map(|g| {
                    let result = match g.met {
                        Some(true) => "met",
                        Some(false) => "missed",
                        None => "unknown",
                    };
                    vec![g.name.into(), show(Some(g.target), fmt(g.name)), show(g.actual, fmt(g.name)), result.into()]
                })
                .collect(),
        }]
    };
    out.push(Section { title: "Goals vs actual".into(), blocks: goals });

    let baseline = |name: &str| data.baselines.get(name);
    let n = |name: &str| get(baseline(name), "shows").unwrap_or(0.0);
    out.push(Section {
        title: "Headlines vs earlier shows".into(),
        blocks: vec![
            Block::Table {
                head: vec![
                    "metric".into(),
                    "this show".into(),
                    format!("seller's previous 5 (median of {:.0})", n("seller_previous_5")),
                    format!("same category, 30 days (median of {:.0})", n("same_category_30d")),
                ],
                rows: HEADLINES
                    .iter()
                    .map(|(col, label, fmt)| {
                        vec![
                            label.to_string(),
                            show(data.fig("ALL", col), *fmt),
                            show(get(baseline("seller_previous_5"), col), *fmt),
                            show(get(baseline("same_category_30d"), col), *fmt),
                        ]
                    })
                    .collect(),
            },
            Block::Para(
                "Baselines come from earlier shows' `show_summary` rows (run `livelake rollup`), joined on the \
                 `shows` table's seller and category; a show missing there has no baseline."
                    .into(),
            ),
        ],
    });

    let mut regions = data.regions();
    regions.push("ALL".into());
    out.push(Section {
        title: "Regions".into(),
        blocks: vec![
            figures_table(&regions, |r| data.summary.get(r), &REGION_QOE_COLUMNS, "region"),
            figures_table(&regions, |r| data.summary.get(r), &REGION_SALES_COLUMNS, "region"),
        ],
    });
    let sources: Vec<String> = data.sources.keys().cloned().collect();
    out.push(Section {
        title: "Traffic sources".into(),
        blocks: vec![figures_table(&sources, |s| data.sources.get(s), &SOURCE_COLUMNS, "source")],
    });

    out.push(Section { title: "Minute by minute".into(), blocks: (0..charts.len()).map(Block::Chart).collect() });

    let anomalies = if f.anomalies.is_empty() {
        vec![Block::Para("No stall burst, exit jump or fake-viewer spike found.".into())]
    } else {
        vec![Block::Table {
            head: vec!["what".into(), "region".into(), "minute".into(), "time (UTC)".into(), "detail".into()],
            rows: f
                .anomalies
                .iter()
                .map(|a| {
                    let minutes = if a.from_minute == a.to_minute {
                        a.from_minute.to_string()
                    } else {
                        format!("{}–{}", a.from_minute, a.to_minute)
                    };
                    vec![a.kind.replace('_', " "), a.region.clone(), minutes, hhmm(a.start_ms), a.detail.clone()]
                })
                .collect(),
        }]
    };
    out.push(Section { title: "What went wrong, where and when".into(), blocks: anomalies });

    out.push(Section {
        title: "Stalls → exits → lost GMV (estimate)".into(),
        blocks: vec![
            Block::Para(
                "Estimate, not a measurement. Over each region's stall bursts (and the minute after each): \
                 exits after a stall beyond what the stalled sessions would show at that minute's exit rate, \
                 excess = max(0, Σ (exits_after_stall − sessions_stalled × exits ÷ sessions_active)); lost GMV ≈ \
                 excess × the region's GMV per session (gmv_usd ÷ sessions). A region without a stall burst has \
                 none. METRICS.md's show-level lost_gmv_usd_est applies the formula to the whole show, where \
                 every session ends, so it is usually 0."
                    .into(),
            ),
            Block::Table {
                head: vec![
                    "region".into(),
                    "excess exits".into(),
                    "GMV per session".into(),
                    "lost GMV (estimate)".into(),
                    "show-level lost_gmv_usd_est".into(),
                ],
                rows: f
                    .estimates
                    .iter()
                    .map(|e| {
                        vec![
                            e.region.clone(),
                            format!("{:.1}", e.excess_exits),
                            show(Some(e.gmv_per_session), Fmt::Usd),
                            show(Some(e.lost_gmv_usd), Fmt::Usd),
                            show(e.show_level_usd, Fmt::Usd),
                        ]
                    })
                    .collect(),
            },
        ],
    });

    out.push(Section {
        title: "Next show: what to do differently".into(),
        blocks: vec![Block::List(
            f.actions.iter().map(|a| format!("**{}** — because {}.", a.what, a.because)).collect(),
        )],
    });
    out
}

/// The previous show's actions, each with its metric then and now and the verdict.
fn followup(data: &ReportData, f: &Findings) -> Vec<Block> {
    let Some(seller) = data.show.as_ref().and_then(|s| s.seller_id.as_deref()) else {
        return vec![Block::Para(
            "No seller for this show in the `shows` table: import one (`livelake shows import plan.csv`) and the \
             report checks the actions of the seller's previous show."
                .into(),
        )];
    };
    let Some(first) = f.followup.first() else {
        return vec![Block::Para(format!(
            "No earlier show of seller {seller} with a report in the lake (`show_actions`): the next report of \
             the seller checks the actions below."
        ))];
    };
    let intro = format!(
        "The actions of the report of seller {seller}'s previous show, `{}` ({}), checked on this show's figures \
         (the `show_summary` definitions; the region's, or the whole show's). Ones that did not work are carried \
         forward to the actions at the end. The rule of each verdict: docs/metrics.md, \"The closed loop\".",
        first.past.stream_id,
        utc(first.past.show_start_ms)
    );
    let rows = f
        .followup
        .iter()
        .map(|v| {
            let p = &v.past;
            let side = if super::followup::lower_is_better(&p.metric) { "≤" } else { "≥" };
            let carried = f.actions.iter().any(|a| a.rule == p.rule && a.region == p.region);
            let result = match (v.worked, carried) {
                (Some(true), _) => "worked",
                (Some(false), true) => "did not work: carried forward",
                (Some(false), false) => "did not work (not carried forward: five more urgent actions)",
                (None, _) => "no data in this show",
            };
            vec![
                p.text.clone(),
                p.summary_region().to_string(),
                p.metric.clone(),
                display(&p.metric, p.value),
                v.now.map_or_else(|| "–".to_string(), |n| display(&p.metric, n)),
                format!("{side} {}", display(&p.metric, p.threshold.unwrap_or(p.value))),
                result.to_string(),
            ]
        })
        .collect();
    let head = ["action", "region", "metric", "then", "now", "wanted", "result"];
    vec![Block::Para(intro), Block::Table { head: head.iter().map(|h| h.to_string()).collect(), rows }]
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Inline `code` and **bold** of our own texts, after escaping.
fn inline_html(s: &str) -> String {
    let mut out = String::new();
    for (i, part) in esc(s).split("**").enumerate() {
        for (j, piece) in part.split('`').enumerate() {
            if j % 2 == 1 {
                out.push_str(&format!("<code>{piece}</code>"));
            } else {
                out.push_str(piece);
            }
        }
        if i % 2 == 0 {
            out.push_str("<strong>");
        } else {
            out.push_str("</strong>");
        }
    }
    out.strip_suffix("<strong>").unwrap_or(&out).to_string()
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;max-width:1100px;margin:2em auto;padding:0 1em;color:#222}\
table{border-collapse:collapse;margin:1em 0;font-size:14px}th,td{border:1px solid #ccc;padding:4px 8px;text-align:right}\
th:first-child,td:first-child{text-align:left}th{background:#f3f3f3}figure{margin:1em 0}\
figcaption{font-size:13px;color:#555}li{margin:.4em 0}code{background:#f3f3f3;padding:0 3px}";

/// The self-contained HTML page.
pub fn html(data: &ReportData, f: &Findings, charts: &[Chart]) -> String {
    let mut out = String::from("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!(
        "<title>Show review: {}</title>\n<style>{STYLE}</style>\n</head>\n<body>\n",
        esc(&data.stream_id)
    ));
    for (i, s) in sections(data, f, charts).into_iter().enumerate() {
        let tag = if i == 0 { "h1" } else { "h2" };
        out.push_str(&format!("<section>\n<{tag}>{}</{tag}>\n", esc(&s.title)));
        for b in s.blocks {
            match b {
                Block::Para(p) => out.push_str(&format!("<p>{}</p>\n", inline_html(&p))),
                Block::List(items) => {
                    out.push_str("<ol>\n");
                    for it in items {
                        out.push_str(&format!("<li>{}</li>\n", inline_html(&it)));
                    }
                    out.push_str("</ol>\n");
                }
                Block::Table { head, rows } => {
                    out.push_str("<table>\n<tr>");
                    for h in head {
                        out.push_str(&format!("<th>{}</th>", esc(&h)));
                    }
                    out.push_str("</tr>\n");
                    for r in rows {
                        out.push_str("<tr>");
                        for c in r {
                            out.push_str(&format!("<td>{}</td>", esc(&c)));
                        }
                        out.push_str("</tr>\n");
                    }
                    out.push_str("</table>\n");
                }
                Block::Chart(i) => {
                    let c = &charts[i];
                    // Drop the XML prolog, if any: the SVG is embedded in HTML.
                    let svg = c.svg.trim_start_matches(|ch| ch != '<');
                    let svg = if svg.starts_with("<?xml") { svg.split_once("?>").map_or(svg, |x| x.1) } else { svg };
                    out.push_str(&format!(
                        "<figure id=\"chart-{}\">\n{}\n<figcaption>{}</figcaption>\n</figure>\n",
                        c.id,
                        svg.trim(),
                        esc(&c.title)
                    ));
                }
            }
        }
        out.push_str("</section>\n");
    }
    out.push_str("<footer><p>Generated by livelake. Definitions: docs/metrics.md in the livelake repository.</p></footer>\n</body>\n</html>\n");
    out
}

fn md_cell(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// The Markdown file; charts link to `chart_path(id)`.
pub fn markdown(data: &ReportData, f: &Findings, charts: &[Chart], chart_path: impl Fn(&str) -> String) -> String {
    let mut out = String::new();
    for (i, s) in sections(data, f, charts).into_iter().enumerate() {
        out.push_str(&format!("{} {}\n\n", if i == 0 { "#" } else { "##" }, md_cell(&s.title)));
        for b in s.blocks {
            match b {
                Block::Para(p) => out.push_str(&format!("{p}\n\n")),
                Block::List(items) => {
                    for (n, it) in items.iter().enumerate() {
                        out.push_str(&format!("{}. {}\n", n + 1, md_cell(it)));
                    }
                    out.push('\n');
                }
                Block::Table { head, rows } => {
                    out.push_str(&format!("| {} |\n", head.iter().map(|h| md_cell(h)).collect::<Vec<_>>().join(" | ")));
                    out.push_str(&format!("|{}\n", " --- |".repeat(head.len())));
                    for r in rows {
                        out.push_str(&format!(
                            "| {} |\n",
                            r.iter().map(|c| md_cell(c)).collect::<Vec<_>>().join(" | ")
                        ));
                    }
                    out.push('\n');
                }
                Block::Chart(i) => {
                    let c = &charts[i];
                    out.push_str(&format!("![{}]({})\n\n", md_cell(&c.title), chart_path(c.id)));
                }
            }
        }
    }
    out
}
