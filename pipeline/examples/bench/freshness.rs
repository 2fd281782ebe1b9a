//! Freshness: how long after an event is produced its `stream_minute` row is queryable. A show is
//! simulated live (event times = now) and produced to Kafka at the pace of its delivery times,
//! while `livelake run` consumes it; a watcher lists the lake's `stream_minute` files and notes
//! when each (stream, region, window) row first appears (published files are what `livelake sql`,
//! DuckDB and pyarrow read). Each event's freshness = that moment − its production time. Printed
//! for all events, for the steady state (windows that close while the show is still producing)
//! and for the tail (the show's last windows, which close once the partitions idle).
//!
//! Event → board: the run also serves the live board (`--board`), polled every 100 ms. An event
//! is on the board once the board's count of its kind for its stream, region and minute reaches
//! it (the k-th session start, comment, product click, add-to-cart or order of a minute, in
//! production order, is on the board when that minute's count there is ≥ k): provisional figures
//! while the minute is open, then the final row.
//! Run by `make bench`:
//! `cargo run --release --features bench --example bench -- freshness BROKERS PLAYER_TOPIC COMMERCE_TOPIC DEAD_TOPIC LIVELAKE_BIN OUT_DIR [MINUTES] [VIEWERS]`

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use arrow::array::{AsArray, RecordBatch};
use arrow::datatypes::TimestampMillisecondType;
use livelake_pipeline::kafka::{KafkaConfig, Pace, Topics, produce_simulation};
use livelake_pipeline::simulate::{LineClass, SimConfig, simulate};
use livelake_schemas::Decoder;

/// (stream, region, window start ms).
type Key = (String, String, i64);

fn now_ms() -> i64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_millis() as i64
}

fn rows(path: &Path) -> Vec<RecordBatch> {
    let Ok(f) = std::fs::File::open(path) else { return Vec::new() };
    let Ok(b) = parquet::arrow::arrow_reader::ParquetRecordBatchReaderBuilder::try_new(f) else { return Vec::new() };
    b.build().map(|r| r.flatten().collect()).unwrap_or_default()
}

