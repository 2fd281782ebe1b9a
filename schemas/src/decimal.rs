//! Exact decimals with 4 fractional digits (`decimal128(18,4)` in the lake), parsed from JSON
//! number text or strings without going through binary floating point.

use std::fmt;
use std::str::FromStr;

/// A decimal with scale 4, stored as the integer number of ten-thousandths.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Default)]
pub struct Decimal4(pub i128);

/// Why a decimal text could not be read.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DecimalError {
    /// Not a decimal number at all.
    Syntax,
    /// NaN, Infinity, or more digits than decimal128(18,4) holds.
    OutOfRange,
}

/// Scale of [`Decimal4`].
pub const SCALE: u32 = 4;
const ONE: i128 = 10_000;
/// Largest magnitude decimal128(18,4) can hold (18 digits).
const MAX_RAW: i128 = 999_999_999_999_999_999;

impl Decimal4 {
    /// Zero.
    pub const ZERO: Decimal4 = Decimal4(0);

    /// From whole units (e.g. dollars).
    pub fn from_units(units: i64) -> Self {
        Decimal4(units as i128 * ONE)
    }

    /// From ten-thousandths.
    pub fn from_raw(raw: i128) -> Self {
        Decimal4(raw)
    }

    /// The value as f64 (for display and approximate maths only).
    pub fn to_f64(self) -> f64 {
        self.0 as f64 / ONE as f64
    }

    /// True when the value is below zero.
    pub fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Multiply by a rate given as an integer numerator over `10^rate_scale`, rounding half away
    /// from zero back to 4 decimals. Exact: no floating point.
    pub fn mul_rate(self, rate_raw: i128, rate_scale: u32) -> Decimal4 {
        let prod = self.0 * rate_raw;
        let div = 10i128.pow(rate_scale);
        Decimal4(div_round(prod, div))
    }

    /// Parse decimal text: `12`, `-0.5`, `19.99`, `1e3`, `2.5E-2`. Digits beyond the 4th decimal
    /// are rounded half away from zero. `NaN`/`Infinity` and oversize values are out of range.
    pub fn parse(text: &str) -> Result<Decimal4, DecimalError> {
        let t = text.trim();
        let lower = t.trim_start_matches(['+', '-']).to_ascii_lowercase();
        if lower == "nan" || lower == "inf" || lower == "infinity" {
            return Err(DecimalError::OutOfRange);
        }
        let (neg, body) = match t.as_bytes().first() {
            Some(b'-') => (true, &t[1..]),
            Some(b'+') => (false, &t[1..]),
            _ => (false, t),
        };
        let (mantissa, exp) = match body.find(['e', 'E']) {
            Some(i) => {
                let e: i32 = body[i + 1..].parse().map_err(|_| DecimalError::Syntax)?;
                (&body[..i], e)
            }
            None => (body, 0),
        };
        let (int_part, frac_part) = match mantissa.find('.') {
            Some(i) => (&mantissa[..i], &mantissa[i + 1..]),
            None => (mantissa, ""),
        };
        if int_part.is_empty() && frac_part.is_empty() {
            return Err(DecimalError::Syntax);
        }
        if !int_part.bytes().all(|b| b.is_ascii_digit()) || !frac_part.bytes().all(|b| b.is_ascii_digit()) {
            return Err(DecimalError::Syntax);
        }
        // All digits as one integer, with the decimal point `point` places from the right.
        let digits: String = int_part.chars().chain(frac_part.chars()).collect();
        let digits = digits.trim_start_matches('0');
        let point = frac_part.len() as i64 - exp as i64;
        if digits.is_empty() {
            return Ok(Decimal4::ZERO);
        }
        // Shift so that the point is SCALE places from the right.
        let shift = SCALE as i64 - point;
        let value: i128 = if shift >= 0 {
            if digits.len() as i64 + shift > 19 {
                return Err(DecimalError::OutOfRange);
            }
            let base: i128 = digits.parse().map_err(|_| DecimalError::OutOfRange)?;
            base * 10i128.pow(shift as u32)
        } else {
            let drop = (-shift) as usize;
            if drop >= digits.len() {
                // Everything is below 10^-4: rounds to 0 or 1 ten-thousandth.
                let first = if drop == digits.len() { digits.as_bytes()[0] } else { b'0' };
                if first >= b'5' { 1 } else { 0 }
            } else {
                let keep = &digits[..digits.len() - drop];
                if keep.len() > 19 {
                    return Err(DecimalError::OutOfRange);
                }
                let base: i128 = keep.parse().map_err(|_| DecimalError::OutOfRange)?;
                let next = digits.as_bytes()[digits.len() - drop];
                if next >= b'5' { base + 1 } else { base }
            }
        };
        if value > MAX_RAW {
            return Err(DecimalError::OutOfRange);
        }
        Ok(Decimal4(if neg { -value } else { value }))
    }
}

