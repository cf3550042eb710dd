use std::collections::BTreeMap;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{CardCode, CardId, OpenId, OrderKey, QrToken, SPappId, SellerId};
use crate::order::{Command, Order, OrderState};
use crate::scenario::Scenario;
use crate::secret::Secret;
use crate::time::Timestamp;
use crate::weixin::{Contact, PayMchBinding, WeixinEvent};

/// A failed persistence call.
#[derive(Debug, thiserror::Error)]
pub enum RepositoryError {
    /// A uniqueness constraint: the thing already exists.
    #[error("already exists: {0}")]
    Conflict(String),
    /// The thing does not exist.
    #[error("not found: {0}")]
    NotFound(String),
    /// Optimistic concurrency: someone else changed the order first; reload and retry.
    #[error("stale version: expected {expected}, someone else changed it")]
    StaleVersion {
        /// The version the caller loaded.
        expected: u64,
    },
    /// The worker no longer holds the job's lease (it expired and another worker claimed it):
    /// nothing was written, the holder of the lease will do the step.
    #[error("lease lost: {0}")]
    LeaseLost(String),
    /// The database cannot be reached or is busy; retry later.
    #[error("storage unavailable: {0}")]
    Unavailable(String),
    /// Stored data no longer parses into domain types.
    #[error("stored data is corrupt: {0}")]
    Corrupt(String),
    /// Anything else.
    #[error("storage failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A job to enqueue: run `command` for `order` at or after `run_at`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewJob {
    /// The order.
    pub order: OrderKey,
    /// What to run.
    pub command: Command,
    /// Not before.
    pub run_at: Timestamp,
}

/// Identifier of a stored job.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct JobId(pub i64);

/// A claimed job.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Job {
    /// Id.
    pub id: JobId,
    /// The order.
    pub order: OrderKey,
    /// What to run.
    pub command: Command,
    /// Attempts before this one.
    pub attempts: u32,
    /// The claim lease ends here; after it another worker may claim the job.
    pub lease_until: Timestamp,
    /// Last error recorded by a retry.
    pub last_error: Option<String>,
}

/// A live job of one order as operators see it: the step it waits on and how it went so far.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PendingJob {
    /// What runs.
    pub command: Command,
    /// Attempts that failed and were retried.
    pub attempts: u32,
    /// The error of the last failed attempt.
    pub last_error: Option<String>,
    /// When it runs (next): in the past when it is due or running now.
    pub run_at: Timestamp,
}

/// Filter for listing orders.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OrderFilter {
    /// Only this state.
    pub state: Option<OrderState>,
    /// Only this scenario.
    pub scenario: Option<Scenario>,
    /// At most this many (implementations cap it).
    pub limit: u32,
    /// Only orders updated before this instant (paging, newest first).
    pub updated_before: Option<Timestamp>,
    /// Only orders updated after this instant (a cursor for work queues that go round).
    pub updated_after: Option<Timestamp>,
    /// Least recently updated first (work queues that must not starve the oldest) instead of
    /// most recently updated first.
    pub oldest_first: bool,
    /// Only orders strictly past this position in the listing's order (keyset paging: the
    /// position of the last order of the previous page). An order updated since that page
    /// moves to the front of a newest-first listing, so it is neither repeated nor skipped among
    /// the orders not updated meanwhile.
    pub after: Option<OrderPosition>,
    /// Only orders of this seller.
    pub seller: Option<SellerId>,
    /// Only orders created at or after this instant.
    pub created_from: Option<Timestamp>,
    /// Only orders created before this instant.
    pub created_before: Option<Timestamp>,
    /// Only orders whose id, or whose stored record (invoice number, buyer name or tax id, …),
    /// contains this text; case-sensitive, no wildcards (`%` and `_` are plain characters).
    pub text: Option<String>,
}

/// Where an order stands in a listing: by update time, then platform and order id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct OrderPosition {
    /// The order's last update.
    pub updated_at: Timestamp,
    /// Its key.
    pub key: OrderKey,
}

impl OrderPosition {
    /// The position of `order`.
    pub fn of(order: &Order) -> Self {
        OrderPosition {
            updated_at: order.updated_at(),
            key: order.key().clone(),
        }
    }
}

/// Orders per scenario and state.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StateCount {
    /// Scenario.
    pub scenario: Scenario,
    /// State.
    pub state: OrderState,
    /// How many.
    pub count: u64,
}

