//! A clock moved by hand and ids counted up: the `Clock` and `IdGenerator` fakes.

use std::sync::atomic::{AtomicI64, AtomicU64, Ordering};

use crate::ids::{IssueKey, OrderId, QrToken};
use crate::ports::{Clock, IdGenerator};
use crate::time::Timestamp;

/// A clock the test moves by hand.
#[derive(Debug)]
pub struct ManualClock(AtomicI64);

impl ManualClock {
    /// A clock at `start`.
    pub fn new(start: Timestamp) -> Self {
        Self(AtomicI64::new(start.millis()))
    }
    /// Moves the clock forward.
    pub fn advance_millis(&self, millis: i64) {
        self.0.fetch_add(millis, Ordering::SeqCst);
    }
}

impl Clock for ManualClock {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(self.0.load(Ordering::SeqCst))
    }
}

/// Sequential, predictable ids.
#[derive(Debug, Default)]
pub struct SequentialIds(AtomicU64);

impl SequentialIds {
    fn next(&self) -> u64 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }
}

impl IdGenerator for SequentialIds {
    fn issue_key(&self) -> IssueKey {
        let text = format!("K{:019}", self.next());
        IssueKey::parse(&text).unwrap_or_else(|_| unreachable_key())
    }
    fn order_id(&self) -> OrderId {
        let text = format!("ORD{:012}", self.next());
        OrderId::parse(&text).unwrap_or_else(|_| unreachable_order_id())
    }
    fn qr_token(&self) -> QrToken {
        let text = format!("QR{:014}", self.next());
        QrToken::parse(&text).unwrap_or_else(|_| unreachable_qr())
    }
    fn nonce(&self) -> String {
        format!("nonce{}", self.next())
    }
}

// The formats above are valid by construction (fixed prefix + digits within the length rules).
#[allow(clippy::panic)]
fn unreachable_key() -> IssueKey {
    panic!("sequential issue key format is valid by construction")
}

#[allow(clippy::panic)]
fn unreachable_order_id() -> OrderId {
    panic!("sequential order id format is valid by construction")
}

#[allow(clippy::panic)]
fn unreachable_qr() -> QrToken {
    panic!("sequential qr token format is valid by construction")
}
