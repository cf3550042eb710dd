//! TEMPORARY stand-ins for the persistence ports of `fapiao-domain`, shaped like the ports
//! sketch, until the ports commit lands; replaced by `fapiao_domain::ports` then.
#![allow(missing_docs)]

use async_trait::async_trait;
use fapiao_domain::{OrderKey, Secret, Timestamp};
use serde::{Deserialize, Serialize};

#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    #[error("already exists: {0}")]
    Conflict(String),
    #[error("not found: {0}")]
    NotFound(String),
    #[error("stale version: expected {expected}, someone else changed it")]
    StaleVersion { expected: u64 },
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    #[error("storage failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    FetchAuthData,
    UploadPdf,
    InsertCard,
}

impl Command {
    pub fn step_code(&self) -> &'static str {
        match self {
            Command::FetchAuthData => "fetch_auth_data",
            Command::UploadPdf => "upload_pdf",
            Command::InsertCard => "insert_card",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct WeixinEvent {
    pub kind: String,
    pub key: String,
    pub body: String,
}

impl WeixinEvent {
    pub fn dedupe_key(&self) -> String {
        self.key.clone()
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJob {
    pub order: OrderKey,
    pub command: Command,
    pub run_at: Timestamp,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobId(pub i64);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    pub id: JobId,
    pub order: OrderKey,
    pub command: Command,
    pub attempts: u32,
    pub lease_until: Timestamp,
    pub last_error: Option<String>,
}

#[async_trait]
pub trait JobQueue: Send + Sync {
    async fn enqueue(&self, job: &NewJob) -> Result<JobId, RepositoryError>;
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Job>, RepositoryError>;
    async fn complete(&self, job: &Job, worker: &str) -> Result<(), RepositoryError>;
    async fn retry(
        &self,
        job: &Job,
        worker: &str,
        run_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError>;
    async fn bury(&self, job: &Job, worker: &str, error: &str) -> Result<(), RepositoryError>;
    async fn pending_count(&self) -> Result<u64, RepositoryError>;
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    Recorded(i64),
    Duplicate,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    pub id: i64,
    pub event: WeixinEvent,
    pub received_at: Timestamp,
    pub attempts: u32,
}

#[async_trait]
pub trait EventInbox: Send + Sync {
    async fn record(
        &self,
        event: &WeixinEvent,
        received_at: Timestamp,
    ) -> Result<RecordOutcome, RepositoryError>;
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<InboxItem>, RepositoryError>;
    async fn mark_processed(&self, id: i64, note: Option<&str>) -> Result<(), RepositoryError>;
    async fn release(
        &self,
        id: i64,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError>;
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    pub value: Secret,
    pub expires_at: Timestamp,
}

#[async_trait]
pub trait TokenCache: Send + Sync {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, RepositoryError>;
    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), RepositoryError>;
    async fn try_acquire_refresh(
        &self,
        key: &str,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool, RepositoryError>;
    async fn release_refresh(&self, key: &str, holder: &str) -> Result<(), RepositoryError>;
}

#[async_trait]
pub trait InvoiceNumbering: Send + Sync {
    async fn next(&self, series: &str) -> Result<u64, RepositoryError>;
}
