//! One viewer session of a simulated show: start-up, 10-second playback intervals with stalls,
//! leaving (more likely right after a stall), chat and likes, and the pitch-driven funnel.

use std::borrow::Cow;

use livelake_schemas::{Decimal4, Event, Payload, Rates};

use super::model::{Pitch, RegionProfile, SimConfig};
use super::rng::Rng;

/// Who is watching: fixed attributes of one session.
#[derive(Debug, Clone)]
pub struct Viewer {
    /// Stream (show) id.
    pub stream_id: String,
    /// Session id.
    pub session_id: String,
    /// Viewer id.
    pub viewer_id: String,
    /// Index into [`super::model::REGIONS`].
    pub region: usize,
    /// Country code.
    pub country: &'static str,
    /// Local currency.
    pub currency: &'static str,
    /// Platform.
    pub platform: &'static str,
    /// CDN edge.
    pub cdn: &'static str,
    /// Traffic source and its purchase-intent multiplier.
    pub source: (&'static str, f64),
}

/// The show-level facts a session needs.
pub struct ShowCtx<'c> {
    /// Configuration.
    pub cfg: &'c SimConfig,
    /// Show end (epoch ms): remaining viewers leave with reason `show_ended`.
    pub end_ms: i64,
    /// Region profiles.
    pub regions: &'c [RegionProfile],
    /// USD rates (to price products locally).
    pub rates: &'c Rates,
}

impl ShowCtx<'_> {
    fn minute_of(&self, ts: i64) -> i64 {
        (ts - self.cfg.start_ms).div_euclid(60_000)
    }

    fn stall_factor(&self, region: &str, ts: i64) -> f64 {
        match &self.cfg.burst {
            Some(b) if b.region == region => {
                let m = self.minute_of(ts);
                if m >= b.minute && m < b.minute + b.minutes { b.factor } else { 1.0 }
            }
            _ => 1.0,
        }
    }

    /// A viewer joining in the fake-viewer spike's minute and region: real viewers there stay at
    /// least a minute, so the suspect rule (< 10 s watched in the first 60 s) only catches bots.
    fn joins_in_spike(&self, region: &str, ts: i64) -> bool {
        self.cfg.spike.as_ref().is_some_and(|s| s.region == region && self.minute_of(ts) == s.minute)
    }

    fn active_pitch(&self, ts: i64) -> Option<&Pitch> {
        let m = self.minute_of(ts);
        self.cfg.pitches.iter().find(|p| m >= p.minute && m < p.minute + 4)
    }

    /// A local-currency price for `usd`, rounded as shops do (whole units for small currencies).
    fn local_price(&self, usd: f64, currency: &str) -> Decimal4 {
        let rate =
            self.rates.to_usd(Decimal4::from_units(1_000_000), currency).map(|d| d.to_f64() / 1e6).unwrap_or(1.0);
        let local = usd / rate;
        let text = if rate < 0.001 { format!("{:.0}", local.round()) } else { format!("{local:.2}") };
        Decimal4::parse(&text).unwrap_or(Decimal4::ZERO)
    }
}

/// Builds the events of one session.
struct Emitter<'v> {
    v: &'v Viewer,
    seq: u32,
    events: Vec<Event<'static>>,
}

impl Emitter<'_> {
    fn push(&mut self, ts_ms: i64, payload: Payload<'static>) {
        self.seq += 1;
        let v = self.v;
        self.events.push(Event {
            event_id: Cow::Owned(format!("{}-{}", v.session_id, self.seq)),
            ts_ms,
            stream_id: Cow::Owned(v.stream_id.clone()),
            session_id: Cow::Owned(v.session_id.clone()),
            viewer_id: Cow::Owned(v.viewer_id.clone()),
            region: Cow::Borrowed(super::model::REGIONS[v.region].region),
            country: Some(Cow::Borrowed(v.country)),
            platform: Some(Cow::Borrowed(v.platform)),
            cdn: Some(Cow::Borrowed(v.cdn)).filter(|_| payload.kind().family() == livelake_schemas::Family::Player),
            source: Some(Cow::Borrowed(v.source.0)),
            payload,
        });
    }
}