/// Invoice orders with their history.
///
/// # Errors
/// [`RepositoryError::Conflict`] when inserting an existing key;
/// [`RepositoryError::StaleVersion`] when the stored version differs from the order's (nothing
/// is written then, jobs included); [`RepositoryError::Unavailable`] for transient failures;
/// [`RepositoryError::Corrupt`] when stored rows no longer map to domain types.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait OrderRepository: Send + Sync {
    /// Stores a new order (version 0 in memory, 1 once stored) with its history and `jobs`, in
    /// one transaction.
    async fn insert(&self, order: &Order, jobs: &[NewJob]) -> Result<(), RepositoryError>;

    /// Loads an order with its full history.
    async fn get(&self, key: &OrderKey) -> Result<Option<Order>, RepositoryError>;

    /// The order whose card has this id and code.
    async fn find_by_card(
        &self,
        card_id: &CardId,
        code: &CardCode,
    ) -> Result<Option<Order>, RepositoryError>;

    /// The orders holding a card of template `card_id` for buyer `openid` whose code is
    /// unknown (the insert's answer was lost), by order id.
    async fn find_by_unknown_card(
        &self,
        card_id: &CardId,
        openid: &OpenId,
    ) -> Result<Vec<Order>, RepositoryError>;

    /// The order printed with this QR token.
    async fn find_by_qr_token(&self, token: &QrToken) -> Result<Option<Order>, RepositoryError>;

    /// Saves `order` if the stored version still equals `order.version()`, bumping it by one,
    /// appending history entries not yet stored and enqueuing `jobs`, all in one transaction.
    async fn update(&self, order: &Order, jobs: &[NewJob]) -> Result<(), RepositoryError>;

    /// Saves `order` as [`update`](Self::update) does and, in the same transaction, completes
    /// `done`, the job `worker` holds (at `done.lease_until`) whose step made this change: the
    /// state change and the end of its job are one atomic write, fenced by the lease.
    ///
    /// # Errors
    /// [`RepositoryError::LeaseLost`] when `worker` no longer holds `done` at that lease:
    /// nothing is written (a worker whose lease passed never saves over the new holder).
    async fn update_completing(
        &self,
        order: &Order,
        jobs: &[NewJob],
        done: &Job,
        worker: &str,
    ) -> Result<(), RepositoryError>;

    /// Saves as [`update_completing`](Self::update_completing) does and hands the first of
    /// `jobs` due at `now` straight to `worker`, leased until `lease_until`, answering it
    /// claimed; the other jobs are enqueued as usual. The worker then runs that step at once,
    /// with the order it just saved, instead of claiming it and reading the order again.
    ///
    /// The default leases nothing and answers `None`, which is always correct: the job is then
    /// claimed as any other.
    ///
    /// # Errors
    /// As for [`update_completing`](Self::update_completing); nothing is written.
    async fn update_completing_chained(
        &self,
        order: &Order,
        jobs: &[NewJob],
        done: &Job,
        worker: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<Job>, RepositoryError> {
        let _ = (now, lease_until);
        self.update_completing(order, jobs, done, worker)
            .await
            .map(|()| None)
    }

    /// Orders matching the filter, most recently updated first.
    async fn list(&self, filter: &OrderFilter) -> Result<Vec<Order>, RepositoryError>;

    /// Counts per scenario and state (for metrics and the dashboard).
    async fn count_by_state(&self) -> Result<Vec<StateCount>, RepositoryError>;

    /// How many orders match `filter`, whatever its `limit`, `after` and `oldest_first`.
    async fn count(&self, filter: &OrderFilter) -> Result<u64, RepositoryError>;
}

