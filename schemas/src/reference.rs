//! Reference data the contract needs to validate events: the country → region map and the
//! currency → USD rates table, each with the documented default of `docs/events.md`.

use std::collections::HashMap;
use std::sync::{Mutex, PoisonError};

use crate::decimal::Decimal4;

/// Default region map of `docs/events.md` (region, ISO 3166-1 alpha-2 countries).
pub const DEFAULT_REGIONS: &[(&str, &str)] = &[
    ("SEA", "SG MY TH ID PH VN KH MM LA BN TL"),
    ("EA", "CN HK MO TW JP KR MN"),
    (
        "EU",
        "AT BE BG HR CY CZ DK EE FI FR DE GR HU IE IT LV LT LU MT NL PL PT RO SK SI ES SE GB NO CH IS UA RS BA ME MK AL MD",
    ),
    ("NA", "US CA"),
    ("LATAM", "MX BR AR CL CO PE UY PY BO EC VE CR PA GT HN SV NI DO PR CU"),
    ("ME", "AE SA QA KW BH OM JO LB IL TR EG IQ IR YE SY PS MA DZ TN LY"),
];

/// Region of every valid country code that the map does not name.
pub const OTHER_REGION: &str = "OTHER";

/// Country → region map. Countries are upper-case ISO 3166-1 alpha-2 codes.
///
/// Region names are interned ([`interned`]): the region of an event derived from its country is a
/// borrowed `&'static str`, not a string allocated (and freed) per event, and a country is looked
/// up by its two letters as an index, not hashed.
#[derive(Debug, Clone)]
pub struct RegionMap {
    /// Per country (`country_index`), its region when the map names one.
    by_country: Box<[Option<&'static str>]>,
    other: &'static str,
}

impl Default for RegionMap {
    fn default() -> Self {
        let mut map = RegionMap::empty(OTHER_REGION);
        for (region, countries) in DEFAULT_REGIONS {
            for c in countries.split_whitespace() {
                map.insert(c, region);
            }
        }
        map
    }
}

impl RegionMap {
    /// An empty map: every country maps to `other`.
    pub fn empty(other: &str) -> Self {
        RegionMap { by_country: vec![None; 26 * 26].into_boxed_slice(), other: interned(&other.to_ascii_uppercase()) }
    }

    /// Map `country` (two ASCII letters, any case) to `region` (upper-cased).
    pub fn insert(&mut self, country: &str, region: &str) {
        if let Some(i) = country_index(country) {
            self.by_country[i] = Some(interned(&region.to_ascii_uppercase()));
        }
    }

    /// The region of a country; `None` if `country` is not two ASCII letters.
    pub fn region_of(&self, country: &str) -> Option<&'static str> {
        let i = country_index(country)?;
        Some(self.by_country[i].unwrap_or(self.other))
    }
}

/// `name` as a `&'static str`: one allocation per distinct name for the life of the process.
/// Region names are few (those of the configured maps), so this holds a handful of strings however
/// many maps are built.
fn interned(name: &str) -> &'static str {
    static NAMES: Mutex<Vec<&'static str>> = Mutex::new(Vec::new());
    let mut names = NAMES.lock().unwrap_or_else(PoisonError::into_inner);
    if let Some(n) = names.iter().find(|n| **n == name) {
        return n;
    }
    let n: &'static str = Box::leak(name.into());
    names.push(n);
    n
}

/// The index of a country (two ASCII letters, any case) among the 26 × 26 codes.
fn country_index(country: &str) -> Option<usize> {
    let [a, b] = country_key(country)?;
    Some((a - b'A') as usize * 26 + (b - b'A') as usize)
}

fn country_key(country: &str) -> Option<[u8; 2]> {
    let b = country.as_bytes();
    (b.len() == 2 && b.iter().all(u8::is_ascii_alphabetic))
        .then(|| [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase()])
}