/// Watch `lake/stream_minute` until `stop`: the first time each row's key is seen.
fn watch(lake: PathBuf, seen: Arc<Mutex<BTreeMap<Key, i64>>>, stop: Arc<AtomicBool>) {
    let mut files = BTreeSet::new();
    let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    while !stop.load(Ordering::Relaxed) {
        // Committed files only (absent at first).
        let paths = rt
            .block_on(livelake_jobs::store::delta::local_files(&lake, livelake_schemas::Table::StreamMinute))
            .unwrap_or_default();
        let at = now_ms();
        for p in paths {
            if !files.insert(p.clone()) {
                continue;
            }
            let region = p
                .components()
                .find_map(|c| c.as_os_str().to_str()?.strip_prefix("region=").map(String::from))
                .unwrap_or_default();
            for b in rows(&p) {
                let ids = b.column_by_name("stream_id").unwrap().as_string::<i32>().clone();
                let ws = b.column_by_name("window_start").unwrap().as_primitive::<TimestampMillisecondType>().clone();
                let mut seen = seen.lock().unwrap();
                for i in 0..b.num_rows() {
                    seen.entry((ids.value(i).to_string(), region.clone(), ws.value(i))).or_insert(at);
                }
            }
        }
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The board's counts of an event kind per minute: for (key, column), when each count was first
/// seen (index k − 1: count ≥ k).
type BoardSeen = BTreeMap<(Key, &'static str), Vec<i64>>;

/// The `stream_minute` column that counts each event type the board shows.
fn counted_by(event_type: &str) -> Option<&'static str> {
    Some(match event_type {
        "session_start" => "sessions_started_raw",
        "comment" => "comments",
        "product_click" => "product_clicks",
        "add_to_cart" => "add_to_carts",
        "order" => "orders",
        _ => return None,
    })
}

const COUNTS: [&str; 5] = ["sessions_started_raw", "comments", "product_clicks", "add_to_carts", "orders"];

/// Poll the board's `/api/live` on `port` every 100 ms until `stop`.
fn poll_board(port: u16, seen: Arc<Mutex<BoardSeen>>, stop: Arc<AtomicBool>) {
    use std::io::{Read, Write};
    while !stop.load(Ordering::Relaxed) {
        std::thread::sleep(Duration::from_millis(100));
        let Ok(mut conn) = std::net::TcpStream::connect(("127.0.0.1", port)) else { continue };
        let _ = write!(conn, "GET /api/live HTTP/1.0\r\nHost: localhost\r\n\r\n");
        let mut text = String::new();
        if conn.read_to_string(&mut text).is_err() {
            continue;
        }
        let at = now_ms();
        let Some((_, body)) = text.split_once("\r\n\r\n") else { continue };
        let Ok(json) = serde_json::from_str::<serde_json::Value>(body) else { continue };
        let mut seen = seen.lock().unwrap();
        for show in json["streams"].as_array().into_iter().flatten() {
            let stream = show["stream_id"].as_str().unwrap_or_default();
            for (region, minutes) in show["regions"].as_object().into_iter().flatten() {
                for m in minutes.as_array().into_iter().flatten() {
                    let key = (stream.to_string(), region.clone(), m["window_start"].as_i64().unwrap_or_default());
                    for col in COUNTS {
                        let n = m["figures"][col].as_f64().unwrap_or(0.0) as usize;
                        let firsts = seen.entry((key.clone(), col)).or_default();
                        while firsts.len() < n {
                            firsts.push(at);
                        }
                    }
                }
            }
        }
    }
}

fn pct(sorted: &[i64], q: f64) -> f64 {
    if sorted.is_empty() {
        return f64::NAN;
    }
    sorted[((sorted.len() - 1) as f64 * q).round() as usize] as f64 / 1000.0
}

pub fn main(a: &[String]) {
    let [brokers, player, commerce, dead, bin, out, ..] = a else {
        panic!(
            "usage: freshness BROKERS PLAYER_TOPIC COMMERCE_TOPIC DEAD_TOPIC LIVELAKE_BIN OUT_DIR [MINUTES] [VIEWERS]"
        );
    };
    let out = PathBuf::from(out);
    let minutes: i64 = a.get(6).and_then(|s| s.parse().ok()).unwrap_or(5);
    let viewers: usize = a.get(7).and_then(|s| s.parse().ok()).unwrap_or(3000);
    let lake = out.join("fresh.lake");
    let _ = std::fs::remove_dir_all(&lake);

    let group = format!("fresh-{}", now_ms());
    let board_port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let board_addr = format!("127.0.0.1:{board_port}");
    let mut run = Command::new(bin)
        .args(["run", "--source", "kafka", "--metrics-listen", "off", "--brokers", brokers, "--group-id", &group])
        .args(["--board", &board_addr])
        .arg("--lake")
        .arg(&lake)
        .env("LIVELAKE__KAFKA__PLAYER_TOPIC", player)
        .env("LIVELAKE__KAFKA__COMMERCE_TOPIC", commerce)
        .env("LIVELAKE__KAFKA__DEADLETTER_TOPIC", dead)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .spawn()
        .expect("starting livelake run");

    // A live show: it starts a few seconds from now; no minutes-late deliveries (those never
    // reach stream_minute by definition) and no fake spike (placed ≥ 6 minutes in, it would
    // outlast a short show).
    let start = now_ms() + 5_000;
    let cfg = SimConfig {
        viewers,
        duration_min: minutes,
        start_ms: start,
        late_share: 0.0,
        spike: None,
        ..SimConfig::new(11)
    }
    .with_default_pitches()
    .fit_incidents();
    let sim = simulate(&cfg);
    let decoder = Decoder::default();
    let seen = Arc::new(Mutex::new(BTreeMap::new()));
    let stop = Arc::new(AtomicBool::new(false));
    let watcher = {
        let (lake, seen, stop) = (lake.clone(), seen.clone(), stop.clone());
        std::thread::spawn(move || watch(lake, seen, stop))
    };
    let board_seen = Arc::new(Mutex::new(BoardSeen::new()));
    let board_poller = {
        let (seen, stop) = (board_seen.clone(), stop.clone());
        std::thread::spawn(move || poll_board(board_port, seen, stop))
    };

    let mut produced: Vec<(Key, i64)> = Vec::new();
    let mut counted: BTreeMap<(Key, &'static str), Vec<i64>> = BTreeMap::new();
    let mut ids = std::collections::HashSet::new();
    eprintln!("freshness: producing {} messages over {minutes} minutes, live", sim.lines.len());
    let topics = Topics { player: player.clone(), commerce: commerce.clone() };
    produce_simulation(&KafkaConfig::new(brokers.clone()), &topics, &sim, Pace::Live, |line, at| {
        if line.class == LineClass::Valid
            && let Ok(e) = decoder.decode(&line.bytes, at)
        {
            let window = e.ts_ms.div_euclid(60_000) * 60_000;
            let key = (e.stream_id.to_string(), e.region.to_string(), window);
            // Duplicates count once on the board.
            if let Some(col) = counted_by(e.kind().as_str())
                && ids.insert(e.event_id.to_string())
            {
                counted.entry((key.clone(), col)).or_default().push(at);
            }
            produced.push((key, at));
        }
    })
    .expect("producing the show");
    // The last windows close once the partitions idle past the watermark (windows.idle_secs).
    let deadline = now_ms() + 300_000;
    let wanted: BTreeSet<&Key> = produced.iter().map(|p| &p.0).collect();
    while now_ms() < deadline && wanted.iter().any(|k| !seen.lock().unwrap().contains_key(*k)) {
        std::thread::sleep(Duration::from_millis(500));
    }
    stop.store(true, Ordering::Relaxed);
    watcher.join().unwrap();
    board_poller.join().unwrap();
    let _ = Command::new("kill").args(["-TERM", &run.id().to_string()]).status();
    let _ = run.wait();

    // Steady state: windows that close while the show still produces. The last windows close
    // only once the partitions have been idle for windows.idle_secs, so they are reported apart.
    let steady_until = start + (minutes - 2) * 60_000;
    let seen = seen.lock().unwrap();
    let latencies = |steady: Option<bool>| {
        let mut v: Vec<i64> = produced
            .iter()
            .filter(|(k, _)| steady.is_none_or(|s| (k.2 + 60_000 <= steady_until) == s))
            .filter_map(|(k, at)| seen.get(k).map(|v| v - at))
            .collect();
        v.sort_unstable();
        v
    };
    let (all, steady, tail) = (latencies(None), latencies(Some(true)), latencies(Some(false)));
    let missing = produced.len() - all.len();
    let target = 60.0 + 30.0 + 60.0 + 15.0;
    println!(
        "freshness events {} p50_s {:.1} p95_s {:.1} max_s {:.1} steady_events {} steady_p50_s {:.1} steady_p95_s {:.1} \
         tail_events {} tail_p50_s {:.1} tail_p95_s {:.1} target_p95_s {target:.0} never_visible {missing}",
        all.len(),
        pct(&all, 0.5),
        pct(&all, 0.95),
        pct(&all, 1.0),
        steady.len(),
        pct(&steady, 0.5),
        pct(&steady, 0.95),
        tail.len(),
        pct(&tail, 0.5),
        pct(&tail, 0.95),
    );
    let board_seen = board_seen.lock().unwrap();
    let mut on_board = Vec::new();
    let mut never = 0;
    for (k, produced_at) in &counted {
        let firsts = board_seen.get(k).map(Vec::as_slice).unwrap_or_default();
        for (j, at) in produced_at.iter().enumerate() {
            match firsts.get(j) {
                Some(seen) => on_board.push((seen - at).max(0)),
                None => never += 1,
            }
        }
    }
    on_board.sort_unstable();
    println!(
        "board events {} p50_s {:.2} p95_s {:.2} max_s {:.2} target_p95_s 2 never_shown {never}",
        on_board.len(),
        pct(&on_board, 0.5),
        pct(&on_board, 0.95),
        pct(&on_board, 1.0),
    );
}
