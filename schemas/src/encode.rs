//! Events back to wire JSON, as a producer would send them (used by the simulator and tests).

use std::fmt::Write;

use chrono::{DateTime, SecondsFormat};

use crate::event::{Event, Payload};

/// Choices a producer may make that the contract accepts either way.
#[derive(Debug, Clone, Copy, Default)]
pub struct EncodeOptions {
    /// Send `ts` as an RFC 3339 string instead of epoch milliseconds.
    pub ts_rfc3339: bool,
    /// Send `amount`/`value` as JSON strings instead of numbers.
    pub decimals_as_strings: bool,
    /// Omit `region` and let it be derived from `country` (only when a country is set).
    pub region_from_country: bool,
    /// Omit `viewer_id` when it equals `session_id` (it then defaults to it).
    pub omit_default_viewer: bool,
}

struct Obj<'w> {
    out: &'w mut String,
    first: bool,
}

impl<'w> Obj<'w> {
    fn new(out: &'w mut String) -> Self {
        out.push('{');
        Obj { out, first: true }
    }
    fn key(&mut self, k: &str) {
        if !self.first {
            self.out.push(',');
        }
        self.first = false;
        self.out.push('"');
        self.out.push_str(k);
        self.out.push_str("\":");
    }
    fn str(&mut self, k: &str, v: &str) {
        self.key(k);
        push_json_string(self.out, v);
    }
    fn opt_str(&mut self, k: &str, v: &Option<std::borrow::Cow<'_, str>>) {
        if let Some(v) = v {
            self.str(k, v);
        }
    }
    fn int(&mut self, k: &str, v: i64) {
        self.key(k);
        let _ = write!(self.out, "{v}");
    }
    fn opt_int(&mut self, k: &str, v: Option<i64>) {
        if let Some(v) = v {
            self.int(k, v);
        }
    }
    fn raw(&mut self, k: &str, v: &str) {
        self.key(k);
        self.out.push_str(v);
    }
    fn end(self) {
        self.out.push('}');
    }
}

/// Append `s` as a JSON string literal.
pub fn push_json_string(out: &mut String, s: &str) {
    out.push('"');
    for c in s.chars() {
        match c {
            '"' => out.push_str("\\\""),
            '\\' => out.push_str("\\\\"),
            '\n' => out.push_str("\\n"),
            '\r' => out.push_str("\\r"),
            '\t' => out.push_str("\\t"),
            c if (c as u32) < 0x20 => {
                let _ = write!(out, "\\u{:04x}", c as u32);
            }
            c => out.push(c),
        }
    }
    out.push('"');
}

/// Format epoch milliseconds as RFC 3339 UTC with millisecond precision.
pub fn rfc3339_ms(ts_ms: i64) -> String {
    DateTime::from_timestamp_millis(ts_ms)
        .map(|d| d.to_rfc3339_opts(SecondsFormat::Millis, true))
        .unwrap_or_else(|| ts_ms.to_string())
}

/// Encode `event` as one JSON object (no trailing newline), appending to `out`.
pub fn encode_event(event: &Event<'_>, opts: EncodeOptions, out: &mut String) {
    let mut o = Obj::new(out);
    o.str("event_id", &event.event_id);
    o.str("type", event.kind().as_str());
    o.int("v", 1);
    if opts.ts_rfc3339 {
        o.str("ts", &rfc3339_ms(event.ts_ms));
    } else {
        o.int("ts", event.ts_ms);
    }
    o.str("stream_id", &event.stream_id);
    o.str("session_id", &event.session_id);
    if !(opts.omit_default_viewer && event.viewer_id == event.session_id) {
        o.str("viewer_id", &event.viewer_id);
    }
    if !(opts.region_from_country && event.country.is_some()) {
        o.str("region", &event.region);
    }
    o.opt_str("country", &event.country);
    o.opt_str("platform", &event.platform);
    o.opt_str("cdn", &event.cdn);
    o.opt_str("source", &event.source);
    let dec = |o: &mut Obj<'_>, k: &str, d: crate::Decimal4| {
        if opts.decimals_as_strings {
            o.str(k, &d.to_string());
        } else {
            o.raw(k, &d.to_string());
        }
    };
    match &event.payload {
        Payload::SessionStart | Payload::StallStart | Payload::Share | Payload::Follow => {}
        Payload::FirstFrame { startup_ms } => o.int("startup_ms", *startup_ms),
        Payload::Heartbeat { play_ms, bitrate_kbps, height, latency_ms, dropped_frames } => {
            o.int("play_ms", *play_ms);
            o.opt_int("bitrate_kbps", *bitrate_kbps);
            o.opt_int("height", *height);
            o.opt_int("latency_ms", *latency_ms);
            o.opt_int("dropped_frames", *dropped_frames);
        }
        Payload::StallEnd { stall_ms } => o.int("stall_ms", *stall_ms),
        Payload::Error { code, fatal } => {
            o.str("code", code);
            o.raw("fatal", if *fatal { "true" } else { "false" });
        }
        Payload::SessionEnd { reason } => o.opt_str("reason", reason),
        Payload::Comment { lang } => o.opt_str("lang", lang),
        Payload::Like { count } => o.int("count", *count),
        Payload::Gift { value, currency, .. } => {
            dec(&mut o, "value", *value);
            o.str("currency", currency);
        }
        Payload::ProductClick { product_id } => o.str("product_id", product_id),
        Payload::AddToCart { product_id, quantity } => {
            o.str("product_id", product_id);
            o.int("quantity", *quantity);
        }
        Payload::Order { order_id, product_id, quantity, amount, currency, .. } => {
            o.str("order_id", order_id);
            o.opt_str("product_id", product_id);
            o.int("quantity", *quantity);
            dec(&mut o, "amount", *amount);
            o.str("currency", currency);
        }
    }
    o.end();
}

/// Encode `event` as a fresh JSON string.
pub fn to_json(event: &Event<'_>, opts: EncodeOptions) -> String {
    let mut s = String::with_capacity(256);
    encode_event(event, opts, &mut s);
    s
}
