//! A fast path for the common message: one JSON object of flat members whose keys and strings
//! have no escapes. [`flat_object`] hands each member's key and raw value text to the caller
//! without building anything. Any other shape (escapes, nested values, a syntax error) makes it
//! give up, and the decoder parses the message with serde_json instead, which decides what the
//! message is: this path never rejects anything, so what it accepts is exactly what serde_json
//! accepts (property-tested against it in `contract_tests`).

/// Walk `text` as one JSON object of flat members, calling `member(key, value)` for each in
/// order with the value's JSON text (a string with its quotes, a number, `true`, `false` or
/// `null`). Returns false — and the caller must not use what it was given — unless `text` is
/// such an object with nothing but whitespace around it, or as soon as `member` returns false.
pub(crate) fn flat_object<'a>(text: &'a str, mut member: impl FnMut(&'a str, &'a str) -> bool) -> bool {
    let b = text.as_bytes();
    let mut walk = || -> Option<()> {
        let mut i = skip_ws(b, 0);
        if b.get(i) != Some(&b'{') {
            return None;
        }
        i = skip_ws(b, i + 1);
        if b.get(i) == Some(&b'}') {
            return (skip_ws(b, i + 1) == b.len()).then_some(());
        }
        loop {
            let key_end = string_end(b, i)?;
            let key = &text[i + 1..key_end - 1];
            i = skip_ws(b, key_end);
            if b.get(i) != Some(&b':') {
                return None;
            }
            let start = skip_ws(b, i + 1);
            let end = match b.get(start)? {
                b'"' => string_end(b, start)?,
                b'-' | b'0'..=b'9' => number_end(b, start)?,
                b't' => literal_end(b, start, b"true")?,
                b'f' => literal_end(b, start, b"false")?,
                b'n' => literal_end(b, start, b"null")?,
                _ => return None,
            };
            if !member(key, &text[start..end]) {
                return None;
            }
            i = skip_ws(b, end);
            match b.get(i)? {
                b',' => i = skip_ws(b, i + 1),
                b'}' => return (skip_ws(b, i + 1) == b.len()).then_some(()),
                _ => return None,
            }
        }
    };
    walk().is_some()
}

/// The first position at or after `i` that is not JSON whitespace.
fn skip_ws(b: &[u8], mut i: usize) -> usize {
    while matches!(b.get(i), Some(b' ' | b'\t' | b'\n' | b'\r')) {
        i += 1;
    }
    i
}

/// The end (after the closing quote) of the string starting at `i`; `None` if there is none
/// there, or it has an escape or a control character (left to the full parser).
fn string_end(b: &[u8], i: usize) -> Option<usize> {
    if b.get(i) != Some(&b'"') {
        return None;
    }
    // Eight bytes at a time: the lowest byte that is a quote, a backslash or below 0x20 is
    // found exactly by the "has a byte less than n" bit trick (higher flags may be spurious).
    const ONES: u64 = 0x0101_0101_0101_0101;
    const HIGH: u64 = 0x8080_8080_8080_8080;
    let below = |w: u64, n: u8| w.wrapping_sub(ONES * u64::from(n)) & !w & HIGH;
    let mut j = i + 1;
    while let Some(chunk) = b.get(j..j + 8) {
        let w = u64::from_le_bytes(chunk.try_into().expect("eight bytes"));
        let stop = below(w ^ (ONES * u64::from(b'"')), 1) | below(w ^ (ONES * u64::from(b'\\')), 1) | below(w, 0x20);
        if stop != 0 {
            j += (stop.trailing_zeros() / 8) as usize;
            return (b[j] == b'"').then_some(j + 1);
        }
        j += 8;
    }
    for (k, c) in b.iter().enumerate().skip(j) {
        match c {
            b'"' => return Some(k + 1),
            b'\\' | 0..=0x1f => return None,
            _ => {}
        }
    }
    None
}

