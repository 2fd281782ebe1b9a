//! The show simulator: a seeded, realistic cross-border livestream (viewers arriving and leaving
//! in five regions, stalls, pitches that drive the funnel, a fake-viewer spike, a CDN stall
//! burst) delivered the way real producers deliver — out of order, some late, some twice, a
//! few malformed — with a ground truth of what was generated.

mod malformed;
mod model;
mod periods;
mod rng;
mod session;
mod truth;

use livelake_schemas::{EncodeOptions, Family, Rates, encode_event, rfc3339_ms};

pub use model::{FakeSpike, Pitch, REGIONS, RegionProfile, SimConfig, StallBurst};
pub use periods::{PeriodTruths, TruthValue, period_truth};
pub use rng::Rng;
pub use truth::{Incident, MinuteTruth, Totals, Truth};

use session::{ShowCtx, Viewer};

/// What a line is, as the simulator made it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum LineClass {
    /// A valid event, first delivery.
    Valid,
    /// A second delivery of a valid event (same `event_id`).
    Duplicate,
    /// A malformed message and the reason code it must be rejected with.
    Malformed(String),
}

/// One message as delivered: when it arrives, which topic family carries it, its key and bytes.
#[derive(Debug, Clone)]
pub struct Line {
    /// Delivery (arrival) time, epoch ms.
    pub arrival_ms: i64,
    /// Player or commerce topic.
    pub family: Family,
    /// Index into [`Simulation::streams`]: the Kafka key.
    pub stream: u16,
    /// The message bytes (JSON, or deliberately broken bytes).
    pub bytes: Vec<u8>,
    /// What the line is.
    pub class: LineClass,
}

/// A simulated run: the lines in delivery order and the ground truth.
#[derive(Debug)]
pub struct Simulation {
    /// Stream ids (the Kafka keys).
    pub streams: Vec<String>,
    /// Messages in delivery order.
    pub lines: Vec<Line>,
    /// What was generated.
    pub truth: Truth,
}

/// Per-minute arrival weight: an opening rush, bumps at pitches, a thinning tail.
fn arrival_weights(cfg: &SimConfig) -> Vec<f64> {
    (0..cfg.duration_min)
        .map(|m| {
            let rush = 6.0 * (-(m as f64) / 3.0).exp();
            let pitch = if cfg.pitches.iter().any(|p| m >= p.minute - 1 && m <= p.minute + 1) { 1.5 } else { 0.0 };
            let tail = if m >= cfg.duration_min - 10 { 0.3 } else { 1.0 };
            (1.0 + rush + pitch) * tail
        })
        .collect()
}

fn pick<T: Copy>(rng: &mut Rng, items: &[(T, f64)]) -> T {
    let w: Vec<f64> = items.iter().map(|i| i.1).collect();
    items[rng.weighted(&w)].0
}

