//! `livelake report`: a simulated show with earlier shows of the same seller in the lake; the
//! report renders in headless Chromium (charts present, every chart image loads), and its
//! findings name the region and minute where the simulator injected the stall burst.

use std::path::{Path, PathBuf};
use std::process::Command;

use livelake_pipeline::simulate::{SimConfig, Simulation, simulate};

use crate::support::{livelake_bin, ndjson, run_into_lake};

const DAY_MS: i64 = 86_400_000;

fn show(seed: u64, start_ms: i64) -> Simulation {
    let cfg = SimConfig { viewers: 600, duration_min: 45, start_ms, ..SimConfig::new(seed) }
        .with_default_pitches()
        .fit_incidents();
    simulate(&cfg)
}

fn livelake(args: &[&str]) -> String {
    let out = Command::new(livelake_bin()).args(args).output().unwrap();
    assert!(out.status.success(), "livelake {args:?}: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

/// Chromium from `LIVELAKE_CHROMIUM` (set by `make test`, which installs Debian's chromium), or
/// `chromium` on the PATH.
pub fn chromium() -> PathBuf {
    PathBuf::from(std::env::var("LIVELAKE_CHROMIUM").unwrap_or_else(|_| "chromium".into()))
}

/// Load `page` (a URL) in headless Chromium and return the DOM after scripts ran.
pub fn dump_dom(page: &str, profile: &Path) -> String {
    let out = Command::new(chromium())
        .args([
            "--window-size=1366,900",
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--allow-file-access-from-files",
            "--virtual-time-budget=5000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .arg("--dump-dom")
        .arg(page)
        .output()
        .unwrap_or_else(|e| panic!("starting {} ({e}); `make test` installs chromium", chromium().display()));
    assert!(out.status.success(), "chromium: {}", String::from_utf8_lossy(&out.stderr));
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn the_report_renders_in_chromium_and_names_the_injected_stall_burst() {
    let dir = tempfile::tempdir().unwrap();
    let start = SimConfig::new(1).start_ms;
    // Two earlier shows of the same seller, then the show under review.
    let earlier = [show(71, start - 3 * DAY_MS), show(72, start - 2 * DAY_MS)];
    let this = show(73, start);
    // The earlier shows and the show under review come in two files, run one after the other
    // into the same lake (as `make demo` does): the second run keeps the first file's positions.
    let mut body = Vec::new();
    for s in &earlier {
        body.extend(ndjson(s));
    }
    let history = dir.path().join("history.ndjson");
    std::fs::write(&history, body).unwrap();
    let today = dir.path().join("today.ndjson");
    std::fs::write(&today, ndjson(&this)).unwrap();
    run_into_lake(&history, dir.path());
    let lake = run_into_lake(&today, dir.path());
    let lake_s = lake.to_str().unwrap();

    let id = this.streams[0].clone();
    let plan = dir.path().join("plan.csv");
    std::fs::write(
        &plan,
        format!(
            "stream_id,seller_id,title,category,target_gmv_usd,target_viewers,max_stall_ratio\n\
             {},seller-9,Autumn sale,beauty,,,\n{},seller-9,Winter preview,beauty,,,\n\
             {id},seller-9,\"Big <launch> & \"\"friends\"\"\",beauty,999999,10,0.5\n",
            earlier[0].streams[0], earlier[1].streams[0]
        ),
    )
    .unwrap();
    livelake(&["shows", "import", plan.to_str().unwrap(), "--lake", lake_s]);
    for days_back in [3, 2] {
        let date = chrono::DateTime::from_timestamp_millis(start - days_back * DAY_MS).unwrap().format("%Y-%m-%d");
        livelake(&["rollup", "--lake", lake_s, "--date", &date.to_string(), "--no-compact"]);
    }

    let out_dir = dir.path().join("report");
    let printed = livelake(&["report", "--lake", lake_s, "--stream", &id, "--out", out_dir.to_str().unwrap()]);

    // The simulator's stall burst: its region and minute of the show.
    let burst = this.truth.incidents.iter().find(|i| i.kind == "stall_burst").expect("a stall burst");
    let burst_ms = chrono::DateTime::parse_from_rfc3339(&burst.start).unwrap().timestamp_millis();
    let minute = (burst_ms - start.div_euclid(60_000) * 60_000) / 60_000;
    let named = format!("stall_burst in {} at minute {minute}–", burst.region);
    assert!(printed.contains(&named), "findings name {named:?}:\n{printed}");
    let spike = this.truth.incidents.iter().find(|i| i.kind == "fake_spike").expect("a fake spike");
    assert!(printed.contains(&format!("fake_spike in {}", spike.region)), "{printed}");

    let html_path = out_dir.join(format!("{id}.html"));
    let html = std::fs::read_to_string(&html_path).unwrap();
    let md = std::fs::read_to_string(out_dir.join(format!("{id}.md"))).unwrap();
    assert!(html.contains("Big &lt;launch&gt; &amp; &quot;friends&quot;"), "user text is escaped");
    assert!(md.contains("| GMV (USD) | $999999.00 |") && md.contains("| missed |"), "the GMV goal missed");
    assert!(md.contains("seller's previous 5 (median of 2)"), "two earlier shows of the seller");
    assert!(md.contains(&format!("| stall burst | {} | {minute}–", burst.region)), "anomaly table:\n{md}");
    assert!(md.contains("lost GMV (estimate)"), "the estimate is labelled");
    let actions = md.split("## Next show").nth(1).unwrap();
    let n = actions.lines().filter(|l| l.starts_with(|c: char| c.is_ascii_digit())).count();
    assert!((3..=5).contains(&n), "3–5 actions: {actions}");
    assert!(actions.contains(&format!("minute {minute}–")), "an action cites the burst's minutes: {actions}");

    // The page in a browser: every section and chart present.
    let dom = dump_dom(&format!("file://{}", html_path.display()), &dir.path().join("chromium"));
    assert!(dom.contains("Show review: Big &lt;launch&gt;"), "title rendered");
    for chart in ["viewers", "stall_ratio", "exits", "orders", "retention", "funnel"] {
        let at = dom.find(&format!("id=\"chart-{chart}\"")).unwrap_or_else(|| panic!("chart {chart} in the page"));
        assert!(dom[at..].trim_start_matches(|c| c != '<').contains("<svg"), "chart {chart} is drawn");
    }
    // A laptop screen (1366 px) shows every table whole: none reaches past the window's right edge.
    let fit = dir.path().join("report/fit.html");
    std::fs::write(
        &fit,
        html.replace(
            "</body>",
            "<pre id=\"fit\"></pre><script>window.onload = () => { const right = Math.max(...[...document.\
             querySelectorAll('table')].map(t => t.getBoundingClientRect().right)); document.getElementById('fit').\
             textContent = 'right=' + Math.ceil(right) + ' width=' + document.documentElement.clientWidth; };\
             </script></body>",
        ),
    )
    .unwrap();
    let dom = dump_dom(&format!("file://{}", fit.display()), &dir.path().join("chromium"));
    let at = dom.find("right=").expect("the fit probe ran");
    let (right, width) = dom[at + 6..].split_once(" width=").unwrap();
    let width: f64 = width.split('<').next().unwrap().parse().unwrap();
    assert!(right.parse::<f64>().unwrap() <= width && width > 1300.0, "tables fit 1366 px: {}", &dom[at..at + 40]);

    // The Markdown's chart files are images a browser can decode.
    let probe = dir.path().join("report/probe.html");
    let imgs: String = md
        .lines()
        .filter_map(|l| l.strip_prefix("![")?.split_once("](").map(|(_, p)| p.trim_end_matches(')').to_string()))
        .map(|p| format!("<img src=\"{p}\">"))
        .collect();
    std::fs::write(
        &probe,
        format!(
            "<!DOCTYPE html><html><body>{imgs}<pre id=\"out\"></pre><script>window.onload = () => {{ \
             document.getElementById('out').textContent = 'decoded=' + \
             [...document.images].filter(i => i.complete && i.naturalWidth > 0).length + ' of ' + \
             document.images.length; }};</script></body></html>"
        ),
    )
    .unwrap();
    let dom = dump_dom(&format!("file://{}", probe.display()), &dir.path().join("chromium"));
    assert!(dom.contains("decoded=6 of 6"), "every chart image decodes: {dom}");
}

/// A figure as the report shows it ("1.23%", "$12.35", "2958 ms", "61.3", "40"), with half a unit
/// of its last digit.
fn shown(cell: &str) -> (f64, f64) {
    let num = |s: &str| s.replace(',', "").parse::<f64>().unwrap_or_else(|e| panic!("{cell:?}: {e}"));
    if let Some(p) = cell.strip_suffix('%') {
        (num(p) / 100.0, 0.00005)
    } else if let Some(usd) = cell.strip_prefix('$') {
        (num(usd), 0.005)
    } else if let Some(ms) = cell.strip_suffix(" ms") {
        (num(ms), 0.5)
    } else if cell.contains('.') {
        (num(cell), 0.05)
    } else {
        (num(cell), 0.5)
    }
}

/// The closed loop over two consecutive shows of one seller (the SQL tests' six shows: `seller-0`
/// on days 1, 3 and 5, each report written in order): the report of day 5 opens with the actions
/// the report of day 3 stored in `show_actions`, each with its metric then and now equal to the
/// two shows' `show_summary` rows (the rollup's), the verdict of docs/metrics.md, and every one
/// that did not work carried forward into day 5's actions.
#[test]
fn the_next_report_of_a_seller_judges_the_last_shows_actions_on_show_summary() {
    use crate::lake::rows;
    use std::collections::BTreeMap;
    let f = crate::sql::six_shows();
    let (before, after) = (&f.streams[2], &f.streams[4]);
    let actions_of = |stream: &str| {
        let mut v: Vec<BTreeMap<String, String>> =
            rows(&f.lake, "show_actions", &[]).into_iter().filter(|r| r["stream_id"] == stream).collect();
        v.sort_by(|a, b| a["action_id"].cmp(&b["action_id"]));
        v
    };
    let summary = rows(&f.lake, "show_summary", &[]);
    let fig = |stream: &str, region: &str, metric: &str| -> Option<f64> {
        let row = summary.iter().find(|r| r["stream_id"] == stream && r["region"] == region)?;
        row[metric].parse().ok()
    };
    let then_actions = actions_of(before);
    assert!((3..=5).contains(&then_actions.len()), "3–5 actions stored: {then_actions:?}");
    assert!(then_actions.iter().all(|a| a["seller_id"] == "seller-0"));

    let md = std::fs::read_to_string(f.reports.join(format!("{after}.md"))).unwrap();
    let section = md.split("## Last show's actions — did they work?").nth(1).unwrap().split("\n## ").next().unwrap();
    assert!(section.contains(&format!("`{before}`")), "names the previous show: {section}");
    let table: Vec<Vec<String>> = section
        .lines()
        .filter(|l| l.starts_with("| ") && !l.starts_with("| action |") && !l.starts_with("| --- "))
        .map(|l| l.trim_start_matches("| ").trim_end_matches(" |").split(" | ").map(String::from).collect())
        .collect();
    assert_eq!(table.len(), then_actions.len(), "one row per stored action:\n{section}");

    let now_actions = actions_of(after);
    let mut carried = 0;
    for (a, row) in then_actions.iter().zip(&table) {
        let region = if a["region"] == "NULL" { "ALL" } else { a["region"].as_str() };
        let metric = a["metric"].as_str();
        assert_eq!((row[0].as_str(), row[1].as_str(), row[2].as_str()), (a["text"].as_str(), region, metric));
        // Then: the stored value is day 3's show_summary figure; now: day 5's.
        let then = fig(before, region, metric).unwrap_or_else(|| panic!("show_summary {before} {region} {metric}"));
        let value: f64 = a["value"].parse().unwrap();
        assert!((value - then).abs() <= 1e-9 * then.abs().max(1.0), "{metric}: stored {value}, show_summary {then}");
        let (shown_then, tol) = shown(&row[3]);
        assert!((shown_then - then).abs() <= tol * 1.001, "then {} vs {then}", row[3]);
        let now = fig(after, region, metric);
        let Some(now) = now else {
            assert_eq!((row[4].as_str(), row[6].as_str()), ("–", "no data in this show"));
            continue;
        };
        let (shown_now, tol) = shown(&row[4]);
        assert!((shown_now - now).abs() <= tol * 1.001, "now {} vs {now}", row[4]);
        // The verdict, worked out here: against the threshold, else against then.
        let bar: f64 = a["threshold"].parse().unwrap_or(value);
        let less_is_better = matches!(metric, "stall_ratio" | "startup_ms_p95" | "suspect_sessions");
        let worked = if less_is_better { now <= bar } else { now >= bar };
        assert_eq!(row[6] == "worked", worked, "{metric} in {region}: {then} → {now}, bar {bar}: {}", row[6]);
        if !worked {
            // Carried forward, unless five more urgent actions left no room.
            match now_actions.iter().find(|b| b["rule"] == a["rule"] && b["region"] == a["region"]) {
                Some(again) => {
                    carried += 1;
                    assert_eq!(row[6], "did not work: carried forward");
                    assert!(again["because"].contains("last show's action on this did not work"), "{again:?}");
                }
                None => {
                    assert!(row[6].starts_with("did not work (not carried forward"), "{}", row[6]);
                    assert_eq!(now_actions.len(), 5, "{now_actions:?}");
                }
            }
        }
    }
    // Every show has an EU stall burst: fixing EU's delivery is proposed, and did not halve EU's
    // stall ratio the next time.
    assert!(carried > 0, "{section}");
    let first = std::fs::read_to_string(f.reports.join(format!("{}.md", f.streams[0]))).unwrap();
    assert!(first.contains("No earlier show of seller seller-0 with a report"), "the seller's first show");
}

/// The figures a report shows: equal whichever tables they came from.
fn assert_same_figures(a: &livelake_jobs::report::ReportData, b: &livelake_jobs::report::ReportData) {
    assert_eq!((a.show_start_ms, a.show_end_ms), (b.show_start_ms, b.show_end_ms));
    assert_eq!(a.summary, b.summary, "show_summary figures");
    assert_eq!(a.sources, b.sources, "show_sources figures");
    assert_eq!(a.minutes, b.minutes, "minute rows");
    assert_eq!(a.retention, b.retention, "retention curve");
    assert_eq!(a.fake_starts, b.fake_starts, "fake sessions cleaned");
}

/// Part 3 of the scalable rollup: the report of a rolled-up show reads the rollup's tables
/// (`show_summary`, `show_sources`, `show_minute`, `show_retention`) and shows exactly what
/// recomputing the show from the raw tables shows (late events, duplicates and a fake-viewer
/// spike in it); an event that arrives after the rollup sends the report back to the raw tables
/// until the next rollup.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rolled_up_shows_report_reads_the_rollup_and_equals_the_recompute() {
    use crate::support::lake_url;
    use livelake_jobs::report::{gather, gather_from};
    use livelake_jobs::rules::RuleConfig;

    let dir = tempfile::tempdir().unwrap();
    // 2026-11-20T10:00:00Z: one UTC day.
    let cfg = SimConfig {
        viewers: 600,
        duration_min: 45,
        start_ms: 1_795_168_800_000,
        late_share: 0.01,
        duplicate_share: 0.02,
        ..SimConfig::new(71)
    }
    .with_default_pitches()
    .fit_incidents();
    let sim = simulate(&cfg);
    assert!(sim.truth.totals.delayed_late > 20 && sim.truth.totals.duplicate_player > 20);
    let events = dir.path().join("show.ndjson");
    std::fs::write(&events, ndjson(&sim)).unwrap();
    let lake = run_into_lake(&events, dir.path());
    let (url, stream, rules) = (lake_url(&lake), sim.streams[0].as_str(), RuleConfig::default());
    let lake_arg = lake.to_str().unwrap();

    let before = gather(&url, stream, rules).await.unwrap();
    assert!(!before.from_rollup, "not rolled up yet: recomputed");
    livelake(&["rollup", "--lake", lake_arg, "--date", "2026-11-20", "--no-compact"]);
    let rolled = gather(&url, stream, rules).await.unwrap();
    assert!(rolled.from_rollup, "rolled up and nothing arrived since");
    let raw = gather_from(&url, stream, rules, false).await.unwrap();
    assert!(!raw.from_rollup);
    assert_same_figures(&rolled, &raw);
    assert_same_figures(&rolled, &before);
    assert!(rolled.fake_starts.values().sum::<u64>() >= 100, "the spike's fake sessions: {:?}", rolled.fake_starts);
    assert!(rolled.minutes.len() > 45 && rolled.retention.contains_key("ALL"));

    // A late heartbeat of the show's last playing viewer, after the rollup.
    let last = sim
        .lines
        .iter()
        .rev()
        .filter(|l| l.stream == 0 && matches!(l.class, livelake_pipeline::simulate::LineClass::Valid))
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(&l.bytes).ok())
        .find(|v| v["type"] == "heartbeat" && v["play_ms"].as_i64().is_some_and(|ms| ms > 0))
        .expect("a heartbeat");
    let mut late = last.clone();
    late["event_id"] = "late-after-the-rollup".into();
    let mut file = std::fs::OpenOptions::new().append(true).open(&events).unwrap();
    std::io::Write::write_all(&mut file, format!("{late}\n").as_bytes()).unwrap();
    run_into_lake(&events, dir.path());
    let stale = gather(&url, stream, rules).await.unwrap();
    assert!(!stale.from_rollup, "an event arrived after the rollup: recomputed");
    let added = last["play_ms"].as_i64().unwrap() as f64 / 1000.0;
    let play = |d: &livelake_jobs::report::ReportData| d.fig("ALL", "play_seconds").unwrap();
    assert!((play(&stale) - play(&rolled) - added).abs() < 1e-6, "the late heartbeat's {added} s are in");

    livelake(&["rollup", "--lake", lake_arg, "--date", "2026-11-20", "--no-compact"]);
    let again = gather(&url, stream, rules).await.unwrap();
    assert!(again.from_rollup, "rolled up again");
    assert_same_figures(&again, &stale);
}
