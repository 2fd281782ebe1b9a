//! The live board of `livelake run --board ADDR`: what the live-ops team watches during a show.
//! Per show and region, the current minute and the last 30 minutes of the `stream_minute` figures
//! (viewers, stall ratio, startup and latency p95, exits and exits after a stall, comments, likes,
//! clicks, carts, orders, GMV) as a table and a chart, and alerts when the report's anomaly rules
//! (`livelake_jobs::report::find`: stall burst, exit jump, fake-viewer spike) fire on the final
//! minutes so far.
//!
//! The engine publishes each window's row when it closes, and provisional rows of the windows
//! still open every second ([`LiveOut::publish`]); `livelake board` feeds a board from the live
//! topic instead ([`Board::publish_rows`]). The page is rendered on the server (tables and SVG, no CDN, works offline) and refreshes itself every two
//! seconds with a few lines of JavaScript; `/api/live` gives the same as JSON. English and Chinese
//! labels (a toggle). Read-only; a board on a non-loopback address needs an access token.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::net::SocketAddr;
use std::sync::{Arc, Mutex};

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::compute::cast;
use arrow::datatypes::{DataType, Float64Type, TimestampMillisecondType};
use axum::Router;
use axum::extract::State;
use axum::http::header::{AUTHORIZATION, CONTENT_TYPE};
use axum::http::{HeaderMap, StatusCode, Uri};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use chrono::DateTime;
use livelake_jobs::report::followup::display;
use livelake_jobs::report::{Anomaly, Figures, MinutePoint, ReportData, find};
use serde_json::json;
use tokio::net::TcpListener;
use tracing::{info, warn};

/// Minutes of history each region shows.
pub const HISTORY_MINUTES: usize = 30;

/// The figures the board shows: column, English label, Chinese label.
const COLUMNS: [(&str, &str, &str); 12] = [
    ("sessions_active", "viewers", "观众"),
    ("stall_ratio", "stall ratio", "卡顿率"),
    ("startup_ms_p95", "startup p95", "首帧 p95"),
    ("latency_ms_p95", "latency p95", "延迟 p95"),
    ("exits", "exits", "离开"),
    ("exits_after_stall", "exits after stall", "卡顿后离开"),
    ("comments", "comments", "评论"),
    ("likes", "likes", "点赞"),
    ("product_clicks", "clicks", "商品点击"),
    ("add_to_carts", "carts", "加购"),
    ("orders", "orders", "订单"),
    ("gmv_usd", "GMV", "成交额"),
];

/// Columns read from `stream_minute` rows beyond the shown ones (the anomaly rules use them).
const RULE_COLUMNS: [&str; 5] =
    ["sessions_stalled", "sessions_started", "sessions_started_raw", "play_seconds", "stall_seconds"];

/// A figure as the board shows it (as the report does).
fn shown(v: Option<f64>, col: &str) -> String {
    v.map_or_else(|| "–".to_string(), |v| display(col, v))
}

/// One stream × region × minute on the board.
struct Row {
    /// Its window is still open: figures so far.
    provisional: bool,
    figures: Figures,
}

#[derive(Default)]
struct StreamState {
    /// (region, window start) → its row.
    rows: BTreeMap<(String, i64), Row>,
    /// Its latest window start.
    last_ms: i64,
}

#[derive(Default)]
struct BoardState {
    streams: BTreeMap<String, StreamState>,
    /// The latest window start of any show.
    newest_ms: i64,
    ended: bool,
    updated_ms: i64,
}

/// A show leaves the board once the newest minute on it is this much later than the show's last.
pub const FORGET_AFTER_MS: i64 = 6 * 3_600_000;

/// One stream × region × minute of live figures: a message of the live topic
/// (`livelake.live.v1`, keyed by [`LiveRow::key`]), and what the board shows.
#[derive(Debug, Clone, PartialEq, serde::Serialize, serde::Deserialize)]
pub struct LiveRow {
    /// Always [`LIVE_SCHEMA`].
    pub schema: String,
    /// The show.
    pub stream_id: String,
    /// The region.
    pub region: String,
    /// Window start, epoch ms.
    pub window_start: i64,
    /// The window is still open: figures so far.
    pub provisional: bool,
    /// The `stream_minute` figures the board shows and its rules read (NULL as `null`).
    pub figures: Figures,
}

/// The schema name of the live topic's messages.
pub const LIVE_SCHEMA: &str = "livelake.live.v1";

