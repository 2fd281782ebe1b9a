//! Bytes of one message → a validated [`Event`], or a [`Rejection`] with its reason code.
//!
//! The message is parsed once into borrowed raw field slices (unknown fields are skipped): by
//! one scan of its bytes when it is a flat object without escapes (`scan.rs`), else by
//! serde_json. Then each field is checked in the order of the tables in `docs/events.md`; the
//! first failing rule names the reason. Nothing here panics on any input (property-tested).

use std::borrow::Cow;

use chrono::DateTime;
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::decimal::{Decimal4, DecimalError};
use crate::event::{Event, EventKind, Payload};
use crate::reason::{Reason, Rejection};
use crate::reference::{Rates, RegionMap, currency_key, is_valid_region};
use crate::scan;

/// Messages larger than this are rejected as `too_large` (64 KiB).
pub const MAX_MESSAGE_BYTES: usize = 64 * 1024;
/// Earliest accepted event time: 2000-01-01T00:00:00Z.
pub const MIN_TS_MS: i64 = 946_684_800_000;
/// How far event time may run ahead of the processing clock (24 h).
pub const MAX_FUTURE_MS: i64 = 24 * 3600 * 1000;

/// The known fields of any event: each field's raw JSON text borrowed from the message (a
/// string with its quotes, a number, `true`, `false`; absent or `null` is `None`), and the name
/// each has in the message.
macro_rules! raw_event {
    ($($field:ident = $name:literal),* $(,)?) => {
        #[derive(Deserialize, Default, Debug, PartialEq)]
        struct RawEvent<'a> {
            $(
                #[serde(borrow, default, rename = $name, deserialize_with = "raw_text")]
                $field: Option<&'a str>,
            )*
        }

        impl<'a> RawEvent<'a> {
            /// The field named `key` and its number, if it is one.
            fn field(&mut self, key: &str) -> Option<(u32, &mut Option<&'a str>)> {
                let mut n = 0;
                $(
                    if key == $name {
                        return Some((n, &mut self.$field));
                    }
                    n += 1;
                )*
                let _ = n;
                None
            }
        }
    };
}

raw_event! {
    event_id = "event_id",
    kind = "type",
    v = "v",
    ts = "ts",
    stream_id = "stream_id",
    session_id = "session_id",
    viewer_id = "viewer_id",
    region = "region",
    country = "country",
    platform = "platform",
    cdn = "cdn",
    source = "source",
    startup_ms = "startup_ms",
    play_ms = "play_ms",
    bitrate_kbps = "bitrate_kbps",
    height = "height",
    latency_ms = "latency_ms",
    dropped_frames = "dropped_frames",
    stall_ms = "stall_ms",
    code = "code",
    fatal = "fatal",
    reason = "reason",
    lang = "lang",
    count = "count",
    value = "value",
    currency = "currency",
    product_id = "product_id",
    quantity = "quantity",
    order_id = "order_id",
    amount = "amount",
}

/// A field's raw JSON text as serde_json reads it (`null`, like an absent field, is `None`).
fn raw_text<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Option<&'de str>, D::Error> {
    Option::<&'de RawValue>::deserialize(d).map(|v| v.map(RawValue::get))
}

/// The fields of a message that [`scan::flat_object`] can walk, as serde_json would read them
/// (a known field twice is left to serde_json, which rejects it); `None` for any other message.
fn scan_fields(text: &str) -> Option<RawEvent<'_>> {
    let mut raw = RawEvent::default();
    let mut seen = 0u64;
    let walked = scan::flat_object(text, |key, value| {
        let Some((n, slot)) = raw.field(key) else { return true };
        if seen & (1 << n) != 0 {
            return false;
        }
        seen |= 1 << n;
        *slot = (value != "null").then_some(value);
        true
    });
    walked.then_some(raw)
}

/// Validates messages against the contract with a given region map and rates table.
#[derive(Debug, Clone, Default)]
pub struct Decoder {
    regions: RegionMap,
    rates: Rates,
}

type R<T> = Result<T, Reason>;

fn req<'a>(raw: Option<&'a str>, name: &'static str) -> R<&'a str> {
    raw.ok_or(Reason::MissingField(name))
}

