//! The live board. `livelake run --board ADDR`: a simulated show replayed through the file
//! source; the page, loaded in headless Chromium, shows every region of the show, its numbers for
//! closed minutes equal the lake's `stream_minute` rows, and the simulator's stall burst raises an
//! alert for its region and minute; a screenshot is kept in `target/test-artifacts/board.png`.
//! `livelake board`: the same figures and alert from the live topic a Kafka run publishes to.

use std::collections::{BTreeMap, BTreeSet};
use std::io::{BufRead, BufReader};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use livelake_pipeline::simulate::{SimConfig, simulate};

use crate::lake::rows;
use crate::report::{chromium, dump_dom};
use crate::support::{bootstrap, create_topics, http_get, kafka_shared, livelake_bin, ndjson, unique};

/// The port of a printed `live board: http://127.0.0.1:PORT/…` line.
fn board_port(line: &str) -> u16 {
    let addr = line.strip_prefix("live board: http://").unwrap_or_else(|| panic!("{line}"));
    addr[addr.find(':').unwrap() + 1..addr.find('/').unwrap()].parse().unwrap()
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
    let port = board_port(&lines.next().unwrap().unwrap());
    let rest = std::thread::spawn(move || lines.map_while(Result::ok).collect::<Vec<_>>().join("\n"));

    // The file is consumed: the board says so and keeps serving the final state.
    let deadline = Instant::now() + Duration::from_secs(180);
    while !http_get(port, "/api/live").contains("\"ended\":true") {
        assert!(Instant::now() < deadline, "the run did not finish the file");
        assert!(child.try_wait().unwrap().is_none(), "the run exited instead of serving the board");
        std::thread::sleep(Duration::from_millis(300));
    }
    let page = format!("http://127.0.0.1:{port}/");
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
    let compared = check_page_rows(show, stream, &want, false);
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

/// The live topic: `livelake run` on the Kafka source publishes its live rows (provisional, then
/// final) to a topic, and `livelake board` — a process of its own — shows them: every minute of
/// the lake's `stream_minute` is on the board, final, with the lake's figures, and the stall burst
/// is alerted at its region and minute.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_board_apart_from_the_worker_shows_the_live_topic() {
    use livelake_pipeline::kafka::{KafkaConfig, Pace, Topics, produce_simulation};
    let _shared = kafka_shared().await;
    let dir = tempfile::tempdir().unwrap();
    let (player, commerce, dead, live) =
        (unique("live-player"), unique("live-commerce"), unique("live-dead"), unique("live-board"));
    create_topics(&[&player, &commerce, &dead, &live], 3).await;
    let cfg = SimConfig { viewers: 400, duration_min: 30, ..SimConfig::new(83) }.with_default_pitches().fit_incidents();
    let sim = std::sync::Arc::new(simulate(&cfg));
    let topics = Topics { player: player.clone(), commerce: commerce.clone() };
    let produced = {
        let sim = sim.clone();
        tokio::task::spawn_blocking(move || {
            produce_simulation(&KafkaConfig::new(bootstrap()), &topics, &sim, Pace::Flat, |_, _| {}).unwrap()
        })
        .await
        .unwrap()
    };
    assert_eq!(produced.delivered, produced.sent);

    // A message that is not a live row: the board skips it with a warning that names it.
    {
        use rdkafka::producer::{BaseProducer, BaseRecord, Producer};
        let p: BaseProducer = rdkafka::ClientConfig::new().set("bootstrap.servers", bootstrap()).create().unwrap();
        p.send(BaseRecord::to(&live).key("junk").payload("not a live row")).map_err(|(e, _)| e).unwrap();
        p.flush(Duration::from_secs(10)).unwrap();
    }
    let board_log = dir.path().join("board.log");
    let (mut board, port) = start_board(&live, &board_log);

    let lake = dir.path().join("lake");
    let run = Command::new(livelake_bin())
        .args(["run", "--source", "kafka", "--brokers", &bootstrap(), "--group-id", &unique("live-run")])
        .args(["--until-idle", "3", "--metrics-listen", "off", "--lake"])
        .arg(&lake)
        .env("LIVELAKE__KAFKA__PLAYER_TOPIC", &player)
        .env("LIVELAKE__KAFKA__COMMERCE_TOPIC", &commerce)
        .env("LIVELAKE__KAFKA__DEADLETTER_TOPIC", &dead)
        .env("LIVELAKE__KAFKA__LIVE_TOPIC", &live)
        .output()
        .unwrap();
    assert!(run.status.success(), "run: {}", String::from_utf8_lossy(&run.stderr));

    check_board_against_lake(port, &lake, &sim);

    Command::new("kill").args(["-TERM", &board.id().to_string()]).status().unwrap();
    let status = board.wait().unwrap();
    assert!(status.success(), "SIGTERM ends the board: {status}");
    let log = std::fs::read_to_string(&board_log).unwrap();
    assert!(log.contains("not a live row: skipped") && log.contains("offset=0"), "{log}");
}