fn s(text: &'static str) -> Cow<'static, str> {
    Cow::Borrowed(text)
}

/// Simulate a real viewer's session starting at `start`; events sorted by time.
pub fn real_session(ctx: &ShowCtx<'_>, v: &Viewer, start: i64, rng: &mut Rng) -> Vec<Event<'static>> {
    let prof = &ctx.regions[v.region];
    let mut em = Emitter { v, seq: 0, events: Vec::with_capacity(128) };
    em.push(start, Payload::SessionStart);

    let stays_until = if ctx.joins_in_spike(prof.region, start) { start + 60_000 } else { start };
    // Exits before video start, and start-up failures.
    if stays_until == start && rng.chance(0.03) {
        em.push(start + rng.range(1500, 8000), Payload::SessionEnd { reason: Some(s("user_left")) });
        return em.events;
    }
    if stays_until == start && rng.chance(0.008) {
        let at = start + rng.range(500, 3000);
        em.push(at, Payload::Error { code: s("MANIFEST_404"), fatal: true });
        em.push(at + 100, Payload::SessionEnd { reason: Some(s("error")) });
        return em.events;
    }
    // Heartbeats come every 10 s: the chance of leaving at each is one over the mean stay's count
    // of them.
    let mean_ticks = ctx.cfg.mean_stay_min * 6.0;
    let slow = ctx.stall_factor(prof.region, start) > 1.0;
    let startup =
        rng.lognormal(prof.startup_median_ms * if slow { 2.5 } else { 1.0 }, 0.5).clamp(80.0, 20_000.0) as i64;
    let mut t = start + startup;
    em.push(t, Payload::FirstFrame { startup_ms: startup });

    let mut pending: Vec<(i64, Payload<'static>)> = Vec::new();
    let mut clicked: Vec<&str> = Vec::new();
    let mut last_stall_end = i64::MIN / 2; // "long ago", without overflow in differences
    let mut followed = false;
    let mut order_seq = 0;
    let end_ts;
    loop {
        if t >= ctx.end_ms {
            end_ts = t + rng.range(100, 2000);
            em.push(end_ts, Payload::SessionEnd { reason: Some(s("show_ended")) });
            break;
        }
        let factor = ctx.stall_factor(prof.region, t);
        let mut stall_ms = 0;
        let mut hb_at = t + 10_000;
        if rng.chance((prof.stall_p * factor).min(0.9)) {
            let at = t + rng.range(300, 8000);
            stall_ms = rng.lognormal(prof.stall_median_ms * factor.sqrt(), 0.7).clamp(200.0, 60_000.0) as i64;
            em.push(at, Payload::StallStart);
            em.push(at + stall_ms, Payload::StallEnd { stall_ms });
            last_stall_end = at + stall_ms;
            hb_at = hb_at.max(last_stall_end + 300);
        }
        let play_ms = hb_at - t - stall_ms;
        let recent_stall = hb_at - last_stall_end < 30_000;
        let bitrate = (prof.bitrate_kbps as f64 * if recent_stall { 0.6 } else { 1.0 } * (1.0 + 0.08 * rng.normal()))
            .max(200.0) as i64;
        let height = match bitrate {
            b if b < 900 => 360,
            b if b < 1600 => 480,
            b if b < 3000 => 720,
            _ => 1080,
        };
        let latency =
            (v.platform != "tv").then(|| rng.lognormal(prof.latency_median_ms, 0.25).clamp(300.0, 600_000.0) as i64);
        em.push(
            hb_at,
            Payload::Heartbeat {
                play_ms,
                bitrate_kbps: Some(bitrate),
                height: Some(height),
                latency_ms: latency,
                dropped_frames: Some(if rng.chance(0.1) { rng.range(1, 30) } else { 0 }),
            },
        );

        // Interactions during this interval.
        let pitch = ctx.active_pitch(t);
        let hype = if pitch.is_some() { 2.0 } else { 1.0 };
        let within = |rng: &mut Rng| t + rng.range(0, hb_at - t - 1);
        if rng.chance(0.02 * hype) {
            let lang = ["en", "ms", "th", "id", "de", "ar", "pt", "es"][rng.index(8)];
            pending.push((within(rng), Payload::Comment { lang: Some(s(lang)) }));
        }
        if rng.chance(0.05 * hype) {
            pending.push((within(rng), Payload::Like { count: rng.range(1, 20) }));
        }
        if rng.chance(0.002 * hype) {
            let value = ctx.local_price([0.5, 1.0, 5.0, 20.0][rng.index(4)], v.currency);
            let value_usd = ctx.rates.to_usd(value, v.currency).unwrap_or_default();
            pending.push((within(rng), Payload::Gift { value, currency: s(v.currency), value_usd }));
        }
        if rng.chance(0.001) {
            pending.push((within(rng), Payload::Share));
        }
        if !followed && rng.chance(0.002) {
            followed = true;
            pending.push((within(rng), Payload::Follow));
        }
        if let Some(p) = pitch
            && !clicked.contains(&p.product_id.as_str())
            && rng.chance(0.025 * v.source.1)
        {
            clicked.push(&p.product_id);
            let product = || Cow::Owned(p.product_id.clone());
            let click_at = within(rng);
            pending.push((click_at, Payload::ProductClick { product_id: product() }));
            let quantity = if rng.chance(0.8) { 1 } else { rng.range(2, 3) };
            let order_at = if rng.chance(0.35) {
                let cart_at = click_at + rng.range(5_000, 40_000);
                pending.push((cart_at, Payload::AddToCart { product_id: product(), quantity }));
                rng.chance(0.5).then(|| cart_at + rng.range(10_000, 90_000))
            } else {
                // Buy-now without a cart.
                rng.chance(0.06).then(|| click_at + rng.range(5_000, 60_000))
            };
            if let Some(at) = order_at {
                order_seq += 1;
                let unit = ctx.local_price(p.price_usd, v.currency);
                let amount = Decimal4(unit.0 * quantity as i128);
                let amount_usd = ctx.rates.to_usd(amount, v.currency).unwrap_or_default();
                pending.push((
                    at,
                    Payload::Order {
                        order_id: Cow::Owned(format!("{}-o{order_seq}", v.session_id)),
                        product_id: Some(product()),
                        quantity,
                        amount,
                        currency: s(v.currency),
                        amount_usd,
                    },
                ));
            }
        }
        t = hb_at;

        // Leaving: far more likely in the half minute after a stall.
        let hazard = (1.0 / mean_ticks) * if t - last_stall_end < 30_000 { 8.0 } else { 1.0 };
        if t >= stays_until && rng.chance(hazard) {
            if rng.chance(0.88) {
                end_ts = t + rng.range(200, 3000);
                em.push(end_ts, Payload::SessionEnd { reason: Some(s("user_left")) });
            } else {
                end_ts = t; // the app was killed: no session_end, the last heartbeat ends it
            }
            break;
        }
        if t >= stays_until && rng.chance(0.0004) {
            let at = t + rng.range(100, 5000);
            em.push(at, Payload::Error { code: s("DECODER_CRASH"), fatal: true });
            end_ts = at + 50;
            em.push(end_ts, Payload::SessionEnd { reason: Some(s("error")) });
            break;
        }
        if rng.chance(0.002) {
            em.push(t - rng.range(100, 5000), Payload::Error { code: s("SEGMENT_RETRY"), fatal: false });
        }
    }
    // Interactions are only sent while the viewer is still in the room.
    for (at, p) in pending {
        if at > start && at < end_ts {
            em.push(at, p);
        }
    }
    em.events.sort_by_key(|e| e.ts_ms);
    em.events
}

/// A bot of a fake-viewer spike: joins, watches well under 10 s, never interacts.
pub fn bot_session(v: &Viewer, start: i64, rng: &mut Rng) -> Vec<Event<'static>> {
    let mut em = Emitter { v, seq: 0, events: Vec::with_capacity(4) };
    em.push(start, Payload::SessionStart);
    if rng.chance(0.6) {
        let ff = start + rng.range(300, 1500);
        em.push(ff, Payload::FirstFrame { startup_ms: ff - start });
        let hb = ff + rng.range(2000, 5000);
        em.push(
            hb,
            Payload::Heartbeat {
                play_ms: hb - ff,
                bitrate_kbps: Some(600),
                height: Some(360),
                latency_ms: Some(rng.range(1500, 3000)),
                dropped_frames: Some(0),
            },
        );
        em.push(hb + rng.range(500, 2000), Payload::SessionEnd { reason: Some(s("user_left")) });
    } else {
        em.push(start + rng.range(1000, 5000), Payload::SessionEnd { reason: None });
    }
    em.events
}