/// A JSON string literal's content, borrowed when it holds no escapes.
fn json_str<'a>(text: &'a str, name: &'static str) -> R<Cow<'a, str>> {
    if !text.starts_with('"') {
        return Err(Reason::WrongType(name));
    }
    let inner = &text[1..text.len() - 1];
    if !inner.contains('\\') {
        return Ok(Cow::Borrowed(inner));
    }
    serde_json::from_str::<String>(text).map(Cow::Owned).map_err(|_| Reason::WrongType(name))
}

fn string<'a>(text: &'a str, name: &'static str, min: usize, max: usize) -> R<Cow<'a, str>> {
    let s = json_str(text, name)?;
    // A UTF-8 character is 1 to 4 bytes: most lengths are decided without counting.
    let bytes = s.len();
    let in_range = if bytes <= max && bytes >= min.saturating_mul(4) {
        true
    } else {
        let n = s.chars().count();
        n >= min && n <= max
    };
    if !in_range {
        return Err(Reason::OutOfRange(name));
    }
    Ok(s)
}

fn opt_string<'a>(raw: Option<&'a str>, name: &'static str, max: usize) -> R<Option<Cow<'a, str>>> {
    raw.map(|t| string(t, name, 0, max)).transpose()
}

/// An integer JSON number within `[min, max]`. Fractions and exponents are the wrong type.
fn int(text: &str, name: &'static str, min: i64, max: i64) -> R<i64> {
    let b = text.as_bytes();
    let digits = b.strip_prefix(b"-").unwrap_or(b);
    if digits.is_empty() || !digits.iter().all(u8::is_ascii_digit) {
        // Strings, booleans, objects and fractional or exponent literals are not integers.
        return Err(Reason::WrongType(name));
    }
    match text.parse::<i64>() {
        Ok(v) if v >= min && v <= max => Ok(v),
        _ => Err(Reason::OutOfRange(name)),
    }
}

fn opt_int(raw: Option<&str>, name: &'static str, min: i64, max: i64) -> R<Option<i64>> {
    raw.map(|t| int(t, name, min, max)).transpose()
}

fn decimal(text: &str, name: &'static str, max_units: i64) -> R<Decimal4> {
    let digits = if text.starts_with('"') {
        json_str(text, name)?
    } else if text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
        Cow::Borrowed(text)
    } else {
        return Err(Reason::WrongType(name));
    };
    let d = Decimal4::parse(&digits).map_err(|e| match e {
        DecimalError::Syntax => Reason::WrongType(name),
        DecimalError::OutOfRange => Reason::OutOfRange(name),
    })?;
    if d.is_negative() || d > Decimal4::from_units(max_units) {
        return Err(Reason::OutOfRange(name));
    }
    Ok(d)
}

fn currency<'a>(raw: Option<&'a str>, rates: &Rates) -> R<Cow<'a, str>> {
    let s = json_str(req(raw, "currency")?, "currency")?;
    let key = currency_key(&s).ok_or(Reason::WrongType("currency"))?;
    if !rates.contains(&s) {
        return Err(Reason::UnknownCurrency);
    }
    Ok(if s.bytes().all(|b| b.is_ascii_uppercase()) {
        s
    } else {
        Cow::Owned(String::from_utf8_lossy(&key).into_owned())
    })
}