impl LiveRow {
    /// The message key: stream, region and minute (the topic is compacted on it, so its last
    /// message, the final row, is what stays).
    pub fn key(&self) -> String {
        format!("{}/{}/{}", self.stream_id, self.region, self.window_start)
    }
}

/// The rows of `stream_minute` batches, with the columns the board uses.
pub fn live_rows(batches: &[RecordBatch], provisional: bool) -> Vec<LiveRow> {
    let mut out = Vec::new();
    for b in batches {
        let (Some(streams), Some(regions), Some(starts)) =
            (b.column_by_name("stream_id"), b.column_by_name("region"), b.column_by_name("window_start"))
        else {
            continue;
        };
        let (streams, regions) = (streams.as_string::<i32>(), regions.as_string::<i32>());
        let starts = starts.as_primitive::<TimestampMillisecondType>();
        let cols: Vec<(&str, Option<arrow::array::ArrayRef>)> = COLUMNS
            .iter()
            .map(|c| c.0)
            .chain(RULE_COLUMNS)
            .map(|name| (name, b.column_by_name(name).and_then(|c| cast(c, &DataType::Float64).ok())))
            .collect();
        for i in 0..b.num_rows() {
            let mut figures = Figures::new();
            for (name, col) in &cols {
                let v = col.as_ref().and_then(|c| {
                    let c = c.as_primitive::<Float64Type>();
                    c.is_valid(i).then(|| c.value(i))
                });
                figures.insert(name.to_string(), v);
            }
            out.push(LiveRow {
                schema: LIVE_SCHEMA.to_string(),
                stream_id: streams.value(i).to_string(),
                region: regions.value(i).to_string(),
                window_start: starts.value(i),
                provisional,
                figures,
            });
        }
    }
    out
}

/// Where the engine's live figures go: the in-process board, the live topic.
pub trait LiveOut: Send + Sync {
    /// `stream_minute` rows of windows that just closed, or `provisional` ones of open windows.
    fn publish(&self, batches: &[RecordBatch], provisional: bool, now_ms: i64);
}

impl LiveOut for Board {
    fn publish(&self, batches: &[RecordBatch], provisional: bool, now_ms: i64) {
        self.publish_rows(live_rows(batches, provisional), now_ms);
    }
}

/// The board's state, fed by the engine, read by the HTTP handlers.
pub struct Board {
    state: Mutex<BoardState>,
    width_ms: i64,
    token: Option<String>,
}