/// Run the simulation described by `cfg`.
pub fn simulate(cfg: &SimConfig) -> Simulation {
    let rates = Rates::default();
    let root = Rng::new(cfg.seed);
    let mut truth = Truth::new(cfg.seed);
    let mut lines: Vec<Line> = Vec::new();
    let streams: Vec<String> = (0..cfg.shows.max(1)).map(|k| format!("show-{}-{}", cfg.seed, k + 1)).collect();
    let end_ms = cfg.start_ms + cfg.duration_min * 60_000;
    let ctx = ShowCtx { cfg, end_ms, regions: REGIONS, rates: &rates };
    let weights = arrival_weights(cfg);
    let region_w: Vec<f64> = REGIONS.iter().map(|r| r.weight).collect();
    let sources: Vec<(&'static str, f64)> = model::SOURCES.iter().map(|s| (s.0, s.1)).collect();
    let platforms: Vec<(&'static str, f64)> = model::PLATFORMS.to_vec();

    for (k, stream_id) in streams.iter().enumerate() {
        let mut rng = root.fork(k as u64 + 1);
        let mut delivery = root.fork(1_000_003 + k as u64);
        let stream = k as u16;
        let mut past_viewers: Vec<Vec<(String, usize)>> = vec![Vec::new(); REGIONS.len()];
        let mut session_no = 0u32;
        let emit = |events: Vec<livelake_schemas::Event<'static>>,
                    fake: bool,
                    session_no: u32,
                    truth: &mut Truth,
                    lines: &mut Vec<Line>,
                    delivery: &mut Rng| {
            truth.record_session(session_no, &events, fake);
            // A bot is recognisable when its session_start arrives on time (in its spike minute).
            let mut recognised_bot = false;
            let mut on_time_player = Vec::new();
            for e in &events {
                let opts = EncodeOptions {
                    ts_rfc3339: delivery.chance(cfg.ts_rfc3339_share),
                    decimals_as_strings: delivery.chance(0.5),
                    region_from_country: delivery.chance(0.7),
                    omit_default_viewer: true,
                };
                let mut text = String::with_capacity(256);
                encode_event(e, opts, &mut text);
                // Late deliveries (3–7 minutes) are far beyond lateness + session timeout, and
                // kept out of the last minutes so the stream's own traffic outruns them.
                let late = e.ts_ms < end_ms - 5 * 60_000 && delivery.chance(cfg.late_share);
                let reordered = !late && delivery.chance(cfg.reorder_share);
                if fake && e.kind() == livelake_schemas::EventKind::SessionStart {
                    recognised_bot = !late;
                }
                truth.record_delay(e, late, reordered, recognised_bot);
                if !late && !recognised_bot && e.kind().family() == Family::Player {
                    on_time_player.push(e);
                }
                let delay = delivery.exp(250.0) as i64
                    + if late { delivery.range(180_000, 420_000) } else { 0 }
                    + if reordered { delivery.range(2_000, 20_000) } else { 0 };
                let family = e.kind().family();
                let bytes = text.into_bytes();
                if delivery.chance(cfg.duplicate_share) {
                    match family {
                        Family::Player => truth.totals.duplicate_player += 1,
                        Family::Commerce => truth.totals.duplicate_commerce += 1,
                    }
                    lines.push(Line {
                        arrival_ms: e.ts_ms + delay + delivery.range(1_000, 60_000),
                        family,
                        stream,
                        bytes: bytes.clone(),
                        class: LineClass::Duplicate,
                    });
                }
                lines.push(Line { arrival_ms: e.ts_ms + delay, family, stream, bytes, class: LineClass::Valid });
            }
            truth.record_exits(&on_time_player);
        };

        // Real viewers.
        for _ in 0..cfg.viewers {
            let minute = rng.weighted(&weights) as i64;
            let start = cfg.start_ms + minute * 60_000 + rng.range(0, 59_999);
            let region = rng.weighted(&region_w);
            let prof = &REGIONS[region];
            let (viewer_id, ci) = if !past_viewers[region].is_empty() && rng.chance(0.12) {
                let i = rng.index(past_viewers[region].len());
                past_viewers[region][i].clone()
            } else {
                let v = (format!("{stream_id}-v{:06}", session_no), rng.index(prof.countries.len()));
                past_viewers[region].push(v.clone());
                v
            };
            let (country, currency) = prof.countries[ci];
            let src = pick(&mut rng, &sources);
            let source = *model::SOURCES.iter().find(|s| s.0 == src).map(|s| (s.0, s.2)).as_ref().unwrap();
            let viewer = Viewer {
                stream_id: stream_id.clone(),
                session_id: format!("{stream_id}-s{session_no:06}"),
                viewer_id,
                region,
                country,
                currency,
                platform: pick(&mut rng, &platforms),
                cdn: prof.cdns[rng.index(prof.cdns.len())],
                source,
            };
            let mut srng = rng.fork(session_no as u64);
            let events = session::real_session(&ctx, &viewer, start, &mut srng);
            emit(events, false, session_no, &mut truth, &mut lines, &mut delivery);
            session_no += 1;
        }

        // The fake-viewer spike.
        if let Some(spike) = &cfg.spike
            && let Some(region) = REGIONS.iter().position(|r| r.region == spike.region)
        {
            let prof = &REGIONS[region];
            let minute_ms = cfg.start_ms + spike.minute * 60_000;
            truth.add_incident(Incident {
                kind: "fake_spike",
                stream_id: stream_id.clone(),
                region: spike.region.clone(),
                start: rfc3339_ms(minute_ms),
                minutes: 1,
                size: spike.sessions as f64,
            });
            for b in 0..spike.sessions {
                let (country, currency) = prof.countries[rng.index(prof.countries.len())];
                let viewer = Viewer {
                    stream_id: stream_id.clone(),
                    session_id: format!("{stream_id}-b{b:05}"),
                    viewer_id: format!("{stream_id}-bot{b:05}"),
                    region,
                    country,
                    currency,
                    platform: "web",
                    cdn: prof.cdns[0],
                    source: ("external", 0.0),
                };
                let start = minute_ms + rng.range(0, 50_000);
                let events = session::bot_session(&viewer, start, &mut rng);
                emit(events, true, session_no, &mut truth, &mut lines, &mut delivery);
                session_no += 1;
            }
        }
        if let Some(b) = &cfg.burst {
            truth.add_incident(Incident {
                kind: "stall_burst",
                stream_id: stream_id.clone(),
                region: b.region.clone(),
                start: rfc3339_ms(cfg.start_ms + b.minute * 60_000),
                minutes: b.minutes,
                size: b.factor,
            });
        }

        // Malformed messages, spread over the show.
        let valid = lines.iter().filter(|l| l.stream == stream && l.class == LineClass::Valid).count();
        let n_bad = (valid as f64 * cfg.malformed_share).round() as usize;
        for i in 0..n_bad {
            let at = cfg.start_ms + rng.range(0, cfg.duration_min * 60_000);
            let (family, bytes, reason) = malformed::make(i, stream_id, at, &mut rng);
            *truth.totals.malformed.entry(reason.to_string()).or_default() += 1;
            match family {
                Family::Player => truth.totals.malformed_player += 1,
                Family::Commerce => truth.totals.malformed_commerce += 1,
            }
            lines.push(Line { arrival_ms: at, family, stream, bytes, class: LineClass::Malformed(reason.to_string()) });
        }
    }
    lines.sort_by_key(|l| l.arrival_ms);
    truth.totals.lines = lines.len() as u64;
    truth.streams = streams.clone();
    truth.finish();
    Simulation { streams, lines, truth }
}

#[cfg(test)]
mod tests;
