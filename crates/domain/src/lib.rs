//! fapiao's pure domain: value types, tax arithmetic, the invoice order state machine per
//! scenario, and the ports (traits) that adapters implement.
//!
//! This crate does no I/O and cannot observe time or randomness: clocks and id generators are
//! ports, timestamps are arguments. It must not depend on tokio, reqwest, sea-orm, axum,
//! tracing, anyhow, chrono or uuid; CI checks its dependency tree against an allowlist.
#![deny(missing_docs)]

pub mod capital;
pub mod ids;
pub mod invoice;
pub mod money;
mod newtype;
pub mod order;
pub mod party;
pub mod ports;
pub mod scenario;
pub mod secret;
pub mod tax;
pub mod tax_category;
#[cfg(any(test, feature = "mocks"))]
pub mod testing;
mod text;
pub mod time;
pub mod webhook;
pub mod weixin;

pub use capital::{CapitalError, amount_in_words, parse_amount_in_words};
pub use ids::{
    AppId, CardCode, CardId, IdError, IssueKey, MediaId, OpenId, OrderId, OrderKey, ProviderRef,
    QrToken, SPappId, SellerId,
};
pub use invoice::{
    Direction, InvoiceDraft, InvoiceError, InvoiceKind, InvoiceLine, InvoiceLines, InvoiceNumber,
    IssuedInvoice, ItemName, LineInput, RedLink, RedReason, TaxCategory, TaxCategoryCode, Totals,
};
pub use money::{Fen, MoneyError, Quantity, UnitPrice};
pub use party::{Buyer, PartyError, PartyName, Seller, TaxIdError, TaxpayerId, Uscc, UsccError};
pub use scenario::{AccountRole, AuthSource, PageStyle, Scenario};
pub use secret::Secret;
pub use tax::{LineKind, PriceBasis, TaxError, TaxRate, TaxSplit};
pub use tax_category::{TaxCategories, TaxCategoryTable};
pub use time::{Date, Timestamp};