impl Board {
    /// A board for windows of `width_ms`; `token`, when set, is required by every request.
    pub fn new(width_ms: i64, token: Option<String>) -> Arc<Board> {
        Arc::new(Board { state: Mutex::new(BoardState::default()), width_ms, token })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BoardState> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Take rows: final ones of windows that just closed, or provisional ones of windows still
    /// open (a provisional row never replaces a final one). Shows whose last minute is more than
    /// [`FORGET_AFTER_MS`] of event time before the newest minute are dropped.
    pub fn publish_rows(&self, rows: Vec<LiveRow>, now_ms: i64) {
        let mut st = self.lock();
        for r in rows {
            st.newest_ms = st.newest_ms.max(r.window_start);
            let s = st.streams.entry(r.stream_id).or_default();
            s.last_ms = s.last_ms.max(r.window_start);
            let key = (r.region, r.window_start);
            if r.provisional && s.rows.get(&key).is_some_and(|row| !row.provisional) {
                continue;
            }
            s.rows.insert(key, Row { provisional: r.provisional, figures: r.figures });
        }
        let keep_from = st.newest_ms.saturating_sub(FORGET_AFTER_MS);
        st.streams.retain(|_, s| s.last_ms >= keep_from);
        st.updated_ms = now_ms;
    }

    /// The input ended (a file source): the board shows the final state from now on.
    pub fn set_ended(&self) {
        self.lock().ended = true;
    }

    /// The alerts of `stream` so far (the report's rules over its final minutes).
    fn alerts(&self, s: &StreamState, stream: &str) -> Vec<Anomaly> {
        let Some(first) = s.rows.keys().map(|(_, start)| *start).min() else { return Vec::new() };
        let mut data = ReportData { stream_id: stream.to_string(), show_start_ms: first, ..Default::default() };
        let mut totals: BTreeMap<&str, (f64, f64)> = BTreeMap::new();
        for ((region, start), Row { figures, .. }) in s.rows.iter().filter(|(_, r)| !r.provisional) {
            let minute = (start - first).div_euclid(self.width_ms);
            let get = |n: &str| figures.get(n).copied().flatten().unwrap_or(0.0);
            let t = totals.entry(region).or_default();
            t.0 += get("stall_seconds");
            t.1 += get("play_seconds") + get("stall_seconds");
            let fakes = get("sessions_started_raw") - get("sessions_started");
            if fakes > 0.0 {
                data.fake_starts.insert((region.clone(), minute), fakes as u64);
            }
            data.minutes.push(MinutePoint {
                region: region.clone(),
                minute,
                start_ms: *start,
                figures: figures.clone(),
            });
        }
        for (region, (stall, watch)) in totals {
            let ratio = if watch > 0.0 { Some(stall / watch) } else { None };
            data.summary.insert(region.to_string(), Figures::from([("stall_ratio".to_string(), ratio)]));
        }
        find(&data).anomalies
    }

    /// The board as JSON (`/api/live`).
    pub fn json(&self) -> serde_json::Value {
        let st = self.lock();
        let streams: Vec<serde_json::Value> =
            st.streams
                .iter()
                .map(|(id, s)| {
                    let mut regions: BTreeMap<&str, Vec<serde_json::Value>> = BTreeMap::new();
                    for ((region, start), row) in &s.rows {
                        regions.entry(region).or_default().push(
                            json!({ "window_start": start, "provisional": row.provisional, "figures": row.figures }),
                        );
                    }
                    let alerts: Vec<serde_json::Value> = self
                        .alerts(s, id)
                        .into_iter()
                        .map(|a| {
                            json!({ "kind": a.kind, "region": a.region, "from_minute": a.from_minute,
                                "to_minute": a.to_minute, "window_start": a.start_ms, "detail": a.detail })
                        })
                        .collect();
                    json!({ "stream_id": id, "regions": regions, "alerts": alerts })
                })
                .collect();
        json!({ "ended": st.ended, "updated_ms": st.updated_ms, "streams": streams })
    }

    /// The live part of the page (`/fragment`, and inside `/`).
    pub fn fragment(&self) -> String {
        let st = self.lock();
        let mut out = String::new();
        let status = if st.ended {
            both("Input ended: the final state", "输入已结束：最终状态")
        } else {
            both("Live", "直播中")
        };
        let _ = writeln!(out, "<p class=\"status\" data-ended=\"{}\">{status} · {}</p>", st.ended, hms(st.updated_ms));
        let legend = both(
            "Italic rows are provisional: their minute is still open and its figures grow until it closes.",
            "斜体行为临时数据：该分钟尚未结束，数据会持续更新直到结束。",
        );
        let _ = writeln!(out, "<p class=\"legend\">{legend}</p>");
        if st.streams.is_empty() {
            out.push_str(&format!("<p>{}</p>\n", both("No closed minute yet.", "还没有已结束的分钟。")));
        }
        for (id, s) in &st.streams {
            self.stream_html(&mut out, id, s);
        }
        out
    }

    fn stream_html(&self, out: &mut String, id: &str, s: &StreamState) {
        let _ = write!(
            out,
            "<section class=\"show\" data-stream=\"{}\">\n<h2>{} <code>{}</code></h2>\n",
            esc(id),
            both("Show", "直播"),
            esc(id)
        );
        let alerts = self.alerts(s, id);
        if alerts.is_empty() {
            out.push_str(&format!("<p class=\"no-alerts\">{}</p>\n", both("No alerts.", "没有警报。")));
        } else {
            out.push_str("<ul class=\"alerts\">\n");
            for a in &alerts {
                let (en, zh) = match a.kind {
                    "stall_burst" => ("stall burst", "卡顿爆发"),
                    "exit_jump" => ("exit jump", "离开激增"),
                    _ => ("fake-viewer spike", "虚假流量峰值"),
                };
                let _ = writeln!(
                    out,
                    "<li class=\"alert\" data-kind=\"{}\" data-region=\"{}\" data-from=\"{}\" data-to=\"{}\">\
                     <strong>{}</strong> — {}, {} {} ({} UTC): {}</li>",
                    a.kind,
                    esc(&a.region),
                    a.from_minute,
                    a.to_minute,
                    both(en, zh),
                    esc(&a.region),
                    both("minute", "分钟"),
                    if a.from_minute == a.to_minute {
                        a.from_minute.to_string()
                    } else {
                        format!("{}–{}", a.from_minute, a.to_minute)
                    },
                    hm(a.start_ms),
                    esc(&a.detail)
                );
            }
            out.push_str("</ul>\n");
        }
        let mut by_region: BTreeMap<&str, Vec<(i64, &Row)>> = BTreeMap::new();
        for ((region, start), row) in &s.rows {
            by_region.entry(region).or_default().push((*start, row));
        }
        out.push_str("<div class=\"regions\">\n");
        for (region, mut rows) in by_region {
            rows.sort_by_key(|r| std::cmp::Reverse(r.0));
            rows.truncate(HISTORY_MINUTES + 1);
            let _ = writeln!(out, "<div class=\"region\" data-region=\"{}\">\n<h3>{}</h3>", esc(region), esc(region));
            let (now_start, now) = (rows[0].0, &rows[0].1.figures);
            let label = if rows[0].1.provisional {
                both("current minute (provisional)", "当前分钟（临时）")
            } else {
                both("last closed minute", "最近结束的分钟")
            };
            let current: Vec<String> = [COLUMNS[0], COLUMNS[1], COLUMNS[10], COLUMNS[11]]
                .iter()
                .map(|(col, en, zh)| format!("{} <b>{}</b>", both(en, zh), shown(fig(now, col), col)))
                .collect();
            let _ = writeln!(out, "<p class=\"current\">{} {} UTC: {}</p>", label, hm(now_start), current.join(" · "));
            let figures: Vec<(i64, &Figures)> = rows.iter().map(|(s, r)| (*s, &r.figures)).collect();
            chart(out, &figures);
            out.push_str("<div class=\"scroll\"><table>\n<tr><th>UTC</th>");
            for (_, en, zh) in COLUMNS {
                let _ = write!(out, "<th>{}</th>", both(en, zh));
            }
            out.push_str("</tr>\n");
            for (start, row) in &rows {
                let (fin, class) = if row.provisional { (0, " class=\"prov\"") } else { (1, "") };
                let _ = write!(out, "<tr data-start=\"{start}\" data-final=\"{fin}\"{class}><td>{}</td>", hm(*start));
                for (col, _, _) in COLUMNS {
                    let v = fig(&row.figures, col);
                    let raw = v.map_or_else(String::new, |v| v.to_string());
                    let _ = write!(out, "<td data-col=\"{col}\" data-v=\"{raw}\">{}</td>", shown(v, col));
                }
                out.push_str("</tr>\n");
            }
            out.push_str("</table></div>\n</div>\n");
        }
        out.push_str("</div>\n</section>\n");
    }
}

fn fig(f: &Figures, col: &str) -> Option<f64> {
    f.get(col).copied().flatten()
}

/// A label in both languages (the page shows one, by its toggle).
fn both(en: &str, zh: &str) -> String {
    format!("<span class=\"en\">{en}</span><span class=\"zh\" lang=\"zh\">{zh}</span>")
}

fn esc(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

fn hm(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(String::new, |t| t.format("%H:%M").to_string())
}

fn hms(ms: i64) -> String {
    DateTime::from_timestamp_millis(ms).map_or_else(String::new, |t| t.format("%H:%M:%S UTC").to_string())
}

/// Viewers (line) and stall ratio (bars) over the region's last minutes, oldest left.
fn chart(out: &mut String, rows: &[(i64, &Figures)]) {
    let (w, h) = (320.0, 90.0);
    let n = rows.len().max(2) as f64;
    let viewers: Vec<f64> = rows.iter().rev().map(|(_, f)| fig(f, "sessions_active").unwrap_or(0.0)).collect();
    let ratios: Vec<f64> = rows.iter().rev().map(|(_, f)| fig(f, "stall_ratio").unwrap_or(0.0)).collect();
    let vmax = viewers.iter().copied().fold(1.0, f64::max);
    let rmax = ratios.iter().copied().fold(0.05, f64::max);
    let x = |i: usize| i as f64 * w / (n - 1.0);
    let _ = write!(
        out,
        "<svg class=\"chart\" viewBox=\"0 0 {w} {h}\" preserveAspectRatio=\"none\" role=\"img\" aria-label=\"viewers and stall ratio\">"
    );
    for (i, r) in ratios.iter().enumerate() {
        let bh = r / rmax * (h - 10.0);
        let _ = write!(
            out,
            "<rect x=\"{:.1}\" y=\"{:.1}\" width=\"{:.1}\" height=\"{bh:.1}\" fill=\"#e8a0a0\"/>",
            x(i) - 3.0,
            h - bh,
            6.0
        );
    }
    let points: Vec<String> = viewers
        .iter()
        .enumerate()
        .map(|(i, v)| format!("{:.1},{:.1}", x(i), h - 5.0 - v / vmax * (h - 15.0)))
        .collect();
    let _ =
        write!(out, "<polyline points=\"{}\" fill=\"none\" stroke=\"#2a6fdb\" stroke-width=\"2\"/>", points.join(" "));
    out.push_str("</svg>\n");
}

const STYLE: &str = "body{font-family:system-ui,sans-serif;margin:1em auto;max-width:1200px;padding:0 .8em;color:#222}\
.regions{display:flex;flex-wrap:wrap;gap:1em}.region{flex:1 1 360px;min-width:0;border:1px solid #ddd;border-radius:6px;padding:.5em}\
.scroll{overflow-x:auto}table{border-collapse:collapse;font-size:12px}th,td{border:1px solid #ddd;padding:2px 5px;text-align:right;white-space:nowrap}\
th{background:#f3f3f3}tr.prov td{font-style:italic;color:#777}.chart{width:100%;height:90px;background:#fafafa}.alerts li{color:#a00}.status{color:#555}\
body.zh .en{display:none}body:not(.zh) .zh{display:none}button{float:right}";

/// The page: the live fragment, refreshed every two seconds, and the language toggle.
pub fn page(fragment: &str) -> String {
    format!(
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
         <title>livelake live board</title>\n<style>{STYLE}</style>\n</head>\n<body>\n\
         <button id=\"lang\" type=\"button\">中文 / English</button>\n<h1>{}</h1>\n<div id=\"live\">\n{fragment}</div>\n\
         <script>\n\
         const body = document.body;\n\
         if (localStorage.getItem('livelake-lang') === 'zh') body.classList.add('zh');\n\
         document.getElementById('lang').onclick = () => {{ body.classList.toggle('zh'); \
         localStorage.setItem('livelake-lang', body.classList.contains('zh') ? 'zh' : 'en'); }};\n\
         async function refresh() {{ try {{ const r = await fetch('fragment' + location.search); \
         if (r.ok) document.getElementById('live').innerHTML = await r.text(); }} catch (e) {{}} }}\n\
         setInterval(refresh, 2000);\n\
         </script>\n</body>\n</html>\n",
        both("livelake live board", "livelake 实时看板")
    )
}

/// Whether the request carries the board's token (when it has one): `?token=…` or
/// `Authorization: Bearer …`.
fn authorized(board: &Board, uri: &Uri, headers: &HeaderMap) -> bool {
    let Some(want) = &board.token else { return true };
    let bearer = headers.get(AUTHORIZATION).and_then(|v| v.to_str().ok()).and_then(|v| v.strip_prefix("Bearer "));
    let query = uri.query().unwrap_or("").split('&').filter_map(|kv| kv.strip_prefix("token="));
    bearer == Some(want.as_str()) || query.into_iter().any(|t| t == want)
}

async fn handle(board: Arc<Board>, uri: Uri, headers: HeaderMap, what: &'static str) -> Response {
    if !authorized(&board, &uri, &headers) {
        return (StatusCode::UNAUTHORIZED, "token required (?token=… or Authorization: Bearer …)\n").into_response();
    }
    match what {
        "page" => ([(CONTENT_TYPE, "text/html; charset=utf-8")], page(&board.fragment())).into_response(),
        "fragment" => ([(CONTENT_TYPE, "text/html; charset=utf-8")], board.fragment()).into_response(),
        _ => ([(CONTENT_TYPE, "application/json")], board.json().to_string()).into_response(),
    }
}

/// Bind `addr` and serve the board until the runtime stops. A non-loopback address needs a
/// token. Returns the bound address.
pub async fn serve_board(addr: &str, board: Arc<Board>) -> std::io::Result<SocketAddr> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    if !local.ip().is_loopback() && board.token.is_none() {
        return Err(std::io::Error::new(
            std::io::ErrorKind::PermissionDenied,
            format!("{local} is not a loopback address: set an access token (--board-token) to serve the board there"),
        ));
    }
    info!(%local, "live board listening");
    let route = |what: &'static str| {
        get(move |State(b): State<Arc<Board>>, uri: Uri, headers: HeaderMap| handle(b, uri, headers, what))
    };
    let app = Router::new()
        .route("/", route("page"))
        .route("/fragment", route("fragment"))
        .route("/api/live", route("json"))
        .with_state(board);
    tokio::spawn(async move {
        if let Err(e) = axum::serve(listener, app).await {
            warn!(%local, error = %e, "live board stopped");
        }
    });
    Ok(local)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn minute(start: i64, viewers: i64) -> RecordBatch {
        use arrow::array::{Int64Array, StringArray, TimestampMillisecondArray};
        RecordBatch::try_from_iter([
            ("stream_id", Arc::new(StringArray::from(vec!["s"])) as arrow::array::ArrayRef),
            ("region", Arc::new(StringArray::from(vec!["EU"]))),
            ("window_start", Arc::new(TimestampMillisecondArray::from(vec![start]))),
            ("sessions_active", Arc::new(Int64Array::from(vec![viewers]))),
        ])
        .unwrap()
    }

