//! Contract tests: every event type round-trips JSON → typed → Arrow with hand-written
//! expectations; every rejection class of EVENTS.md yields its code; arbitrary bytes never panic.

use arrow::array::RecordBatch;
use arrow::util::display::array_value_to_string;
use proptest::prelude::*;

use crate::*;

/// 2026-11-27T12:00:00Z
const T0: i64 = 1_795_780_800_000;
const NOW: i64 = T0 + 3_600_000;

fn decoder() -> Decoder {
    Decoder::default()
}

fn decode(json: &str) -> Result<Event<'_>, Rejection> {
    decoder().decode(json.as_bytes(), NOW)
}

fn reason(json: &str) -> String {
    match decode(json) {
        Ok(e) => panic!("accepted {json}: {e:?}"),
        Err(r) => r.reason.to_string(),
    }
}

fn cell(batch: &RecordBatch, col: &str) -> String {
    let idx = batch.schema().index_of(col).unwrap_or_else(|_| panic!("no column {col}"));
    let arr = batch.column(idx);
    if arr.is_null(0) { "NULL".into() } else { array_value_to_string(arr, 0).unwrap() }
}

/// One row through the Arrow builders; returns the batch.
fn to_arrow(e: &Event<'_>) -> RecordBatch {
    let pos = SourcePos { partition: 2, offset: 41 };
    match e.kind().family() {
        Family::Player => {
            let mut rows = PlayerRows::with_capacity(1);
            assert!(rows.append(e, NOW, pos));
            rows.finish().unwrap()
        }
        Family::Commerce => {
            let mut rows = CommerceRows::with_capacity(1);
            assert!(rows.append(e, NOW, pos));
            rows.finish().unwrap()
        }
    }
}

const COMMON: &str = r#""ts":1795780800000,"stream_id":"s1","session_id":"sess-1","viewer_id":"v-9","country":"sg","platform":"ios","source":"ads""#;