fn div_round(num: i128, den: i128) -> i128 {
    let q = num / den;
    let r = num % den;
    if r.abs() * 2 >= den { if num < 0 { q - 1 } else { q + 1 } } else { q }
}

impl FromStr for Decimal4 {
    type Err = DecimalError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Decimal4::parse(s)
    }
}

impl fmt::Display for Decimal4 {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        let int = abs / ONE as u128;
        let frac = abs % ONE as u128;
        if frac == 0 {
            write!(f, "{sign}{int}")
        } else {
            let s = format!("{frac:04}");
            write!(f, "{sign}{int}.{}", s.trim_end_matches('0'))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_exactly() {
        assert_eq!(Decimal4::parse("19.99"), Ok(Decimal4(199_900)));
        assert_eq!(Decimal4::parse("0.0001"), Ok(Decimal4(1)));
        assert_eq!(Decimal4::parse("-3"), Ok(Decimal4(-30_000)));
        assert_eq!(Decimal4::parse("1e3"), Ok(Decimal4(10_000_000)));
        assert_eq!(Decimal4::parse("2.5E-2"), Ok(Decimal4(250)));
        assert_eq!(Decimal4::parse("1.23456"), Ok(Decimal4(12_346)));
        assert_eq!(Decimal4::parse("1.23454"), Ok(Decimal4(12_345)));
        assert_eq!(Decimal4::parse("0.00005"), Ok(Decimal4(1)));
        assert_eq!(Decimal4::parse("0.00004"), Ok(Decimal4(0)));
        assert_eq!(Decimal4::parse("000.5000"), Ok(Decimal4(5_000)));
        assert_eq!(Decimal4::parse("10000000"), Ok(Decimal4(100_000_000_000)));
    }

    #[test]
    fn rejects_garbage_and_non_finite() {
        assert_eq!(Decimal4::parse("NaN"), Err(DecimalError::OutOfRange));
        assert_eq!(Decimal4::parse("-Infinity"), Err(DecimalError::OutOfRange));
        assert_eq!(Decimal4::parse("1e400"), Err(DecimalError::OutOfRange));
        assert_eq!(Decimal4::parse("abc"), Err(DecimalError::Syntax));
        assert_eq!(Decimal4::parse("1.2.3"), Err(DecimalError::Syntax));
        assert_eq!(Decimal4::parse(""), Err(DecimalError::Syntax));
        assert_eq!(Decimal4::parse("."), Err(DecimalError::Syntax));
        assert_eq!(Decimal4::parse("1e"), Err(DecimalError::Syntax));
    }

    #[test]
    fn displays_and_converts() {
        assert_eq!(Decimal4(199_900).to_string(), "19.99");
        assert_eq!(Decimal4(-5).to_string(), "-0.0005");
        assert_eq!(Decimal4(30_000).to_string(), "3");
        // 100 THB at 0.0285 USD/THB (rate scale 8) = 2.85 USD
        assert_eq!(Decimal4::from_units(100).mul_rate(2_850_000, 8), Decimal4(28_500));
        // rounding half away from zero
        assert_eq!(Decimal4(1).mul_rate(5, 1), Decimal4(1));
        assert_eq!(Decimal4(-1).mul_rate(5, 1), Decimal4(-1));
    }
}
