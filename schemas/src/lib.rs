//! The livelake contract, shared by every stage: the events producers send (`docs/events.md`),
//! how they are validated and rejected, and the Arrow schemas of the lake (`docs/lake.md`).
//!
//! Data flows one way: bytes → [`Decoder::decode`] → [`Event`] → [`PlayerRows`] /
//! [`CommerceRows`] → Arrow batches of the raw lake tables; rejects → [`DeadletterRows`].
#![warn(missing_docs)]

mod decimal;
mod decode;
mod encode;
mod event;
mod lake;
mod reason;
mod reference;
mod rows;
mod scan;

pub use decimal::{Decimal4, DecimalError};
pub use decode::{Decoder, MAX_FUTURE_MS, MAX_MESSAGE_BYTES, MIN_TS_MS, ts_of_json};
pub use encode::{EncodeOptions, encode_event, push_json_string, rfc3339_ms, to_json};
pub use event::{Event, EventKind, Family, Payload};
pub use lake::{MONEY, PERIOD_METRICS, PartitionLevel, SOURCE_METRICS, STREAM_MINUTE_METRICS, Table, ts_type};
pub use reason::{Reason, Rejection};
pub use reference::{
    BadRate, DEFAULT_REGIONS, DEFAULT_USD_RATES, OTHER_REGION, RATE_SCALE, Rates, RegionMap, currency_key,
    is_valid_region,
};
pub use rows::{CommerceRows, DeadletterRows, PlayerRows, SourcePos, UNKNOWN_REGION, batch_schema};

/// Default topic names of `docs/events.md`.
pub mod topics {
    /// Player events.
    pub const PLAYER: &str = "livelake.player.v1";
    /// Commerce and interaction events.
    pub const COMMERCE: &str = "livelake.commerce.v1";
    /// Rejected messages.
    pub const DEADLETTER: &str = "livelake.deadletter.v1";
    /// Live per-minute figures for boards (compacted; see README "The live board").
    pub const LIVE: &str = "livelake.live.v1";
    /// Header carrying the rejection reason on the dead-letter topic.
    pub const REASON_HEADER: &str = "livelake.reason";
}

#[cfg(test)]
mod contract_tests;