    #[test]
    fn a_final_row_replaces_the_provisional_one_and_stays() {
        let board = Board::new(60_000, None);
        board.publish(&[minute(0, 10)], true, 1);
        assert!(
            board.fragment().contains(
                "data-final=\"0\" class=\"prov\"><td>00:00</td><td data-col=\"sessions_active\" data-v=\"10\">"
            )
        );
        board.publish(&[minute(0, 12)], false, 2);
        board.publish(&[minute(0, 11), minute(60_000, 3)], true, 3);
        let page = board.fragment();
        assert!(
            page.contains(
                "data-start=\"0\" data-final=\"1\"><td>00:00</td><td data-col=\"sessions_active\" data-v=\"12\">"
            ),
            "{page}"
        );
        assert!(page.contains("data-start=\"60000\" data-final=\"0\""), "{page}");
        let json = board.json();
        let rows = &json["streams"][0]["regions"]["EU"];
        assert_eq!(rows[0]["provisional"], false);
        assert_eq!(rows[0]["figures"]["sessions_active"], 12.0);
        assert_eq!(rows[1]["provisional"], true);
    }

    #[test]
    fn a_show_leaves_the_board_six_hours_after_its_last_minute() {
        let board = Board::new(60_000, None);
        board.publish(&[minute(0, 10)], false, 1);
        board.publish(&[minute(FORGET_AFTER_MS, 3)], false, 2);
        assert_eq!(board.json()["streams"][0]["regions"]["EU"].as_array().unwrap().len(), 2, "same show: kept");
        let other = |start: i64| {
            let b = minute(start, 1);
            let ids: arrow::array::ArrayRef = Arc::new(arrow::array::StringArray::from(vec!["t"]));
            RecordBatch::try_new(b.schema(), vec![ids, b.column(1).clone(), b.column(2).clone(), b.column(3).clone()])
                .unwrap()
        };
        board.publish(&[other(2 * FORGET_AFTER_MS + 60_000)], false, 3);
        let json = board.json();
        let shows: Vec<&str> =
            json["streams"].as_array().unwrap().iter().map(|s| s["stream_id"].as_str().unwrap()).collect();
        assert_eq!(shows, ["t"], "s's last minute is more than 6 h before t's");
    }