/// (json, [(column, expected display value)]) for every event type.
fn cases() -> Vec<(String, Vec<(&'static str, &'static str)>)> {
    let j = |ty: &str, extra: &str| format!(r#"{{"event_id":"e-{ty}","type":"{ty}",{COMMON}{extra}}}"#);
    vec![
        (j("session_start", r#","cdn":"edge-7""#), vec![("cdn", "edge-7"), ("play_ms", "NULL")]),
        (j("first_frame", r#","startup_ms":850"#), vec![("startup_ms", "850"), ("cdn", "NULL")]),
        (
            j("heartbeat", r#","play_ms":9800,"bitrate_kbps":2500,"height":720,"latency_ms":3100,"dropped_frames":4"#),
            vec![
                ("play_ms", "9800"),
                ("bitrate_kbps", "2500"),
                ("height", "720"),
                ("latency_ms", "3100"),
                ("dropped_frames", "4"),
                ("stall_ms", "NULL"),
            ],
        ),
        (j("stall_start", ""), vec![("stall_ms", "NULL")]),
        (j("stall_end", r#","stall_ms":2300"#), vec![("stall_ms", "2300")]),
        (
            j("error", r#","code":"NET_404","fatal":true"#),
            vec![("error_code", "NET_404"), ("fatal", "true"), ("end_reason", "NULL")],
        ),
        (j("session_end", r#","reason":"user_left""#), vec![("end_reason", "user_left"), ("fatal", "NULL")]),
        (j("comment", r#","lang":"ms""#), vec![("lang", "ms"), ("like_count", "NULL")]),
        (j("like", r#","count":12"#), vec![("like_count", "12"), ("amount", "NULL")]),
        (
            j("gift", r#","value":"100","currency":"thb""#),
            vec![("amount", "100.0000"), ("currency", "THB"), ("amount_usd", "2.8500")],
        ),
        (j("share", ""), vec![("product_id", "NULL")]),
        (j("follow", ""), vec![("order_id", "NULL")]),
        (j("product_click", r#","product_id":"p-1""#), vec![("product_id", "p-1"), ("quantity", "NULL")]),
        (j("add_to_cart", r#","product_id":"p-1""#), vec![("product_id", "p-1"), ("quantity", "1")]),
        (
            j("order", r#","order_id":"o-1","product_id":"p-1","quantity":2,"amount":19.99,"currency":"EUR""#),
            vec![
                ("order_id", "o-1"),
                ("quantity", "2"),
                ("amount", "19.9900"),
                ("currency", "EUR"),
                ("amount_usd", "21.5892"),
            ],
        ),
    ]
}

#[test]
fn every_event_type_round_trips_json_typed_arrow() {
    let cases = cases();
    let covered: std::collections::BTreeSet<_> = cases.iter().map(|(j, _)| decode(j).unwrap().kind()).collect();
    assert_eq!(covered.len(), EventKind::ALL.len(), "a case per event type");
    for (json, expect) in &cases {
        let e = decode(json).unwrap_or_else(|r| panic!("{json}: {r}"));
        assert_eq!(e.region, "SEA", "region derived from country");
        assert_eq!(e.country.as_deref(), Some("SG"), "country upper-cased");
        let b = to_arrow(&e);
        assert_eq!(b.num_rows(), 1);
        let common = [
            ("event_id", format!("e-{}", e.kind().as_str())),
            ("type", e.kind().as_str().to_string()),
            ("ts", "2026-11-27T12:00:00Z".to_string()),
            ("stream_id", "s1".into()),
            ("session_id", "sess-1".into()),
            ("viewer_id", "v-9".into()),
            ("country", "SG".into()),
            ("platform", "ios".into()),
            ("source", "ads".into()),
            ("src_partition", "2".into()),
            ("src_offset", "41".into()),
            ("region", "SEA".into()),
        ];
        for (col, want) in common {
            assert_eq!(cell(&b, col), want, "{json} column {col}");
        }
        for (col, want) in expect {
            assert_eq!(cell(&b, col), *want, "{json} column {col}");
        }
        // Typed → JSON → typed is the identity, whichever encoding options a producer picks.
        for opts in [
            EncodeOptions::default(),
            EncodeOptions {
                ts_rfc3339: true,
                decimals_as_strings: true,
                region_from_country: true,
                omit_default_viewer: true,
            },
        ] {
            let again = to_json(&e, opts);
            let back = decode(&again).unwrap_or_else(|r| panic!("{again}: {r}"));
            assert_eq!(back.clone().into_owned(), e.clone().into_owned(), "{again}");
        }
    }
}

#[test]
fn defaults_and_explicit_region() {
    let e = decode(r#"{"event_id":"a","type":"like","ts":"2026-11-27T12:00:00.250+08:00","stream_id":"s","session_id":"x","region":"eu-west"}"#).unwrap();
    assert_eq!(e.viewer_id, "x", "viewer defaults to session");
    assert_eq!(e.region, "EU-WEST");
    assert_eq!(e.ts_ms, T0 - 8 * 3_600_000 + 250);
    assert_eq!(e.payload, Payload::Like { count: 1 });
    // explicit region wins over the map
    let e = decode(r#"{"event_id":"a","type":"share","ts":1795780800000,"stream_id":"s","session_id":"x","region":"NA","country":"DE"}"#).unwrap();
    assert_eq!(e.region, "NA");
    // unknown extra fields are ignored; null reads as absent
    let e = decode(r#"{"event_id":"a","type":"share","ts":1795780800000,"stream_id":"s","session_id":"x","country":"ZA","extra":{"x":[1,2]},"cdn":null}"#).unwrap();
    assert_eq!(e.region, "OTHER");
    assert_eq!(e.cdn, None);
    // escaped strings are decoded
    let e = decode(
        r#"{"event_id":"a\"b","type":"share","ts":1795780800000,"stream_id":"s","session_id":"x","region":"NA"}"#,
    )
    .unwrap();
    assert_eq!(e.event_id, "a\"b");
    // lengths count characters: 128 of two bytes each is within event_id's 128
    let long = "é".repeat(128);
    let json = format!(
        r#"{{"event_id":"{long}","type":"share","ts":1795780800000,"stream_id":"s","session_id":"x","region":"NA"}}"#
    );
    assert_eq!(decode(&json).unwrap().event_id, long);
}

#[test]
fn every_rejection_class_has_its_code() {
    let base = |extra: &str| {
        format!(
            r#"{{"event_id":"e","type":"heartbeat","ts":1795780800000,"stream_id":"s","session_id":"x","region":"EU","play_ms":1000{extra}}}"#
        )
    };
    let order = |amount: &str, currency: &str| {
        format!(
            r#"{{"event_id":"e","type":"order","ts":1795780800000,"stream_id":"s","session_id":"x","region":"EU","order_id":"o","amount":{amount},"currency":{currency}}}"#
        )
    };
    assert_eq!(decoder().decode(b"{\"a\":\"\xff\"}", NOW).unwrap_err().reason, Reason::InvalidUtf8);
    let big = format!(r#"{{"event_id":"{}"}}"#, "x".repeat(MAX_MESSAGE_BYTES));
    let cases: Vec<(String, &str)> = vec![
        (String::new(), "invalid_json"),
        ("{\"event_id\":\"e\",".into(), "invalid_json"),
        ("{'a':1}".into(), "invalid_json"),
        (r#"{"ts":NaN}"#.into(), "invalid_json"),
        ("[1,2]".into(), "not_object"),
        ("\"hello\"".into(), "not_object"),
        ("42".into(), "not_object"),
        (big, "too_large"),
        (
            r#"{"type":"share","ts":1795780800000,"stream_id":"s","session_id":"x","region":"EU"}"#.into(),
            "missing_field:event_id",
        ),
        (r#"{"event_id":"e","ts":1795780800000}"#.into(), "missing_field:type"),
        (base("").replace(r#""ts":1795780800000,"#, ""), "missing_field:ts"),
        (base("").replace(r#""play_ms":1000"#, r#""bitrate_kbps":1"#), "missing_field:play_ms"),
        (base("").replace(r#""stream_id":"s","#, r#""stream_id":null,"#), "missing_field:stream_id"),
        (base("").replace("1000", "\"1000\""), "wrong_type:play_ms"),
        (base("").replace("1000", "10.5"), "wrong_type:play_ms"),
        (base("").replace(r#""session_id":"x""#, r#""session_id":7"#), "wrong_type:session_id"),
        (base(r#","country":"DEU""#).replace(r#""region":"EU","#, ""), "wrong_type:country"),
        (base(r#","country":"D1""#), "wrong_type:country"),
        (base("").replace("1000", "-1"), "out_of_range:play_ms"),
        (base("").replace("1000", "120001"), "out_of_range:play_ms"),
        (base("").replace("1000", "99999999999999999999999"), "out_of_range:play_ms"),
        (base(r#","latency_ms":600001"#), "out_of_range:latency_ms"),
        (base("").replace(r#""event_id":"e""#, r#""event_id":"""#), "out_of_range:event_id"),
        (
            base("").replace(r#""event_id":"e""#, &format!(r#""event_id":"{}""#, "e".repeat(129))),
            "out_of_range:event_id",
        ),
        (
            // 129 characters of two bytes each: lengths count characters, not bytes.
            base("").replace(r#""event_id":"e""#, &format!(r#""event_id":"{}""#, "é".repeat(129))),
            "out_of_range:event_id",
        ),
        (order("\"NaN\"", "\"EUR\""), "out_of_range:amount"),
        (order("\"Infinity\"", "\"EUR\""), "out_of_range:amount"),
        (order("-1", "\"EUR\""), "out_of_range:amount"),
        (order("10000000.0001", "\"EUR\""), "out_of_range:amount"),
        (order("\"ten\"", "\"EUR\""), "wrong_type:amount"),
        (order("true", "\"EUR\""), "wrong_type:amount"),
        (order("5", "\"EURO\""), "wrong_type:currency"),
        (order("5", "\"XYZ\""), "unknown_currency"),
        (base("").replace("heartbeat", "teleport"), "unknown_type"),
        (base("").replace(r#""type":"heartbeat""#, r#""type":3"#), "wrong_type:type"),
        (base(r#","v":2"#), "unsupported_version"),
        (base(r#","v":"1""#), "wrong_type:v"),
        (base("").replace("1795780800000", "946684799999"), "bad_timestamp"),
        (base("").replace("1795780800000", "253402300799000"), "bad_timestamp"),
        (base("").replace("1795780800000", "\"9999-12-31T23:59:59Z\""), "bad_timestamp"),
        (base("").replace("1795780800000", "\"yesterday\""), "bad_timestamp"),
        (base("").replace("1795780800000", "true"), "wrong_type:ts"),
        (base("").replace(r#""region":"EU""#, r#""region":"../../etc""#), "bad_region"),
        (base("").replace(r#""region":"EU""#, r#""region":"""#), "bad_region"),
        (base("").replace(r#""region":"EU""#, r#""region":42"#), "bad_region"),
        (base("").replace(r#""region":"EU","#, ""), "missing_region"),
    ];
    let mut classes = std::collections::BTreeSet::new();
    for (json, want) in &cases {
        let got = reason(json);
        assert_eq!(&got, want, "{json}");
        classes.insert(got.split(':').next().unwrap().to_string());
    }
    classes.insert("invalid_utf8".into());
    let all: std::collections::BTreeSet<String> = Reason::CLASSES.iter().map(|s| s.to_string()).collect();
    assert_eq!(classes, all, "every class of EVENTS.md is exercised");
}

#[test]
fn rejection_keeps_a_readable_region_for_partitioning() {
    let r =
        decode(r#"{"event_id":"e","type":"nope","ts":1795780800000,"stream_id":"s","session_id":"x","country":"de"}"#)
            .unwrap_err();
    assert_eq!(r.reason, Reason::UnknownType);
    assert_eq!(r.region.as_deref(), Some("EU"));
    let r = decode(r#"{"event_id":"e","type":"nope","region":"../x"}"#).unwrap_err();
    assert_eq!(r.region, None);
}

#[test]
fn deadletter_rows_keep_payload_and_reason() {
    let mut rows = DeadletterRows::with_capacity(2);
    rows.append(NOW, "livelake.player.v1", SourcePos { partition: 1, offset: 7 }, "invalid_json", b"{oops", None);
    let big = vec![b'x'; MAX_MESSAGE_BYTES + 10];
    rows.append(NOW, "t", SourcePos { partition: 0, offset: 8 }, "too_large", &big, Some("EU"));
    let b = rows.finish().unwrap();
    assert_eq!(cell(&b, "reason"), "invalid_json");
    assert_eq!(cell(&b, "region"), "UNKNOWN");
    let payload = b.column(5).as_any().downcast_ref::<arrow::array::BinaryArray>().unwrap();
    assert_eq!(payload.value(0), b"{oops");
    assert_eq!(payload.value(1).len(), MAX_MESSAGE_BYTES);
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = decoder().decode(&bytes, NOW);
    }

    #[test]
    fn json_like_text_never_panics(s in r#"\{("[a-z_]{1,10}":("[^"\\]{0,12}"|-?[0-9]{1,25}(\.[0-9]{0,6})?([eE]-?[0-9]{1,4})?|true|null|\[\]),?){0,12}\}"#) {
        let _ = decoder().decode(s.as_bytes(), NOW);
    }

    #[test]
    fn mutated_valid_events_never_panic(idx in 0usize..15, cut in 0usize..400, byte in any::<u8>()) {
        let (json, _) = &cases()[idx];
        let mut b = json.as_bytes().to_vec();
        let at = cut % (b.len() + 1);
        if byte % 2 == 0 { b.truncate(at) } else if at < b.len() { b[at] = byte }
        let _ = decoder().decode(&b, NOW);
    }

    #[test]
    fn decimals_parse_exactly(units in 0i64..10_000_000, frac in 0u32..10_000) {
        let text = format!("{units}.{frac:04}");
        let d = Decimal4::parse(&text).unwrap();
        prop_assert_eq!(d.0, units as i128 * 10_000 + frac as i128);
        prop_assert_eq!(Decimal4::parse(&d.to_string()).unwrap(), d);
    }
}