/// Two workers of one consumer group publish to the live topic, each the figures of its own
/// partitions, and one `livelake board` shows them all: the show's first half is read by one
/// worker, the second joins (the group moves partitions to it, with their state, through the
/// lake), the second half is produced, and every minute of every stream in the lake is on the
/// board, final, with the lake's figures — in its JSON and on the page in headless Chromium; each
/// stall burst is alerted.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_workers_publish_to_the_live_topic_and_one_board_shows_them_all() {
    use livelake_pipeline::kafka::{KafkaConfig, Pace, Topics, produce_simulation};
    use livelake_pipeline::simulate::Simulation;
    let _shared = kafka_shared().await;
    let dir = tempfile::tempdir().unwrap();
    let (player, commerce, dead, live) =
        (unique("live2-player"), unique("live2-commerce"), unique("live2-dead"), unique("live2-board"));
    create_topics(&[&player, &commerce, &dead, &live], 4).await;
    let cfg = SimConfig { viewers: 300, duration_min: 30, shows: 4, ..SimConfig::new(87) }
        .with_default_pitches()
        .fit_incidents();
    let sim = simulate(&cfg);
    let half = sim.lines.len() / 2;
    let produce = |lines: &[livelake_pipeline::simulate::Line]| {
        let part = Simulation { streams: sim.streams.clone(), lines: lines.to_vec(), truth: Default::default() };
        let topics = Topics { player: player.clone(), commerce: commerce.clone() };
        let done = produce_simulation(&KafkaConfig::new(bootstrap()), &topics, &part, Pace::Flat, |_, _| {}).unwrap();
        assert_eq!(done.delivered, done.sent);
    };
    tokio::task::block_in_place(|| produce(&sim.lines[..half]));
    let board_log = dir.path().join("board.log");
    let (mut board, port) = start_board(&live, &board_log);
    let lake = dir.path().join("lake");
    let group = unique("live2-run");
    let worker = |name: &str| {
        Command::new(livelake_bin())
            .args(["run", "--source", "kafka", "--brokers", &bootstrap(), "--group-id", &group])
            .args(["--metrics-listen", "off", "--lake"])
            .arg(&lake)
            .env("LIVELAKE__KAFKA__PLAYER_TOPIC", &player)
            .env("LIVELAKE__KAFKA__COMMERCE_TOPIC", &commerce)
            .env("LIVELAKE__KAFKA__DEADLETTER_TOPIC", &dead)
            .env("LIVELAKE__KAFKA__LIVE_TOPIC", &live)
            .env("LIVELAKE__SINK__ROLL_SECS", "1")
            // A caught-up partition quiet for 3 s counts as idle: its watermark moves on with the
            // wall clock, so the workers close windows without more input.
            .env("LIVELAKE__WINDOWS__IDLE_SECS", "3")
            .env("RUST_LOG", "livelake_pipeline=info")
            .env("NO_COLOR", "1")
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.path().join(format!("{name}.log"))).unwrap())
            .spawn()
            .unwrap()
    };
    let log = |name: &str| std::fs::read_to_string(dir.path().join(format!("{name}.log"))).unwrap_or_default();
    let mut w1 = worker("w1");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log("w1").contains("lake commit") {
        assert!(Instant::now() < deadline, "w1 made no commit:\n{}", log("w1"));
        std::thread::sleep(Duration::from_millis(200));
    }
    let mut w2 = worker("w2");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !log("w2").contains("partitions assigned") {
        assert!(Instant::now() < deadline, "w2 was assigned nothing:\n{}", log("w2"));
        std::thread::sleep(Duration::from_millis(200));
    }
    tokio::task::block_in_place(|| produce(&sim.lines[half..]));
    // Both workers have caught up and closed every window once the lake stops changing.
    let deadline = Instant::now() + Duration::from_secs(120);
    let mut last = (usize::MAX, Instant::now());
    loop {
        let n = rows(&lake, "stream_minute", &[]).len();
        if n != last.0 {
            last = (n, Instant::now());
        } else if last.1.elapsed() > Duration::from_secs(10) {
            break;
        }
        assert!(Instant::now() < deadline, "the lake kept changing");
        std::thread::sleep(Duration::from_millis(500));
    }
    for w in [&w1, &w2] {
        Command::new("kill").args(["-TERM", &w.id().to_string()]).status().unwrap();
    }
    for (name, w) in [("w1", &mut w1), ("w2", &mut w2)] {
        let status = w.wait().unwrap();
        assert!(status.success(), "{name} stops cleanly: {status}\n{}", log(name));
    }
    // Each worker published the minutes of its own partitions (both had some).
    for name in ["w1", "w2"] {
        let text = log(name);
        let last = text.lines().rev().find(|l| l.contains("partitions assigned")).unwrap_or_default().to_string();
        assert!(last.contains("slots={") && !last.contains("slots={}"), "{name}: {last}");
    }
    check_board_against_lake(port, &lake, &sim);
    // The page in headless Chromium: every stream and region, closed minutes with the lake's
    // figures, each stall burst alerted.
    let dom = dump_dom(&format!("http://127.0.0.1:{port}/"), &dir.path().join("chromium"));
    let mut compared = 0;
    for stream in &sim.streams {
        let mut want: BTreeMap<(String, i64), BTreeMap<String, String>> = BTreeMap::new();
        for r in rows(&lake, "stream_minute", &[]).into_iter().filter(|r| r["stream_id"] == *stream) {
            let start = chrono::DateTime::parse_from_rfc3339(&r["window_start"]).unwrap().timestamp_millis();
            want.insert((r["region"].clone(), start), r);
        }
        let show = between(&dom, &format!("<section class=\"show\" data-stream=\"{stream}\">"), "</section>");
        compared += check_page_rows(show, stream, &want, true);
        for burst in sim.truth.incidents.iter().filter(|i| i.kind == "stall_burst" && i.stream_id == *stream) {
            let burst_ms = chrono::DateTime::parse_from_rfc3339(&burst.start).unwrap().timestamp_millis();
            let minute = (burst_ms - want.keys().map(|(_, s)| *s).min().unwrap()).div_euclid(60_000);
            let alert = format!(
                "<li class=\"alert\" data-kind=\"stall_burst\" data-region=\"{}\" data-from=\"{minute}\"",
                burst.region
            );
            assert!(show.contains(&alert), "{stream}: {alert}");
        }
    }
    assert!(compared > 1000, "{compared} figures compared on the page");
    Command::new("kill").args(["-TERM", &board.id().to_string()]).status().unwrap();
    assert!(board.wait().unwrap().success(), "SIGTERM ends the board");
}

