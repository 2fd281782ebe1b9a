//! The live board (`livelake run --board ADDR`): a simulated show replayed through the file
//! source; the page, loaded in headless Chromium, shows every region of the show, its numbers for
//! closed minutes equal the lake's `stream_minute` rows, and the simulator's stall burst raises an
//! alert for its region and minute. A screenshot is kept in `target/test-artifacts/board.png`.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use livelake_pipeline::simulate::{SimConfig, simulate};

use crate::lake::rows;
use crate::report::{chromium, dump_dom};
use crate::support::{livelake_bin, ndjson};

/// `GET path` on `addr` (HTTP/1.0, so the server closes the connection): the body.
fn http_get(addr: &str, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(addr).unwrap();
    write!(s, "GET {path} HTTP/1.0\r\nHost: {addr}\r\n\r\n").unwrap();
    let mut text = String::new();
    s.read_to_string(&mut text).unwrap();
    text.split_once("\r\n\r\n").map(|(_, body)| body.to_string()).unwrap_or_default()
}

/// A value as the board shows it in column `col`.
fn shown(col: &str, v: f64) -> String {
    match col {
        "stall_ratio" => format!("{:.2}%", v * 100.0),
        "startup_ms_p95" | "latency_ms_p95" => format!("{v:.0} ms"),
        "gmv_usd" => format!("${v:.2}"),
        _ => format!("{v:.0}"),
    }
}

/// The text between `from` (after it) and the next `to`.
fn between<'a>(s: &'a str, from: &str, to: &str) -> &'a str {
    let s = &s[s.find(from).unwrap_or_else(|| panic!("{from:?} in {s}")) + from.len()..];
    &s[..s.find(to).unwrap_or(s.len())]
}

#[test]
fn the_board_shows_the_lakes_minutes_and_alerts_the_stall_burst() {
    let dir = tempfile::tempdir().unwrap();
    let cfg = SimConfig { viewers: 600, duration_min: 45, ..SimConfig::new(81) }.with_default_pitches().fit_incidents();
    let sim = simulate(&cfg);
    let events = dir.path().join("show.ndjson");
    std::fs::write(&events, ndjson(&sim)).unwrap();
    let lake = dir.path().join("lake");
    let mut child = Command::new(livelake_bin())
        .args(["run", "--metrics-listen", "off", "--board", "127.0.0.1:0", "--lake"])
        .arg(&lake)
        .arg("--source")
        .arg(format!("file:{}", events.display()))
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut lines = BufReader::new(child.stdout.take().unwrap()).lines();
    let first = lines.next().unwrap().unwrap();
    let addr = first.strip_prefix("live board: http://").unwrap_or_else(|| panic!("{first}")).trim_end_matches('/');
    let addr = addr.to_string();
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));

    // The file is consumed: the board says so and keeps serving the final state.
    let deadline = Instant::now() + Duration::from_secs(180);
    while !http_get(&addr, "/api/live").contains("\"ended\":true") {
        assert!(Instant::now() < deadline, "the run did not finish the file");
        assert!(child.try_wait().unwrap().is_none(), "the run exited instead of serving the board");
        std::thread::sleep(Duration::from_millis(300));
    }
    let page = format!("http://{addr}/");
    let dom = dump_dom(&page, &dir.path().join("chromium"));
    let artefacts = Path::new(env!("CARGO_MANIFEST_DIR")).join("../target/test-artifacts");
    std::fs::create_dir_all(&artefacts).unwrap();
    let shot = artefacts.join("board.png");
    let out = Command::new(chromium())
        .args(["--headless", "--no-sandbox", "--disable-gpu", "--window-size=1366,1400", "--virtual-time-budget=3000"])
        .arg(format!("--user-data-dir={}", dir.path().join("chromium-shot").display()))
        .arg(format!("--screenshot={}", shot.display()))
        .arg(&page)
        .output()
        .unwrap();
    assert!(out.status.success() && shot.is_file(), "screenshot: {}", String::from_utf8_lossy(&out.stderr));
    Command::new("kill").args(["-TERM", &child.id().to_string()]).status().unwrap();
    let status = child.wait().unwrap();
    assert!(status.success(), "SIGTERM ends the board cleanly: {status}");
    let stdout = rest.join().unwrap();
    assert!(stdout.contains("keeps showing the final state"), "{stdout}");

    // The lake's minutes, by region and window start.
    let stream = &sim.streams[0];
    let mut want: BTreeMap<(String, i64), BTreeMap<String, String>> = BTreeMap::new();
    for r in rows(&lake, "stream_minute", &[]) {
        assert_eq!(&r["stream_id"], stream);
        let start = chrono::DateTime::parse_from_rfc3339(&r["window_start"]).unwrap().timestamp_millis();
        want.insert((r["region"].clone(), start), r);
    }
    let regions: BTreeSet<&str> = want.keys().map(|(r, _)| r.as_str()).collect();
    assert!(regions.len() >= 4, "the show reaches several regions: {regions:?}");

    let show = between(&dom, &format!("<section class=\"show\" data-stream=\"{stream}\">"), "</section>");
    let mut compared = 0;
    for region in &regions {
        let block = between(show, &format!("<div class=\"region\" data-region=\"{region}\">"), "</table>");
        let trs: Vec<&str> = block.split("<tr data-start=\"").skip(1).collect();
        let in_lake = want.keys().filter(|(r, _)| r == region).count();
        assert_eq!(trs.len(), in_lake.min(31), "{region}: the last 30 minutes and the current one");
        for tr in trs {
            let start: i64 = tr[..tr.find('"').unwrap()].parse().unwrap();
            assert!(tr.contains("data-final=\"1\""), "a closed minute is marked final");
            let row = &want[&(region.to_string(), start)];
            for td in tr.split("<td data-col=\"").skip(1) {
                let col = &td[..td.find('"').unwrap()];
                let raw = between(td, "data-v=\"", "\"");
                let text = between(td, "\">", "</td>");
                match row[col].as_str() {
                    "NULL" => assert_eq!((raw, text), ("", "–"), "{region} {start} {col}"),
                    v => {
                        let v: f64 = v.parse().unwrap();
                        let on_page: f64 = raw.parse().unwrap();
                        assert!((on_page - v).abs() <= 1e-9 * v.abs().max(1.0), "{region} {start} {col}: {raw} vs {v}");
                        assert_eq!(text, shown(col, v), "{region} {start} {col}");
                    }
                }
                compared += 1;
            }
        }
    }
    assert!(compared > 500, "{compared} figures compared");

    // The stall burst: its region, and its first minute counted from the show's first minute.
    let burst = sim.truth.incidents.iter().find(|i| i.kind == "stall_burst").expect("a stall burst");
    let burst_ms = chrono::DateTime::parse_from_rfc3339(&burst.start).unwrap().timestamp_millis();
    let first = want.keys().map(|(_, s)| *s).min().unwrap();
    let minute = (burst_ms - first).div_euclid(60_000);
    let alert = format!(
        "<li class=\"alert\" data-kind=\"stall_burst\" data-region=\"{}\" data-from=\"{minute}\"",
        burst.region
    );
    assert!(show.contains(&alert), "{alert} in\n{}", between(show, "<ul class=\"alerts\">", "</ul>"));
    // Both languages are on the page (the toggle shows one).
    assert!(dom.contains("卡顿率") && dom.contains("stall ratio"));
}