/// The durable job queue that drives orders through the pipeline.
///
/// # Errors
/// [`RepositoryError::NotFound`] when completing, retrying or burying a job the caller no
/// longer holds (its lease expired and another worker claimed it); otherwise as for
/// [`OrderRepository`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait JobQueue: Send + Sync {
    /// Enqueues a job outside an order update (e.g. operator actions, reconciliation).
    async fn enqueue(&self, job: &NewJob) -> Result<JobId, RepositoryError>;

    /// Claims up to `limit` due jobs for `worker` until `lease_until`; no two live claims ever
    /// hold the same job. Jobs whose lease expired are claimable again.
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Job>, RepositoryError>;

    /// The job is done; it is removed.
    async fn complete(&self, job: &Job, worker: &str) -> Result<(), RepositoryError>;

    /// Runs the job again at `run_at` (attempts + 1, error recorded, lease released).
    async fn retry(
        &self,
        job: &Job,
        worker: &str,
        run_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError>;

    /// Extends the lease `worker` holds on `job` (at `job.lease_until`) to `lease_until`: the
    /// heartbeat of a step that runs long.
    ///
    /// # Errors
    /// [`RepositoryError::LeaseLost`] when `worker` no longer holds it.
    async fn renew(
        &self,
        job: &Job,
        worker: &str,
        lease_until: Timestamp,
    ) -> Result<(), RepositoryError>;

    /// Gives up: the job is kept as dead with its error, for operators.
    async fn bury(&self, job: &Job, worker: &str, error: &str) -> Result<(), RepositoryError>;

    /// Number of live (not dead) jobs.
    async fn pending_count(&self) -> Result<u64, RepositoryError>;

    /// The live (not dead) jobs of `order`, the next due first. A read for operators: it
    /// claims nothing, and a stored job that no longer decodes is left out, not an error.
    async fn pending_for(&self, order: &OrderKey) -> Result<Vec<PendingJob>, RepositoryError>;
}

/// Result of recording a push in the inbox.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RecordOutcome {
    /// Newly stored under this id.
    Recorded(i64),
    /// Already stored (a retried or duplicated push): acknowledge, do nothing.
    Duplicate,
}

/// A stored push waiting to be processed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct InboxItem {
    /// Id.
    pub id: i64,
    /// The event.
    pub event: WeixinEvent,
    /// When it was received.
    pub received_at: Timestamp,
    /// Processing attempts so far.
    pub attempts: u32,
}

/// A push processed without being applied to an order — no order matched it, or it did not
/// apply — and kept with the note saying why, for operators to see and replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SetAsideEvent {
    /// The stored push.
    pub item: InboxItem,
    /// Why it was not applied.
    pub note: String,
}

/// Where a stored push stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum InboxStatus {
    /// Not processed yet (waiting, leased, or kept for a retry).
    Pending,
    /// Processed and applied to its order.
    Applied,
    /// Processed without being applied, with the note saying why.
    SetAside(SetAsideEvent),
    /// Stored, but its payload no longer decodes (set aside with this reason).
    Undecodable(String),
}

/// The event inbox: a push is acknowledged only after it is durably here.
///
/// # Errors
/// As for [`OrderRepository`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait EventInbox: Send + Sync {
    /// Stores the event under its dedupe key if absent.
    async fn record(
        &self,
        event: &WeixinEvent,
        received_at: Timestamp,
    ) -> Result<RecordOutcome, RepositoryError>;

    /// Claims up to `limit` unprocessed events until `lease_until`.
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<InboxItem>, RepositoryError>;

    /// Marks an event processed, with an optional note (e.g. why it was ignored).
    async fn mark_processed(&self, id: i64, note: Option<String>) -> Result<(), RepositoryError>;

    /// Releases an event for another attempt at `retry_at`, recording the error.
    async fn release(
        &self,
        id: i64,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError>;

    /// Deletes the processed events received before `before` and answers how many went;
    /// unprocessed events MUST be kept whatever their age. A push arriving again after its
    /// row is purged is stored and processed again, so callers keep rows longer than any
    /// redelivery worth deduplicating.
    async fn purge_processed(&self, before: Timestamp) -> Result<u64, RepositoryError>;

    /// The pushes set aside (processed with a note), by id ascending, only ids above `after`,
    /// at most `limit` (implementations cap it at 500; 0 means 1). Rows whose payload no
    /// longer decodes are left out (a read for operators).
    async fn set_aside(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SetAsideEvent>, RepositoryError>;

    /// Where the push `id` stands; `None` when there is no such push (never stored, or purged).
    async fn status(&self, id: i64) -> Result<Option<InboxStatus>, RepositoryError>;

    /// Makes the unprocessed pushes stored under `dedupe_keys` due at `now` (those waiting
    /// for a retry later), answering how many: a push kept because its order was not yet
    /// registered is handled as soon as the order is, not at its next retry. A push under a
    /// lease is left to its holder.
    ///
    /// The default wakes nothing, which is always correct: the push then waits for its retry.
    async fn wake(&self, dedupe_keys: &[String], now: Timestamp) -> Result<u64, RepositoryError> {
        let _ = (dedupe_keys, now);
        Ok(0)
    }
}

/// The one-time setup as last completed.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SetupState {
    /// `s_pappid` from `seturl`.
    pub s_pappid: Option<SPappId>,
    /// The contact last set.
    pub contact: Option<Contact>,
    /// Whether the style-1 auth page fields are set.
    pub auth_fields_set: bool,
    /// Card template per seller.
    pub card_templates: BTreeMap<SellerId, CardId>,
    /// Post-payment binding.
    pub pay_mch: Option<PayMchBinding>,
}

