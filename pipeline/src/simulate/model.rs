//! The parameters of a simulated show: audience regions and their networks, the pitch plan,
//! the injected incidents (fake-viewer spike, CDN stall burst) and the delivery imperfections.

/// One audience region: where viewers come from and how their network behaves.
#[derive(Debug, Clone)]
pub struct RegionProfile {
    /// Region name as the region map yields it.
    pub region: &'static str,
    /// Share of the audience.
    pub weight: f64,
    /// (country, local currency) pairs viewers are drawn from.
    pub countries: &'static [(&'static str, &'static str)],
    /// Probability that a 10-second playback interval contains a stall.
    pub stall_p: f64,
    /// Median stall duration (ms).
    pub stall_median_ms: f64,
    /// Median startup time (ms).
    pub startup_median_ms: f64,
    /// Median glass-to-glass latency (ms).
    pub latency_median_ms: f64,
    /// Typical bitrate (kbps).
    pub bitrate_kbps: i64,
    /// CDN edges serving the region.
    pub cdns: &'static [&'static str],
}

/// The five regions of a cross-border show.
pub const REGIONS: &[RegionProfile] = &[
    RegionProfile {
        region: "SEA",
        weight: 0.38,
        countries: &[("SG", "SGD"), ("MY", "MYR"), ("TH", "THB"), ("ID", "IDR"), ("PH", "PHP"), ("VN", "VND")],
        stall_p: 0.020,
        stall_median_ms: 1500.0,
        startup_median_ms: 900.0,
        latency_median_ms: 2500.0,
        bitrate_kbps: 1800,
        cdns: &["sg-edge-1", "sg-edge-2", "jkt-edge-1"],
    },
    RegionProfile {
        region: "EU",
        weight: 0.20,
        countries: &[("DE", "EUR"), ("FR", "EUR"), ("GB", "GBP"), ("ES", "EUR"), ("IT", "EUR"), ("NL", "EUR")],
        stall_p: 0.010,
        stall_median_ms: 1200.0,
        startup_median_ms: 700.0,
        latency_median_ms: 3500.0,
        bitrate_kbps: 2800,
        cdns: &["fra-edge-1", "ams-edge-1"],
    },
    RegionProfile {
        region: "NA",
        weight: 0.15,
        countries: &[("US", "USD"), ("CA", "CAD")],
        stall_p: 0.008,
        stall_median_ms: 1000.0,
        startup_median_ms: 600.0,
        latency_median_ms: 4000.0,
        bitrate_kbps: 3200,
        cdns: &["iad-edge-1", "sjc-edge-1"],
    },
    RegionProfile {
        region: "ME",
        weight: 0.12,
        countries: &[("AE", "AED"), ("SA", "SAR")],
        stall_p: 0.030,
        stall_median_ms: 1800.0,
        startup_median_ms: 1200.0,
        latency_median_ms: 3000.0,
        bitrate_kbps: 2000,
        cdns: &["dxb-edge-1"],
    },
    RegionProfile {
        region: "LATAM",
        weight: 0.15,
        countries: &[("BR", "BRL"), ("MX", "MXN")],
        stall_p: 0.040,
        stall_median_ms: 2000.0,
        startup_median_ms: 1400.0,
        latency_median_ms: 4500.0,
        bitrate_kbps: 1500,
        cdns: &["gru-edge-1", "mex-edge-1"],
    },
];

/// Traffic sources with their share and a multiplier on purchase intent.
pub const SOURCES: &[(&str, f64, f64)] = &[
    ("organic", 0.40, 1.0),
    ("ads", 0.20, 1.4),
    ("short_video", 0.20, 0.8),
    ("shop_tab", 0.15, 1.8),
    ("external", 0.05, 0.5),
];

/// Platforms and their share.
pub const PLATFORMS: &[(&str, f64)] = &[("android", 0.45), ("ios", 0.35), ("web", 0.15), ("tv", 0.05)];

/// A product pitched at a scheduled minute.
#[derive(Debug, Clone)]
pub struct Pitch {
    /// Minute of the show the pitch starts.
    pub minute: i64,
    /// Product id.
    pub product_id: String,
    /// Price in USD (converted to each viewer's currency).
    pub price_usd: f64,
}