fn upper(s: Cow<'_, str>) -> Cow<'_, str> {
    if s.bytes().any(|b| b.is_ascii_lowercase()) { Cow::Owned(s.to_ascii_uppercase()) } else { s }
}

/// The event time of a `ts` field given as its JSON text (epoch ms, or an RFC 3339 string), by
/// the contract's rule without the "not in the future" bound; `None` when it is not one.
pub fn ts_of_json(text: &str) -> Option<i64> {
    timestamp(text, i64::MAX).ok()
}

fn timestamp(text: &str, now_ms: i64) -> R<i64> {
    let ms = if text.starts_with('"') {
        let s = json_str(text, "ts")?;
        DateTime::parse_from_rfc3339(&s).map_err(|_| Reason::BadTimestamp)?.timestamp_millis()
    } else if text.starts_with(['-', '0', '1', '2', '3', '4', '5', '6', '7', '8', '9']) {
        let b = text.as_bytes();
        let digits = b.strip_prefix(b"-").unwrap_or(b);
        if !digits.iter().all(u8::is_ascii_digit) {
            return Err(Reason::WrongType("ts"));
        }
        text.parse::<i64>().map_err(|_| Reason::BadTimestamp)?
    } else {
        return Err(Reason::WrongType("ts"));
    };
    if ms < MIN_TS_MS || ms > now_ms.saturating_add(MAX_FUTURE_MS) {
        return Err(Reason::BadTimestamp);
    }
    Ok(ms)
}

impl Decoder {
    /// A decoder with the given reference data.
    pub fn new(regions: RegionMap, rates: Rates) -> Self {
        Decoder { regions, rates }
    }

    /// The region map in use.
    pub fn regions(&self) -> &RegionMap {
        &self.regions
    }

    /// The rates table in use.
    pub fn rates(&self) -> &Rates {
        &self.rates
    }

    /// Decode and validate one message. `now_ms` is the processing clock (for `bad_timestamp`).
    pub fn decode<'a>(&self, bytes: &'a [u8], now_ms: i64) -> Result<Event<'a>, Rejection> {
        if bytes.len() > MAX_MESSAGE_BYTES {
            return Err(Rejection::new(Reason::TooLarge));
        }
        let text = std::str::from_utf8(bytes).map_err(|_| Rejection::new(Reason::InvalidUtf8))?;
        // Serde would read a JSON array into the struct positionally: only objects get that far.
        if !text.trim_start().starts_with('{') {
            return Err(Rejection::new(classify_parse_failure(text)));
        }
        let raw: RawEvent<'a> = match scan_fields(text) {
            Some(raw) => raw,
            None => match serde_json::from_str(text) {
                Ok(raw) => raw,
                Err(_) => return Err(Rejection::new(classify_parse_failure(text))),
            },
        };
        self.validate(&raw, now_ms)
            .map_err(|reason| Rejection { reason, region: self.region(&raw).ok().map(Cow::into_owned) })
    }

    fn region<'a>(&self, raw: &RawEvent<'a>) -> R<Cow<'a, str>> {
        if let Some(t) = raw.region {
            let s = json_str(t, "region").map_err(|_| Reason::BadRegion)?;
            if !is_valid_region(&s) {
                return Err(Reason::BadRegion);
            }
            return Ok(upper(s));
        }
        match self.country(raw)? {
            Some(c) => {
                let r = self.regions.region_of(&c).ok_or(Reason::WrongType("country"))?;
                Ok(Cow::Borrowed(r))
            }
            None => Err(Reason::MissingRegion),
        }
    }

    fn country<'a>(&self, raw: &RawEvent<'a>) -> R<Option<Cow<'a, str>>> {
        let Some(t) = raw.country else { return Ok(None) };
        let c = json_str(t, "country")?;
        let b = c.as_bytes();
        if b.len() != 2 || !b.iter().all(u8::is_ascii_alphabetic) {
            return Err(Reason::WrongType("country"));
        }
        Ok(Some(upper(c)))
    }

    fn validate<'a>(&self, raw: &RawEvent<'a>, now_ms: i64) -> R<Event<'a>> {
        if let Some(v) = raw.v {
            match int(v, "v", i64::MIN, i64::MAX) {
                Ok(1) => {}
                Ok(_) | Err(Reason::OutOfRange(_)) => return Err(Reason::UnsupportedVersion),
                Err(e) => return Err(e),
            }
        }
        let kind_text = json_str(req(raw.kind, "type")?, "type")?;
        let kind = EventKind::parse(&kind_text).ok_or(Reason::UnknownType)?;
        let event_id = string(req(raw.event_id, "event_id")?, "event_id", 1, 128)?;
        let ts_ms = timestamp(req(raw.ts, "ts")?, now_ms)?;
        let stream_id = string(req(raw.stream_id, "stream_id")?, "stream_id", 1, 128)?;
        let session_id = string(req(raw.session_id, "session_id")?, "session_id", 1, 128)?;
        let viewer_id = match raw.viewer_id {
            Some(t) => string(t, "viewer_id", 1, 128)?,
            None => session_id.clone(),
        };
        let country = self.country(raw)?;
        let region = self.region(raw)?;
        let platform = opt_string(raw.platform, "platform", 32)?;
        let cdn = opt_string(raw.cdn, "cdn", 64)?;
        let source = opt_string(raw.source, "source", 64)?;
        let payload = self.payload(kind, raw)?;
        Ok(Event { event_id, ts_ms, stream_id, session_id, viewer_id, region, country, platform, cdn, source, payload })
    }

    fn payload<'a>(&self, kind: EventKind, raw: &RawEvent<'a>) -> R<Payload<'a>> {
        const NON_NEG: i64 = i64::MAX;
        Ok(match kind {
            EventKind::SessionStart => Payload::SessionStart,
            EventKind::FirstFrame => {
                Payload::FirstFrame { startup_ms: int(req(raw.startup_ms, "startup_ms")?, "startup_ms", 0, 600_000)? }
            }
            EventKind::Heartbeat => Payload::Heartbeat {
                play_ms: int(req(raw.play_ms, "play_ms")?, "play_ms", 0, 120_000)?,
                bitrate_kbps: opt_int(raw.bitrate_kbps, "bitrate_kbps", 0, NON_NEG)?,
                height: opt_int(raw.height, "height", 0, NON_NEG)?,
                latency_ms: opt_int(raw.latency_ms, "latency_ms", 0, 600_000)?,
                dropped_frames: opt_int(raw.dropped_frames, "dropped_frames", 0, NON_NEG)?,
            },
            EventKind::StallStart => Payload::StallStart,
            EventKind::StallEnd => {
                Payload::StallEnd { stall_ms: int(req(raw.stall_ms, "stall_ms")?, "stall_ms", 0, 3_600_000)? }
            }
            EventKind::Error => {
                let code = string(req(raw.code, "code")?, "code", 0, 64)?;
                let fatal = match req(raw.fatal, "fatal")? {
                    "true" => true,
                    "false" => false,
                    _ => return Err(Reason::WrongType("fatal")),
                };
                Payload::Error { code, fatal }
            }
            EventKind::SessionEnd => Payload::SessionEnd { reason: opt_string(raw.reason, "reason", 32)? },
            EventKind::Comment => Payload::Comment { lang: opt_string(raw.lang, "lang", 16)? },
            EventKind::Like => Payload::Like { count: opt_int(raw.count, "count", 1, 10_000)?.unwrap_or(1) },
            EventKind::Gift => {
                let value = decimal(req(raw.value, "value")?, "value", i64::MAX / 10_000)?;
                let currency = currency(raw.currency, &self.rates)?;
                let value_usd = self.rates.to_usd(value, &currency).ok_or(Reason::UnknownCurrency)?;
                Payload::Gift { value, currency, value_usd }
            }
            EventKind::Share => Payload::Share,
            EventKind::Follow => Payload::Follow,
            EventKind::ProductClick => {
                Payload::ProductClick { product_id: string(req(raw.product_id, "product_id")?, "product_id", 1, 128)? }
            }
            EventKind::AddToCart => Payload::AddToCart {
                product_id: string(req(raw.product_id, "product_id")?, "product_id", 1, 128)?,
                quantity: opt_int(raw.quantity, "quantity", 1, 10_000)?.unwrap_or(1),
            },
            EventKind::Order => {
                let order_id = string(req(raw.order_id, "order_id")?, "order_id", 1, 128)?;
                let product_id = raw.product_id.map(|t| string(t, "product_id", 1, 128)).transpose()?;
                let quantity = opt_int(raw.quantity, "quantity", 1, 10_000)?.unwrap_or(1);
                let amount = decimal(req(raw.amount, "amount")?, "amount", 10_000_000)?;
                let currency = currency(raw.currency, &self.rates)?;
                let amount_usd = self.rates.to_usd(amount, &currency).ok_or(Reason::UnknownCurrency)?;
                Payload::Order { order_id, product_id, quantity, amount, currency, amount_usd }
            }
        })
    }
}

