//! The typed events of `docs/events.md`: common fields plus one payload per event type.
//! Strings borrow from the message where they can (`Cow`), so decoding allocates little.

use std::borrow::Cow;

use crate::decimal::Decimal4;

/// Which topic family an event type belongs to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Family {
    /// Player events (`livelake.player.v1`, table `player_events`).
    Player,
    /// Commerce and interaction events (`livelake.commerce.v1`, table `commerce_events`).
    Commerce,
}

macro_rules! event_kinds {
    ($($variant:ident => $name:literal, $family:ident;)*) => {
        /// Every event type of the contract.
        #[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum EventKind {
            $(#[doc = concat!("`", $name, "`")] $variant,)*
        }

        impl EventKind {
            /// All event types, player first.
            pub const ALL: &'static [EventKind] = &[$(EventKind::$variant,)*];

            /// The wire name (`session_start`, `order`, …).
            pub fn as_str(self) -> &'static str {
                match self { $(EventKind::$variant => $name,)* }
            }

            /// Parse a wire name; `None` for an unknown type.
            pub fn parse(name: &str) -> Option<EventKind> {
                match name { $($name => Some(EventKind::$variant),)* _ => None }
            }

            /// Player or commerce.
            pub fn family(self) -> Family {
                match self { $(EventKind::$variant => Family::$family,)* }
            }
        }
    };
}

event_kinds! {
    SessionStart => "session_start", Player;
    FirstFrame => "first_frame", Player;
    Heartbeat => "heartbeat", Player;
    StallStart => "stall_start", Player;
    StallEnd => "stall_end", Player;
    Error => "error", Player;
    SessionEnd => "session_end", Player;
    Comment => "comment", Commerce;
    Like => "like", Commerce;
    Gift => "gift", Commerce;
    Share => "share", Commerce;
    Follow => "follow", Commerce;
    ProductClick => "product_click", Commerce;
    AddToCart => "add_to_cart", Commerce;
    Order => "order", Commerce;
}

/// The fields specific to each event type.
#[derive(Debug, Clone, PartialEq)]
pub enum Payload<'a> {
    /// Play intent: the view begins.
    SessionStart,
    /// First frame shown.
    FirstFrame {
        /// Startup time of the view, 0–600000 ms.
        startup_ms: i64,
    },
    /// Periodic playback report.
    Heartbeat {
        /// Time spent playing since the previous heartbeat, stalls excluded (0–120000).
        play_ms: i64,
        /// Current bitrate.
        bitrate_kbps: Option<i64>,
        /// Rendition height in pixels.
        height: Option<i64>,
        /// Glass-to-glass latency (0–600000).
        latency_ms: Option<i64>,
        /// Frames dropped since the previous heartbeat.
        dropped_frames: Option<i64>,
    },
    /// Rebuffering began.
    StallStart,
    /// Playback resumed.
    StallEnd {
        /// The stall's duration (0–3600000).
        stall_ms: i64,
    },
    /// A playback error.
    Error {
        /// Error code (≤ 64 chars).
        code: Cow<'a, str>,
        /// A fatal error ends playback.
        fatal: bool,
    },
    /// The view ended.
    SessionEnd {
        /// Why (≤ 32 chars).
        reason: Option<Cow<'a, str>>,
    },
    /// A chat message.
    Comment {
        /// Language tag (≤ 16 chars).
        lang: Option<Cow<'a, str>>,
    },
    /// Likes, possibly batched.
    Like {
        /// 1–10000, default 1.
        count: i64,
    },
    /// A virtual gift.
    Gift {
        /// Value in `currency`, ≥ 0.
        value: Decimal4,
        /// ISO 4217 code, upper-cased.
        currency: Cow<'a, str>,
        /// `value` converted to USD.
        value_usd: Decimal4,
    },
    /// A share of the show.
    Share,
    /// A follow of the seller.
    Follow,
    /// Viewer opened a product card.
    ProductClick {
        /// Product.
        product_id: Cow<'a, str>,
    },
    /// Viewer added a product to the cart.
    AddToCart {
        /// Product.
        product_id: Cow<'a, str>,
        /// 1–10000, default 1.
        quantity: i64,
    },
    /// A paid order placed from the show.
    Order {
        /// Order id (≤ 128 chars).
        order_id: Cow<'a, str>,
        /// Product, if given.
        product_id: Option<Cow<'a, str>>,
        /// 1–10000, default 1.
        quantity: i64,
        /// 0–10,000,000 in `currency`.
        amount: Decimal4,
        /// ISO 4217 code, upper-cased.
        currency: Cow<'a, str>,
        /// `amount` converted to USD.
        amount_usd: Decimal4,
    },
}

