//! The sandbox platform's own records: what it issued under which idempotency key.
//!
//! A port of this crate rather than of the domain: only the sandbox issuer needs it. The
//! in-memory ledger forgets everything on restart; a durable one (a table in the service's
//! database) can be plugged in through [`SandboxLedger`] so that a restarted service still
//! answers repeated keys with the invoices it issued before.

use std::collections::BTreeMap;
use std::sync::Mutex;

use async_trait::async_trait;
use fapiao_domain::IssueKey;
use fapiao_domain::invoice::{InvoiceDraft, IssuedInvoice};
use fapiao_domain::ports::IssueRejection;

/// What the sandbox did with one idempotency key.
#[derive(Debug, Clone, PartialEq)]
pub struct SandboxRecord {
    /// The idempotency key of the request.
    pub key: IssueKey,
    /// The draft as submitted; the PDF is drawn from it.
    pub draft: InvoiceDraft,
    /// The platform's verdict.
    pub result: SandboxResult,
}

/// The platform's verdict on one key.
#[derive(Debug, Clone, PartialEq)]
pub enum SandboxResult {
    /// Issued (for red invoices `red_of` links the blue one).
    Issued {
        /// The invoice.
        invoice: IssuedInvoice,
        /// Polls that still answer "pending" before the platform admits it is issued.
        polls_until_issued: u32,
    },
    /// Refused for good: the key is dead.
    Rejected(IssueRejection),
}

impl SandboxRecord {
    /// The issued invoice, if the record is one (pending or not).
    pub fn invoice(&self) -> Option<&IssuedInvoice> {
        match &self.result {
            SandboxResult::Issued { invoice, .. } => Some(invoice),
            SandboxResult::Rejected(_) => None,
        }
    }
}

/// A ledger operation failed.
#[derive(Debug, thiserror::Error)]
pub enum LedgerError {
    /// A record already exists under this key; the issuer checks first, so this is a race
    /// with another process sharing the ledger.
    #[error("a sandbox record already exists for key {0}")]
    Conflict(IssueKey),
    /// The ledger's store failed.
    #[error("sandbox ledger: {0}")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// Where the sandbox issuer keeps its records.
///
/// Implementations need no locking beyond their own consistency: the sandbox issuer serialises
/// its read-check-write sequences itself.
#[async_trait]
pub trait SandboxLedger: Send + Sync {
    /// The record issued under `key`, if any.
    ///
    /// # Errors
    /// [`LedgerError::Other`] when the store fails.
    async fn get(&self, key: &IssueKey) -> Result<Option<SandboxRecord>, LedgerError>;

    /// Stores a new record.
    ///
    /// # Errors
    /// [`LedgerError::Conflict`] if a record with the same key exists; [`LedgerError::Other`]
    /// when the store fails.
    async fn insert(&self, record: SandboxRecord) -> Result<(), LedgerError>;

    /// Records one poll of a pending invoice: `polls_until_issued` goes down by one, never
    /// below zero (rejections are left alone). Returns the updated record, `None` if there is
    /// none under `key`.
    ///
    /// # Errors
    /// [`LedgerError::Other`] when the store fails.
    async fn count_poll(&self, key: &IssueKey) -> Result<Option<SandboxRecord>, LedgerError>;

    /// Every record, in the order of their keys.
    ///
    /// # Errors
    /// [`LedgerError::Other`] when the store fails.
    async fn records(&self) -> Result<Vec<SandboxRecord>, LedgerError>;
}

/// A [`SandboxLedger`] in process memory.
#[derive(Debug, Default)]
pub struct InMemorySandboxLedger {
    records: Mutex<BTreeMap<IssueKey, SandboxRecord>>,
}

impl InMemorySandboxLedger {
    /// An empty ledger.
    pub fn new() -> Self {
        Self::default()
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, BTreeMap<IssueKey, SandboxRecord>> {
        // A panic while holding the lock cannot leave a half-written map: every critical
        // section is a single map operation.
        self.records
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

#[async_trait]
impl SandboxLedger for InMemorySandboxLedger {
    async fn get(&self, key: &IssueKey) -> Result<Option<SandboxRecord>, LedgerError> {
        Ok(self.lock().get(key).cloned())
    }

    async fn insert(&self, record: SandboxRecord) -> Result<(), LedgerError> {
        let mut records = self.lock();
        if records.contains_key(&record.key) {
            return Err(LedgerError::Conflict(record.key));
        }
        records.insert(record.key.clone(), record);
        Ok(())
    }

    async fn count_poll(&self, key: &IssueKey) -> Result<Option<SandboxRecord>, LedgerError> {
        let mut records = self.lock();
        Ok(records.get_mut(key).map(|record| {
            if let SandboxResult::Issued {
                polls_until_issued, ..
            } = &mut record.result
            {
                *polls_until_issued = polls_until_issued.saturating_sub(1);
            }
            record.clone()
        }))
    }

    async fn records(&self) -> Result<Vec<SandboxRecord>, LedgerError> {
        Ok(self.lock().values().cloned().collect())
    }
}