/// A burst of fake viewers joining in one minute of one region.
#[derive(Debug, Clone)]
pub struct FakeSpike {
    /// Region of the bots.
    pub region: String,
    /// Minute of the show.
    pub minute: i64,
    /// Number of bot sessions.
    pub sessions: usize,
}

/// A CDN incident: much higher stall probability in one region for a few minutes.
#[derive(Debug, Clone)]
pub struct StallBurst {
    /// Region affected.
    pub region: String,
    /// First minute of the show affected.
    pub minute: i64,
    /// Number of minutes.
    pub minutes: i64,
    /// Multiplier on the region's stall probability.
    pub factor: f64,
}

/// Everything that defines a simulated show; the same config and seed give the same events.
#[derive(Debug, Clone)]
pub struct SimConfig {
    /// Random seed.
    pub seed: u64,
    /// Number of shows (streams) simulated side by side.
    pub shows: usize,
    /// Show start, epoch ms UTC.
    pub start_ms: i64,
    /// Show length in minutes.
    pub duration_min: i64,
    /// Real viewer sessions per show (before rejoins; bots excluded).
    pub viewers: usize,
    /// Product pitches.
    pub pitches: Vec<Pitch>,
    /// Fake-viewer spike, if any.
    pub spike: Option<FakeSpike>,
    /// Stall burst, if any.
    pub burst: Option<StallBurst>,
    /// Share of events delivered a few seconds out of order.
    pub reorder_share: f64,
    /// Share of events delivered minutes late (beyond lateness + session timeout).
    pub late_share: f64,
    /// Share of events sent twice (same `event_id`).
    pub duplicate_share: f64,
    /// Malformed lines added, as a share of valid events.
    pub malformed_share: f64,
    /// Share of events whose `ts` is written as an RFC 3339 string (the others: epoch ms).
    pub ts_rfc3339_share: f64,
    /// Mean minutes a real viewer stays when nothing goes wrong (stalls make leaving likelier).
    pub mean_stay_min: f64,
}

impl SimConfig {
    /// A realistic default show: 90 minutes, 3,000 viewers, six pitches, a fake spike in SEA at
    /// minute 30 and a stall burst in EU at minutes 37–39.
    pub fn new(seed: u64) -> Self {
        SimConfig {
            seed,
            shows: 1,
            start_ms: 1_795_780_800_000, // 2026-11-27T12:00:00Z
            duration_min: 90,
            viewers: 3000,
            pitches: Vec::new(),
            spike: Some(FakeSpike { region: "SEA".into(), minute: 30, sessions: 400 }),
            burst: Some(StallBurst { region: "EU".into(), minute: 37, minutes: 3, factor: 14.0 }),
            reorder_share: 0.01,
            late_share: 0.003,
            duplicate_share: 0.003,
            malformed_share: 0.002,
            ts_rfc3339_share: 0.1,
            mean_stay_min: 14.0,
        }
        .with_default_pitches()
    }

    /// Pitches spread over the show at fixed fractions of its length.
    pub fn with_default_pitches(mut self) -> Self {
        let d = self.duration_min;
        let plan = [(0.09, 12.0), (0.22, 35.0), (0.36, 8.5), (0.52, 59.0), (0.69, 22.0), (0.86, 120.0)];
        self.pitches = plan
            .iter()
            .enumerate()
            .map(|(i, (frac, price))| Pitch {
                minute: ((d as f64) * frac).round() as i64,
                product_id: format!("sku-{:03}", i + 1),
                price_usd: *price,
            })
            .collect();
        self
    }

    /// Scale the incidents to a show of a different length (keeps them inside the show).
    pub fn fit_incidents(mut self) -> Self {
        let d = self.duration_min;
        if let Some(s) = &mut self.spike {
            s.minute = s.minute.min((d / 3).max(6));
        }
        if let Some(b) = &mut self.burst {
            b.minute = b.minute.min((d * 2 / 5).max(7));
            b.minutes = b.minutes.min((d - b.minute - 1).max(1));
        }
        self
    }
}