impl Payload<'_> {
    /// The event type of this payload.
    pub fn kind(&self) -> EventKind {
        match self {
            Payload::SessionStart => EventKind::SessionStart,
            Payload::FirstFrame { .. } => EventKind::FirstFrame,
            Payload::Heartbeat { .. } => EventKind::Heartbeat,
            Payload::StallStart => EventKind::StallStart,
            Payload::StallEnd { .. } => EventKind::StallEnd,
            Payload::Error { .. } => EventKind::Error,
            Payload::SessionEnd { .. } => EventKind::SessionEnd,
            Payload::Comment { .. } => EventKind::Comment,
            Payload::Like { .. } => EventKind::Like,
            Payload::Gift { .. } => EventKind::Gift,
            Payload::Share => EventKind::Share,
            Payload::Follow => EventKind::Follow,
            Payload::ProductClick { .. } => EventKind::ProductClick,
            Payload::AddToCart { .. } => EventKind::AddToCart,
            Payload::Order { .. } => EventKind::Order,
        }
    }
}

/// A valid event: the common fields of every event and its typed payload.
#[derive(Debug, Clone, PartialEq)]
pub struct Event<'a> {
    /// Unique per event (1–128 chars).
    pub event_id: Cow<'a, str>,
    /// Event time, epoch milliseconds UTC.
    pub ts_ms: i64,
    /// The live show.
    pub stream_id: Cow<'a, str>,
    /// One viewer's playback session.
    pub session_id: Cow<'a, str>,
    /// Pseudonymous viewer; `session_id` when not sent.
    pub viewer_id: Cow<'a, str>,
    /// Upper-cased region (explicit, or derived from `country`).
    pub region: Cow<'a, str>,
    /// Upper-cased ISO 3166-1 alpha-2 country, if sent.
    pub country: Option<Cow<'a, str>>,
    /// web, ios, android, tv, …
    pub platform: Option<Cow<'a, str>>,
    /// Edge/CDN that served the viewer.
    pub cdn: Option<Cow<'a, str>>,
    /// Traffic source.
    pub source: Option<Cow<'a, str>>,
    /// Type-specific fields.
    pub payload: Payload<'a>,
}

impl Event<'_> {
    /// The event type.
    pub fn kind(&self) -> EventKind {
        self.payload.kind()
    }

    /// An owned copy that outlives the message it was decoded from.
    pub fn into_owned(self) -> Event<'static> {
        fn o(c: Cow<'_, str>) -> Cow<'static, str> {
            Cow::Owned(c.into_owned())
        }
        fn oo(c: Option<Cow<'_, str>>) -> Option<Cow<'static, str>> {
            c.map(o)
        }
        let payload = match self.payload {
            Payload::SessionStart => Payload::SessionStart,
            Payload::FirstFrame { startup_ms } => Payload::FirstFrame { startup_ms },
            Payload::Heartbeat { play_ms, bitrate_kbps, height, latency_ms, dropped_frames } => {
                Payload::Heartbeat { play_ms, bitrate_kbps, height, latency_ms, dropped_frames }
            }
            Payload::StallStart => Payload::StallStart,
            Payload::StallEnd { stall_ms } => Payload::StallEnd { stall_ms },
            Payload::Error { code, fatal } => Payload::Error { code: o(code), fatal },
            Payload::SessionEnd { reason } => Payload::SessionEnd { reason: oo(reason) },
            Payload::Comment { lang } => Payload::Comment { lang: oo(lang) },
            Payload::Like { count } => Payload::Like { count },
            Payload::Gift { value, currency, value_usd } => Payload::Gift { value, currency: o(currency), value_usd },
            Payload::Share => Payload::Share,
            Payload::Follow => Payload::Follow,
            Payload::ProductClick { product_id } => Payload::ProductClick { product_id: o(product_id) },
            Payload::AddToCart { product_id, quantity } => Payload::AddToCart { product_id: o(product_id), quantity },
            Payload::Order { order_id, product_id, quantity, amount, currency, amount_usd } => Payload::Order {
                order_id: o(order_id),
                product_id: oo(product_id),
                quantity,
                amount,
                currency: o(currency),
                amount_usd,
            },
        };
        Event {
            event_id: o(self.event_id),
            ts_ms: self.ts_ms,
            stream_id: o(self.stream_id),
            session_id: o(self.session_id),
            viewer_id: o(self.viewer_id),
            region: o(self.region),
            country: oo(self.country),
            platform: oo(self.platform),
            cdn: oo(self.cdn),
            source: oo(self.source),
            payload,
        }
    }
}