/// Where the setup state lives.
///
/// # Errors
/// As for [`OrderRepository`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait SetupStore: Send + Sync {
    /// The stored state (default when never saved).
    async fn load(&self) -> Result<SetupState, RepositoryError>;
    /// Replaces the stored state.
    async fn save(&self, state: &SetupState) -> Result<(), RepositoryError>;
}

/// A cached access token or ticket.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CachedToken {
    /// The token.
    pub value: Secret,
    /// When it expires.
    pub expires_at: Timestamp,
}

/// A token cache shared by every instance, with a refresh lease so that only one instance
/// refreshes a given key at a time.
///
/// # Errors
/// As for [`OrderRepository`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait TokenCache: Send + Sync {
    /// The cached token for `key`, expired or not.
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, RepositoryError>;

    /// Stores the token for `key`.
    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), RepositoryError>;

    /// Takes the refresh lease for `key` until `lease_until` if nobody holds a live one.
    async fn try_acquire_refresh(
        &self,
        key: &str,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool, RepositoryError>;

    /// Gives the lease back (only if `holder` holds it).
    async fn release_refresh(&self, key: &str, holder: &str) -> Result<(), RepositoryError>;
}

/// Gap-free, never-repeating sequence numbers per series (the sandbox issuer's invoice numbers).
///
/// # Errors
/// As for [`OrderRepository`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait InvoiceNumbering: Send + Sync {
    /// The next number of `series`, starting at 1.
    async fn next(&self, series: &str) -> Result<u64, RepositoryError>;
}

/// A signed-in operator's console session as stored: the hash of the cookie's token, never the
/// token itself, so a copy of the table signs nobody in.
#[derive(Clone, PartialEq, Eq)]
pub struct ConsoleSession {
    /// Lowercase hex SHA-256 of the session token the browser holds (64 characters).
    pub token_hash: String,
    /// The token every form of this session carries (CSRF).
    pub csrf_token: Secret,
    /// Who signed in (`api_key` for the merchant API key).
    pub operator: String,
    /// When it was created.
    pub created_at: Timestamp,
    /// The last request seen with it (idle expiry).
    pub last_seen_at: Timestamp,
    /// It is void from this instant, however busy.
    pub expires_at: Timestamp,
}

impl std::fmt::Debug for ConsoleSession {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The hash is not a credential, but a log needs no more than its start.
        f.debug_struct("ConsoleSession")
            .field("token_hash", &self.token_hash.get(..8).unwrap_or_default())
            .field("operator", &self.operator)
            .field("created_at", &self.created_at)
            .field("last_seen_at", &self.last_seen_at)
            .field("expires_at", &self.expires_at)
            .finish_non_exhaustive()
    }
}

/// The operator console's sessions, shared by every instance.
///
/// # Errors
/// [`RepositoryError::Conflict`] when creating a session whose hash exists; otherwise as for
/// [`OrderRepository`].
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait ConsoleSessions: Send + Sync {
    /// Stores a new session.
    async fn create(&self, session: &ConsoleSession) -> Result<(), RepositoryError>;

    /// The session with this token hash, expired or not (the caller decides).
    async fn get(&self, token_hash: &str) -> Result<Option<ConsoleSession>, RepositoryError>;

    /// Records a request of the session at `at` (no error when it is gone).
    async fn touch(&self, token_hash: &str, at: Timestamp) -> Result<(), RepositoryError>;

    /// Deletes the session (sign-out); no error when it is gone.
    async fn delete(&self, token_hash: &str) -> Result<(), RepositoryError>;

    /// Deletes the sessions expired at `now` or idle since before `idle_before`; answers how
    /// many went.
    async fn purge(&self, now: Timestamp, idle_before: Timestamp) -> Result<u64, RepositoryError>;
}