/// `livelake board` on the live topic `live`, its log to `log`: the process and its port.
fn start_board(live: &str, log: &Path) -> (std::process::Child, u16) {
    let mut board = Command::new(livelake_bin())
        .args(["board", "--listen", "127.0.0.1:0", "--brokers", &bootstrap(), "--topic", live])
        .env("NO_COLOR", "1")
        .stdout(Stdio::piped())
        .stderr(std::fs::File::create(log).unwrap())
        .spawn()
        .unwrap();
    let port = board_port(&BufReader::new(board.stdout.take().unwrap()).lines().next().unwrap().unwrap());
    (board, port)
}

/// The board at `port` caught up with the lake at `lake`: every minute of every stream of its
/// `stream_minute` is on the board, final, with the lake's figures (a minute still open in the
/// workers is provisional on the board and not in the lake), and each stall burst of the
/// simulation is alerted at its stream, region and minute.
fn check_board_against_lake(port: u16, lake: &Path, sim: &livelake_pipeline::simulate::Simulation) {
    let mut want: BTreeMap<(String, String, i64), BTreeMap<String, String>> = BTreeMap::new();
    for r in rows(lake, "stream_minute", &[]) {
        let start = chrono::DateTime::parse_from_rfc3339(&r["window_start"]).unwrap().timestamp_millis();
        let key = (r["stream_id"].clone(), r["region"].clone(), start);
        if let Some(before) = want.insert(key.clone(), r.clone()) {
            panic!("{key:?} is in the lake twice:\n{before:?}\n{r:?}");
        }
    }
    let streams: BTreeSet<String> = want.keys().map(|(s, _, _)| s.clone()).collect();
    let deadline = Instant::now() + Duration::from_secs(60);
    let live = loop {
        let json: serde_json::Value = serde_json::from_str(&http_get(port, "/api/live")).unwrap();
        let shows: Vec<serde_json::Value> = json["streams"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|s| streams.contains(s["stream_id"].as_str().unwrap_or_default()))
            .cloned()
            .collect();
        let finals: usize = shows
            .iter()
            .map(|s| {
                s["regions"]
                    .as_object()
                    .unwrap()
                    .values()
                    .flat_map(|v| v.as_array().unwrap())
                    .filter(|r| r["provisional"] == false)
                    .count()
            })
            .sum();
        if finals == want.len() {
            break shows;
        }
        assert!(Instant::now() < deadline, "the board has {finals} final minutes of {}", want.len());
        std::thread::sleep(Duration::from_millis(300));
    };
    let mut compared = 0;
    for show in &live {
        let stream = show["stream_id"].as_str().unwrap().to_string();
        for (region, minutes) in show["regions"].as_object().unwrap() {
            for m in minutes.as_array().unwrap() {
                let start = m["window_start"].as_i64().unwrap();
                let row = want.get(&(stream.clone(), region.clone(), start));
                if m["provisional"] == true {
                    // A minute still open: the lake has no row of it yet.
                    assert!(row.is_none(), "{stream} {region} {start}: closed in the lake, provisional on the board");
                    continue;
                }
                let row =
                    row.unwrap_or_else(|| panic!("{stream} {region} {start}: final on the board, not in the lake"));
                for (col, v) in m["figures"].as_object().unwrap() {
                    match (row[col].as_str(), v.as_f64()) {
                        ("NULL", None) => {}
                        (lake, Some(v)) => {
                            let lake: f64 = lake.parse().unwrap_or_else(|_| panic!("{region} {start} {col}: {lake}"));
                            assert!(
                                (lake - v).abs() <= 1e-9 * lake.abs().max(1.0),
                                "{stream} {region} {start} {col}: {v} vs {lake}"
                            );
                        }
                        (lake, None) => {
                            panic!("{stream} {region} {start} {col}: null on the board, {lake} in the lake")
                        }
                    }
                    compared += 1;
                }
            }
        }
    }
    assert!(compared > 500, "{compared} figures compared");
    let bursts: Vec<_> = sim.truth.incidents.iter().filter(|i| i.kind == "stall_burst").collect();
    assert!(!bursts.is_empty(), "a stall burst");
    for burst in bursts {
        let show = live.iter().find(|s| s["stream_id"] == burst.stream_id.as_str()).expect("the burst's stream");
        let first = want.keys().filter(|(s, _, _)| *s == burst.stream_id).map(|(_, _, t)| *t).min().unwrap();
        let burst_ms = chrono::DateTime::parse_from_rfc3339(&burst.start).unwrap().timestamp_millis();
        let minute = (burst_ms - first).div_euclid(60_000);
        let alerted =
            show["alerts"].as_array().unwrap().iter().any(|a| {
                a["kind"] == "stall_burst" && a["region"] == burst.region.as_str() && a["from_minute"] == minute
            });
        assert!(alerted, "{}: stall burst in {} at minute {minute}: {}", burst.stream_id, burst.region, show["alerts"]);
    }
}

