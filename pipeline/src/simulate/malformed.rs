//! Malformed messages a real fleet of producers sends now and then, each with the reason code
//! the contract requires for it.

use livelake_schemas::Family;

use super::rng::Rng;

/// The `i`-th malformed message (variants cycle) for `stream_id` around event time `at`:
/// (topic family, bytes, expected reason code).
pub fn make(i: usize, stream_id: &str, at: i64, rng: &mut Rng) -> (Family, Vec<u8>, &'static str) {
    let id = format!("bad-{stream_id}-{i}");
    let common = format!(r#""event_id":"{id}","ts":{at},"stream_id":"{stream_id}","session_id":"{id}-s""#);
    let (family, text, reason): (Family, String, &'static str) = match i % 12 {
        0 => {
            let full = format!(r#"{{{common},"type":"heartbeat","country":"SG","play_ms":10000}}"#);
            let cut = rng.range(5, full.len() as i64 - 5) as usize;
            (Family::Player, full[..cut].to_string(), "invalid_json")
        }
        1 => (
            Family::Player,
            format!(r#"{{{common},"type":"heartbeat","country":"DE","play_ms":"ten seconds"}}"#),
            "wrong_type:play_ms",
        ),
        2 => (Family::Commerce, format!(r#"{{{common},"type":"super_like","country":"US"}}"#), "unknown_type"),
        3 => (
            Family::Player,
            format!(
                r#"{{"event_id":"{id}","type":"session_start","ts":{at},"stream_id":"{stream_id}","region":"NA"}}"#
            ),
            "missing_field:session_id",
        ),
        4 => (Family::Player, format!(r#"{{{common},"type":"session_start","region":"../../etc"}}"#), "bad_region"),
        5 => (
            Family::Commerce,
            format!(
                r#"{{{common},"type":"order","country":"BR","order_id":"{id}-o","amount":"10.00","currency":"XYZ"}}"#
            ),
            "unknown_currency",
        ),
        6 => {
            (Family::Commerce, format!(r#"{{{common},"type":"comment","country":"AE","v":2}}"#), "unsupported_version")
        }
        7 => (
            Family::Player,
            format!(
                r#"{{"event_id":"{id}","type":"heartbeat","ts":"1999-12-31T23:59:59Z","stream_id":"{stream_id}","session_id":"{id}-s","country":"TH","play_ms":10000}}"#
            ),
            "bad_timestamp",
        ),
        8 => (Family::Commerce, format!(r#"[{{{common},"type":"like"}}]"#), "not_object"),
        9 => {
            (Family::Commerce, format!(r#"{{{common},"type":"like","country":"MX","count":0}}"#), "out_of_range:count")
        }
        10 => {
            let mut b = format!(r#"{{{common},"type":"comment","country":"SG","lang":"#).into_bytes();
            b.extend_from_slice(b"\"\xff\xfe\"}");
            return (Family::Commerce, b, "invalid_utf8");
        }
        _ => (Family::Player, "{}".to_string(), "missing_field:type"),
    };
    (family, text.into_bytes(), reason)
}
