//! fapiao's pure domain: value types, tax arithmetic, the invoice order state machine per
//! scenario, and the ports (traits) that adapters implement.
//!
//! This crate does no I/O and cannot observe time or randomness: clocks and id generators are
//! ports, timestamps are arguments. It must not depend on tokio, reqwest, sea-orm, axum,
//! tracing, anyhow, chrono or uuid; CI checks its dependency tree against an allowlist.
#![deny(missing_docs)]

pub mod ids;
pub mod secret;
pub mod time;

pub use ids::{
    AppId, CardCode, CardId, IdError, IssueKey, MediaId, OpenId, OrderId, OrderKey, ProviderRef,
    QrToken, SPappId, SellerId,
};
pub use secret::Secret;
pub use time::Timestamp;