/// The rows of the board page's section `show` of `stream` against the lake's minutes of it
/// (`want`, by region and window start): per region the last 30 minutes and the current one, each
/// closed minute final with the lake's figures, raw and as shown. With `open_allowed`, a minute
/// the workers still hold open is provisional on the page and absent from the lake. Returns the
/// figures compared.
fn check_page_rows(
    show: &str,
    stream: &str,
    want: &BTreeMap<(String, i64), BTreeMap<String, String>>,
    open_allowed: bool,
) -> usize {
    let regions: BTreeSet<&str> = want.keys().map(|(r, _)| r.as_str()).collect();
    let mut compared = 0;
    for region in &regions {
        let block = between(show, &format!("<div class=\"region\" data-region=\"{region}\">"), "</table>");
        let trs: Vec<&str> = block.split("<tr data-start=\"").skip(1).collect();
        let in_lake = want.keys().filter(|(r, _)| r == region).count();
        if open_allowed {
            // Every closed minute from the first one shown on is shown.
            let shown: BTreeSet<i64> = trs.iter().map(|tr| tr[..tr.find('"').unwrap()].parse().unwrap()).collect();
            let from = shown.first().copied().unwrap_or(i64::MAX);
            for (_, start) in want.keys().filter(|(r, s)| r == region && *s >= from) {
                assert!(shown.contains(start), "{stream} {region} {start}: closed in the lake, not on the page");
            }
        } else {
            assert_eq!(trs.len(), in_lake.min(31), "{region}: the last 30 minutes and the current one");
        }
        for tr in trs {
            let start: i64 = tr[..tr.find('"').unwrap()].parse().unwrap();
            if !tr.contains("data-final=\"1\"") {
                assert!(open_allowed, "{region} {start}: a closed minute is marked final");
                assert!(
                    !want.contains_key(&(region.to_string(), start)),
                    "{stream} {region} {start}: closed in the lake"
                );
                continue;
            }
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
                        // As shown: the page's own value rounded for display. Through the live
                        // topic's JSON a figure can come back 1 ulp off (serde_json's default float
                        // parser), enough to move a rounding at a half.
                        assert_eq!(text, shown(col, on_page), "{region} {start} {col}");
                    }
                }
                compared += 1;
            }
        }
    }
    compared
}
