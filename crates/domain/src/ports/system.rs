use crate::ids::{IssueKey, OrderId, QrToken};
use crate::time::Timestamp;

/// The current time.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait Clock: Send + Sync {
    /// Now.
    fn now(&self) -> Timestamp;
}

/// New identifiers and nonces.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
pub trait IdGenerator: Send + Sync {
    /// A fresh idempotency key, unique across instances and restarts.
    fn issue_key(&self) -> IssueKey;
    /// A fresh order id, for merchants that let fapiao choose one.
    fn order_id(&self) -> OrderId;
    /// A fresh QR token for a printed code.
    fn qr_token(&self) -> QrToken;
    /// A random nonce (e.g. `card_ext.nonce_str`).
    fn nonce(&self) -> String;
}