/// True when `region` matches `^[A-Za-z0-9_-]{1,32}$`: the only values that become partition
/// paths. Anything else (`..`, `/`, spaces, non-ASCII) is rejected before it nears the disk.
pub fn is_valid_region(region: &str) -> bool {
    (1..=32).contains(&region.len()) && region.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Default USD rates (USD per one unit of the currency), as decimal text with up to 8 decimals.
/// Reference mid-market rates; deployments override them through configuration.
pub const DEFAULT_USD_RATES: &[(&str, &str)] = &[
    ("USD", "1"),
    ("EUR", "1.08"),
    ("GBP", "1.27"),
    ("SGD", "0.74"),
    ("MYR", "0.21"),
    ("THB", "0.0285"),
    ("IDR", "0.0000635"),
    ("PHP", "0.0175"),
    ("VND", "0.0000395"),
    ("AED", "0.2723"),
    ("SAR", "0.2666"),
    ("BRL", "0.20"),
    ("MXN", "0.058"),
    ("JPY", "0.0067"),
    ("CNY", "0.138"),
    ("KRW", "0.00072"),
    ("CAD", "0.73"),
    ("HKD", "0.128"),
    ("TWD", "0.031"),
];

/// Scale of the stored rates: a rate is an integer number of 10^-8 USD.
pub const RATE_SCALE: u32 = 8;

/// Currency (ISO 4217, upper case) → USD rate table with exact conversion.
#[derive(Debug, Clone)]
pub struct Rates {
    usd_per_unit: HashMap<[u8; 3], i128>,
}

/// A rate that is not a positive decimal with at most 8 decimals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("bad rate for {currency}: {text:?} (want a positive decimal with at most 8 decimals)")]
pub struct BadRate {
    /// The currency code.
    pub currency: String,
    /// The rate text as given.
    pub text: String,
}

impl Default for Rates {
    fn default() -> Self {
        let mut r = Rates { usd_per_unit: HashMap::new() };
        for (cur, rate) in DEFAULT_USD_RATES {
            r.set(cur, rate).expect("default rates are valid");
        }
        r
    }
}

impl Rates {
    /// An empty table.
    pub fn empty() -> Self {
        Rates { usd_per_unit: HashMap::new() }
    }

    /// Set the rate of `currency` from decimal text (USD per unit, ≤ 8 decimals, > 0).
    pub fn set(&mut self, currency: &str, rate: &str) -> Result<(), BadRate> {
        let bad = || BadRate { currency: currency.to_string(), text: rate.to_string() };
        let key = currency_key(currency).ok_or_else(bad)?;
        let raw = parse_rate(rate).ok_or_else(bad)?;
        self.usd_per_unit.insert(key, raw);
        Ok(())
    }

    /// True when the table has a rate for `currency`.
    pub fn contains(&self, currency: &str) -> bool {
        currency_key(currency).is_some_and(|k| self.usd_per_unit.contains_key(&k))
    }

    /// `amount` in USD, rounded half away from zero to 4 decimals; `None` for an unknown currency.
    pub fn to_usd(&self, amount: Decimal4, currency: &str) -> Option<Decimal4> {
        let rate = *self.usd_per_unit.get(&currency_key(currency)?)?;
        Some(amount.mul_rate(rate, RATE_SCALE))
    }

    /// The currencies in the table, sorted.
    pub fn currencies(&self) -> Vec<String> {
        let mut v: Vec<String> = self.usd_per_unit.keys().map(|k| String::from_utf8_lossy(k).into_owned()).collect();
        v.sort();
        v
    }
}

/// `Some(key)` when `currency` is three ASCII letters (ISO 4217 shape), upper-cased.
pub fn currency_key(currency: &str) -> Option<[u8; 3]> {
    let b = currency.as_bytes();
    (b.len() == 3 && b.iter().all(u8::is_ascii_alphabetic))
        .then(|| [b[0].to_ascii_uppercase(), b[1].to_ascii_uppercase(), b[2].to_ascii_uppercase()])
}

fn parse_rate(text: &str) -> Option<i128> {
    let (int, frac) = text.split_once('.').unwrap_or((text, ""));
    if int.is_empty() || frac.len() > RATE_SCALE as usize {
        return None;
    }
    if !int.bytes().all(|b| b.is_ascii_digit()) || !frac.bytes().all(|b| b.is_ascii_digit()) || int.len() > 12 {
        return None;
    }
    let padded = format!("{int}{frac:0<width$}", width = RATE_SCALE as usize);
    let raw: i128 = padded.parse().ok()?;
    (raw > 0).then_some(raw)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn region_map_defaults() {
        let m = RegionMap::default();
        assert_eq!(m.region_of("sg"), Some("SEA"));
        assert_eq!(m.region_of("DE"), Some("EU"));
        assert_eq!(m.region_of("BR"), Some("LATAM"));
        assert_eq!(m.region_of("ZA"), Some("OTHER"));
        assert_eq!(m.region_of("USA"), None);
        assert_eq!(m.region_of("1A"), None);
    }

    #[test]
    fn region_paths_are_safe() {
        assert!(is_valid_region("EU"));
        assert!(is_valid_region("eu-west_1"));
        for bad in ["", "../../etc", "a/b", "E U", "ÉU", &"X".repeat(33)] {
            assert!(!is_valid_region(bad), "{bad}");
        }
    }

    #[test]
    fn rates_are_exact() {
        let r = Rates::default();
        assert_eq!(r.to_usd(Decimal4::parse("100").unwrap(), "thb"), Some(Decimal4::parse("2.85").unwrap()));
        assert_eq!(r.to_usd(Decimal4::parse("250000").unwrap(), "IDR"), Some(Decimal4::parse("15.875").unwrap()));
        assert_eq!(r.to_usd(Decimal4::parse("1").unwrap(), "XXX"), None);
        for c in [
            "USD", "EUR", "GBP", "SGD", "MYR", "THB", "IDR", "PHP", "VND", "AED", "SAR", "BRL", "MXN", "JPY", "CNY",
            "KRW",
        ] {
            assert!(r.contains(c), "{c}");
        }
        let mut e = Rates::empty();
        assert!(e.set("EUR", "-1").is_err());
        assert!(e.set("EUR", "0.123456789").is_err());
        assert!(e.set("EURO", "1").is_err());
    }
}