    #[test]
    fn a_board_with_a_token_asks_for_it() {
        let open = Board::new(60_000, None);
        let closed = Board::new(60_000, Some("s3cret".into()));
        let uri = |u: &str| u.parse::<Uri>().unwrap();
        let mut bearer = HeaderMap::new();
        bearer.insert(AUTHORIZATION, "Bearer s3cret".parse().unwrap());
        assert!(authorized(&open, &uri("/"), &HeaderMap::new()));
        assert!(!authorized(&closed, &uri("/"), &HeaderMap::new()));
        assert!(!authorized(&closed, &uri("/?token=s3cre"), &HeaderMap::new()));
        assert!(authorized(&closed, &uri("/api/live?x=1&token=s3cret"), &HeaderMap::new()));
        assert!(authorized(&closed, &uri("/"), &bearer));
    }

    #[tokio::test]
    async fn a_board_beyond_loopback_needs_a_token() {
        let err = serve_board("0.0.0.0:0", Board::new(60_000, None)).await.unwrap_err();
        assert!(err.to_string().contains("set an access token"), "{err}");
        let local = serve_board("127.0.0.1:0", Board::new(60_000, None)).await.unwrap();
        assert!(local.ip().is_loopback());
    }

    #[test]
    fn figures_show_in_their_units() {
        assert_eq!(shown(Some(0.01234), "stall_ratio"), "1.23%");
        assert_eq!(shown(Some(2958.4), "latency_ms_p95"), "2958 ms");
        assert_eq!(shown(Some(12.346), "gmv_usd"), "$12.35");
        assert_eq!(shown(Some(17.0), "sessions_active"), "17");
        assert_eq!(shown(None, "orders"), "–");
    }
}
