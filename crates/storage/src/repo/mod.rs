//! Repositories: the persistence ports implemented with sea-orm.
//!
//! Each maps entity models to domain types by hand (`TryFrom`), translates database errors
//! into `RepositoryError` variants at the call site, and never lets a model out of the crate.

mod console;
mod group_commit;
mod inbox;
mod jobs;
mod numbering;
mod orders;
mod sandbox_ledger;
mod setup;
mod token;
mod webhooks;

use std::time::{SystemTime, UNIX_EPOCH};

use fapiao_domain::ports::RepositoryError;
use fapiao_domain::{OrderId, OrderKey, SPappId};

use crate::error::corrupt;

pub use console::SeaOrmConsoleSessions;
pub use group_commit::{GroupCommitInbox, MAX_BATCH as INBOX_MAX_BATCH};
pub use inbox::SeaOrmEventInbox;
pub use jobs::SeaOrmJobQueue;
pub use numbering::SeaOrmInvoiceNumbering;
pub use orders::{MAX_LIST_LIMIT, SeaOrmOrderRepository};
pub use sandbox_ledger::{LedgerRow, SeaOrmSandboxLedgerStore};
pub use setup::SeaOrmSetupStore;
pub use token::SeaOrmTokenCache;
pub use webhooks::{MAX_DELIVERY_LIST, SeaOrmWebhookOutbox};

/// The wall clock, for bookkeeping columns (`created_at`, `updated_at`, `processed_at`) that no
/// port passes a time for; every decision (due, leased, expired) uses the caller's `now`.
fn wall_clock_millis() -> i64 {
    SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX))
}

fn order_key(s_pappid: &str, order_id: &str) -> Result<OrderKey, RepositoryError> {
    Ok(OrderKey {
        s_pappid: SPappId::parse(s_pappid).map_err(|err| corrupt("s_pappid", err))?,
        order_id: OrderId::parse(order_id).map_err(|err| corrupt("order_id", err))?,
    })
}

fn to_u32(what: &str, value: i32) -> Result<u32, RepositoryError> {
    u32::try_from(value).map_err(|_| corrupt(what, format!("negative value {value}")))
}

fn from_u32(value: u32) -> i32 {
    i32::try_from(value).unwrap_or(i32::MAX)
}