/// The end of the JSON number starting at `i`: `-? (0 | [1-9][0-9]*) (. [0-9]+)? ([eE] [+-]? [0-9]+)?`.
fn number_end(b: &[u8], i: usize) -> Option<usize> {
    let digits = |mut j: usize| {
        while b.get(j).is_some_and(u8::is_ascii_digit) {
            j += 1;
        }
        j
    };
    let mut j = i + usize::from(b.get(i) == Some(&b'-'));
    match b.get(j)? {
        b'0' => j += 1,
        b'1'..=b'9' => j = digits(j + 1),
        _ => return None,
    }
    if b.get(j) == Some(&b'.') {
        let k = digits(j + 1);
        if k == j + 1 {
            return None;
        }
        j = k;
    }
    if matches!(b.get(j), Some(b'e' | b'E')) {
        j += 1 + usize::from(matches!(b.get(j + 1), Some(b'+' | b'-')));
        let k = digits(j);
        if k == j {
            return None;
        }
        j = k;
    }
    Some(j)
}

/// The end of `lit` if it starts at `i`.
fn literal_end(b: &[u8], i: usize, lit: &[u8]) -> Option<usize> {
    b[i..].starts_with(lit).then_some(i + lit.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn members(text: &str) -> Option<Vec<(&str, &str)>> {
        let mut out = Vec::new();
        flat_object(text, |k, v| {
            out.push((k, v));
            true
        })
        .then_some(out)
    }

    #[test]
    fn a_string_ends_at_its_first_quote_unless_an_escape_or_control_character_comes_first() {
        let reference = |b: &[u8], i: usize| -> Option<usize> {
            for (k, c) in b.iter().enumerate().skip(i + 1) {
                match c {
                    b'"' => return Some(k + 1),
                    b'\\' | 0..=0x1f => return None,
                    _ => {}
                }
            }
            None
        };
        for len in 0..40 {
            for at in 0..len {
                for special in [b'"', b'\\', 0x01, 0x1f, b'x', 0x80, 0xff, 0x20] {
                    for tail in [&b""[..], b"\"", b"\"rest of it \x01"] {
                        let mut b = vec![b'"'];
                        b.extend((0..len).map(|k| if k == at { special } else { b'a' + (k % 26) as u8 }));
                        b.extend_from_slice(tail);
                        assert_eq!(string_end(&b, 0), reference(&b, 0), "{:?}", String::from_utf8_lossy(&b));
                    }
                }
            }
        }
    }

    #[test]
    fn flat_objects_are_walked_and_everything_else_is_left_to_the_full_parser() {
        assert_eq!(
            members(" {\"a\" : \"x y\",\"b\":-0.5e+3,\n\"c\":true,\"d\":null,\"e\":0,\"f\":\"\"}\t"),
            Some(vec![("a", "\"x y\""), ("b", "-0.5e+3"), ("c", "true"), ("d", "null"), ("e", "0"), ("f", "\"\"")])
        );
        assert_eq!(members("{}"), Some(vec![]));
        for other in [
            "",
            "{",
            "}",
            "{}x",
            "[]",
            "{\"a\":1,}",
            "{\"a\":1 \"b\":2}",
            "{\"a\":01}",
            "{\"a\":1.}",
            "{\"a\":-}",
            "{\"a\":1e}",
            "{\"a\":.5}",
            "{\"a\":tru}",
            "{\"a\":\"x\\\"y\"}",
            "{\"a\\u0062\":1}",
            "{\"a\":{}}",
            "{\"a\":[1]}",
            "{\"a\":\"\u{1}\"}",
            "{\"a\":\"open}",
            "{\"a\" 1}",
            "{a:1}",
            "{\"a\":1}{}",
        ] {
            assert_eq!(members(other), None, "{other:?}");
        }
        assert!(!flat_object("{\"a\":1,\"b\":2}", |k, _| k != "b"), "the caller can stop the walk");
    }
}
