//! Why a message was rejected: the reason codes of `docs/events.md`, as a typed value.

use std::fmt;

/// A rejection reason. `Display` prints the exact code that goes into the dead-letter header
/// `livelake.reason` and the `deadletter.reason` column (e.g. `missing_field:ts`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Reason {
    /// The payload is not valid UTF-8.
    InvalidUtf8,
    /// The payload is not valid JSON (including an empty payload).
    InvalidJson,
    /// The payload is valid JSON but not an object.
    NotObject,
    /// The payload is larger than [`MAX_MESSAGE_BYTES`](crate::MAX_MESSAGE_BYTES).
    TooLarge,
    /// A required field is absent (or JSON `null`).
    MissingField(&'static str),
    /// A field has the wrong JSON type or shape.
    WrongType(&'static str),
    /// A field is negative, NaN, Infinity, empty or over its limit.
    OutOfRange(&'static str),
    /// `type` is not one of the event types.
    UnknownType,
    /// `v` is not 1.
    UnsupportedVersion,
    /// `ts` is before 2000-01-01, more than 24 h after the processing clock, or unreadable.
    BadTimestamp,
    /// `region` does not match `^[A-Za-z0-9_-]{1,32}$`.
    BadRegion,
    /// Neither `region` nor `country` is given.
    MissingRegion,
    /// The currency is not in the rates table.
    UnknownCurrency,
}

impl Reason {
    /// Every reason class, with a representative field name where the class takes one.
    pub const CLASSES: [&'static str; 13] = [
        "invalid_utf8",
        "invalid_json",
        "not_object",
        "too_large",
        "missing_field",
        "wrong_type",
        "out_of_range",
        "unknown_type",
        "unsupported_version",
        "bad_timestamp",
        "bad_region",
        "missing_region",
        "unknown_currency",
    ];

    /// The class of the reason, without the field name (`missing_field`, `bad_region`, …).
    pub fn class(&self) -> &'static str {
        match self {
            Reason::InvalidUtf8 => "invalid_utf8",
            Reason::InvalidJson => "invalid_json",
            Reason::NotObject => "not_object",
            Reason::TooLarge => "too_large",
            Reason::MissingField(_) => "missing_field",
            Reason::WrongType(_) => "wrong_type",
            Reason::OutOfRange(_) => "out_of_range",
            Reason::UnknownType => "unknown_type",
            Reason::UnsupportedVersion => "unsupported_version",
            Reason::BadTimestamp => "bad_timestamp",
            Reason::BadRegion => "bad_region",
            Reason::MissingRegion => "missing_region",
            Reason::UnknownCurrency => "unknown_currency",
        }
    }

    /// The field the reason names, if any.
    pub fn field(&self) -> Option<&'static str> {
        match self {
            Reason::MissingField(f) | Reason::WrongType(f) | Reason::OutOfRange(f) => Some(f),
            _ => None,
        }
    }
}

impl fmt::Display for Reason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.field() {
            Some(field) => write!(f, "{}:{}", self.class(), field),
            None => f.write_str(self.class()),
        }
    }
}

/// A rejected message: the reason, and the message's region when one could be read, so the
/// dead-letter row can be partitioned by it (`UNKNOWN` otherwise).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejection {
    /// Why the message was rejected.
    pub reason: Reason,
    /// The valid, upper-cased region of the message, if readable despite the rejection.
    pub region: Option<String>,
}

impl Rejection {
    /// A rejection with no readable region.
    pub fn new(reason: Reason) -> Self {
        Rejection { reason, region: None }
    }
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.reason)
    }
}

impl std::error::Error for Rejection {}