/// Tell `not_object` (valid JSON of another shape) from `invalid_json`.
fn classify_parse_failure(text: &str) -> Reason {
    let trimmed = text.trim_start();
    if trimmed.starts_with('{') {
        return Reason::InvalidJson;
    }
    match serde_json::from_str::<serde::de::IgnoredAny>(text) {
        Ok(_) => Reason::NotObject,
        Err(_) => Reason::InvalidJson,
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    /// The fast path's fields when it takes the message, else `None`; and serde_json's reading.
    fn both(text: &str) -> (Option<RawEvent<'_>>, Result<RawEvent<'_>, String>) {
        (scan_fields(text), serde_json::from_str::<RawEvent<'_>>(text).map_err(|e| e.to_string()))
    }

    #[test]
    fn events_as_producers_write_them_take_the_fast_path_with_serde_jsons_fields() {
        let events = [
            r#"{"event_id":"show-7-3-s018016-1","type":"session_start","v":1,"ts":1795780800085,"stream_id":"show-7-3","session_id":"show-7-3-s018016","viewer_id":"show-7-3-v018016","country":"CA","platform":"android","cdn":"sjc-edge-1","source":"organic"}"#,
            r#"{"event_id":"e","type":"heartbeat","ts":"2026-11-27T12:00:00.250+08:00","stream_id":"s","session_id":"x","region":"EU","play_ms":9800,"latency_ms":null,"extra":"ignored"}"#,
            r#" { "event_id" : "e" , "type" : "order" , "amount" : 19.99 , "currency" : "EUR" , "quantity" : 2 , "fatal" : false } "#,
            r#"{"event_id":"é日本","type":"gift","value":"1e3","currency":"thb","x":-0.5E-7}"#,
        ];
        for text in events {
            let (fast, serde) = both(text);
            let fast = fast.unwrap_or_else(|| panic!("fast path: {text}"));
            assert_eq!(Ok(fast), serde, "{text}");
        }
        let (fast, serde) = both(r#"{"event_id":"a","event_id":"b"}"#);
        assert!(fast.is_none() && serde.is_err(), "a repeated field is serde_json's to reject");
        let (fast, serde) = both(r#"{"event_id":null,"event_id":"b"}"#);
        assert!(fast.is_none() && serde.is_err(), "null counts as present for repeats");
        let (fast, serde) = both(r#"{"x":1,"x":2,"type":"like"}"#);
        assert_eq!(fast.as_ref().and_then(|r| r.kind), Some("\"like\""), "repeated unknown fields are ignored");
        assert_eq!(fast.ok_or_else(String::new), serde);
    }

    proptest! {
        #![proptest_config(ProptestConfig { cases: 4000, ..ProptestConfig::default() })]

        /// Whatever the fast path takes, serde_json reads to the same fields.
        #[test]
        fn the_fast_path_agrees_with_serde_json(text in concat!(
            r#"[ \t\n]?\{([ \t\n\r]?"(event_id|type|ts|v|region|stream_id|session_id|play_ms|x|t\\u0079pe|)"[ \n]?:[ \t]?"#,
            r#"("[^"\\]{0,8}"|"[a-z\\"\n]{0,6}"|-?[0-9]{1,4}(\.[0-9]{0,3})?([eE][+-]?[0-9]{0,3})?|true|false|null|tru|nul|\[\]|\{\}|01|-)"#,
            r#"[ \n]?,?){0,8}\}[ \u{a0}x]?"#
        )) {
            let (fast, serde) = both(&text);
            if let Some(fast) = fast {
                prop_assert_eq!(Ok(fast), serde, "{}", text);
            }
        }

        /// A flat object without escapes takes the fast path unless serde_json rejects it (a
        /// known field twice).
        #[test]
        fn flat_objects_take_the_fast_path(text in concat!(
            r#"\{("(event_id|type|ts|stream_id|session_id|play_ms|amount|x|y)":"#,
            r#"("[^"\\\u{0}-\u{1f}]{0,8}"|-?(0|[1-9][0-9]{0,5})(\.[0-9]{1,3})?([eE][+-]?[0-9]{1,2})?|true|false|null),){0,8}"#,
            r#""z":0\}"#
        )) {
            let (fast, serde) = both(&text);
            match fast {
                Some(fast) => prop_assert_eq!(Ok(fast), serde, "{}", text),
                None => prop_assert!(serde.is_err(), "{}", text),
            }
        }
    }
}
