//! The sandbox issuer's records in the service's database, so a restarted service still
//! answers a repeated idempotency key with the invoice it issued before.

use async_trait::async_trait;
use fapiao_domain::IssueKey;
use fapiao_domain::invoice::{InvoiceDraft, IssuedInvoice};
use fapiao_domain::ports::{IssueRejection, RepositoryError};
use fapiao_issuer::{LedgerError, SandboxLedger, SandboxRecord, SandboxResult};
use fapiao_storage::{LedgerRow, SeaOrmSandboxLedgerStore};
use serde::{Deserialize, Serialize};

/// [`SandboxLedger`] on the `sandbox_ledger` table.
#[derive(Debug, Clone)]
pub struct DatabaseSandboxLedger {
    store: SeaOrmSandboxLedgerStore,
}

impl DatabaseSandboxLedger {
    /// A ledger over `store`.
    pub fn new(store: SeaOrmSandboxLedgerStore) -> Self {
        Self { store }
    }
}

#[derive(Serialize, Deserialize)]
struct StoredRecord {
    key: IssueKey,
    draft: InvoiceDraft,
    result: StoredResult,
}

#[derive(Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum StoredResult {
    Issued(IssuedInvoice),
    Rejected(IssueRejection),
}

fn other(error: impl std::error::Error + Send + Sync + 'static) -> LedgerError {
    LedgerError::Other(Box::new(error))
}

fn to_row(record: &SandboxRecord) -> Result<LedgerRow, LedgerError> {
    let (result, polls) = match &record.result {
        SandboxResult::Issued {
            invoice,
            polls_until_issued,
        } => (StoredResult::Issued(invoice.clone()), *polls_until_issued),
        SandboxResult::Rejected(rejection) => (StoredResult::Rejected(rejection.clone()), 0),
    };
    let stored = StoredRecord {
        key: record.key.clone(),
        draft: record.draft.clone(),
        result,
    };
    Ok(LedgerRow {
        key: record.key.as_str().to_owned(),
        record: serde_json::to_string(&stored).map_err(other)?,
        polls_until_issued: polls,
    })
}

fn from_row(row: LedgerRow) -> Result<SandboxRecord, LedgerError> {
    let stored: StoredRecord = serde_json::from_str(&row.record).map_err(other)?;
    let result = match stored.result {
        StoredResult::Issued(invoice) => SandboxResult::Issued {
            invoice,
            polls_until_issued: row.polls_until_issued,
        },
        StoredResult::Rejected(rejection) => SandboxResult::Rejected(rejection),
    };
    Ok(SandboxRecord {
        key: stored.key,
        draft: stored.draft,
        result,
    })
}

#[async_trait]
impl SandboxLedger for DatabaseSandboxLedger {
    async fn get(&self, key: &IssueKey) -> Result<Option<SandboxRecord>, LedgerError> {
        self.store
            .get(key.as_str())
            .await
            .map_err(other)?
            .map(from_row)
            .transpose()
    }

    async fn insert(&self, record: SandboxRecord) -> Result<(), LedgerError> {
        let row = to_row(&record)?;
        match self.store.insert(&row).await {
            Ok(()) => Ok(()),
            Err(RepositoryError::Conflict(_)) => Err(LedgerError::Conflict(record.key)),
            Err(e) => Err(other(e)),
        }
    }

    async fn count_poll(&self, key: &IssueKey) -> Result<Option<SandboxRecord>, LedgerError> {
        self.store
            .count_poll(key.as_str())
            .await
            .map_err(other)?
            .map(from_row)
            .transpose()
    }

    async fn records(&self) -> Result<Vec<SandboxRecord>, LedgerError> {
        self.store
            .all()
            .await
            .map_err(other)?
            .into_iter()
            .map(from_row)
            .collect()
    }
}
