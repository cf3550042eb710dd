//! The webhook outbox and the transport that posts events to the merchant's endpoints.

use async_trait::async_trait;

use super::RepositoryError;
use crate::webhook::{EventSelection, EventType};
use crate::{OrderKey, Timestamp};

/// An endpoint's name and the event types it takes, for [`WebhookOutbox::fan_out`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Subscription {
    /// The endpoint's name (unique in the configuration).
    pub endpoint: String,
    /// The types it receives.
    pub events: EventSelection,
}

/// Where a delivery stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum DeliveryStatus {
    /// Not yet acknowledged; attempted again when due.
    Pending,
    /// The endpoint answered 2xx.
    Delivered,
    /// Given up after the retry span; `redeliver` starts it again.
    Failed,
}

impl DeliveryStatus {
    /// `pending`, `delivered` or `failed`.
    pub fn code(self) -> &'static str {
        match self {
            DeliveryStatus::Pending => "pending",
            DeliveryStatus::Delivered => "delivered",
            DeliveryStatus::Failed => "failed",
        }
    }

    /// The status with this code.
    pub fn parse(code: &str) -> Option<Self> {
        [
            DeliveryStatus::Pending,
            DeliveryStatus::Delivered,
            DeliveryStatus::Failed,
        ]
        .into_iter()
        .find(|s| s.code() == code)
    }
}

/// One event for one endpoint, claimed for sending.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Delivery {
    /// The delivery's id.
    pub id: i64,
    /// The endpoint's name.
    pub endpoint: String,
    /// The event's id (stable across attempts and endpoints).
    pub event_id: i64,
    /// Its type.
    pub event_type: EventType,
    /// The order.
    pub key: OrderKey,
    /// The history entry's sequence.
    pub sequence: u32,
    /// The event's `data`, JSON as stored.
    pub data: String,
    /// When the change happened.
    pub occurred_at: Timestamp,
    /// Attempts before this one.
    pub attempts: u32,
    /// When the delivery was created (the retry span counts from it).
    pub created_at: Timestamp,
    /// The claim's lease; the outcome is written only while it holds.
    pub lease_until: Timestamp,
}

/// A delivery as the log shows it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeliveryRecord {
    /// The delivery's id.
    pub id: i64,
    /// The endpoint's name.
    pub endpoint: String,
    /// The event's id.
    pub event_id: i64,
    /// Its type.
    pub event_type: EventType,
    /// The order.
    pub key: OrderKey,
    /// The history entry's sequence.
    pub sequence: u32,
    /// Where it stands.
    pub status: DeliveryStatus,
    /// Attempts so far.
    pub attempts: u32,
    /// When it is tried next (pending only).
    pub next_attempt_at: Option<Timestamp>,
    /// The endpoint's last HTTP status, if it answered.
    pub last_status: Option<u16>,
    /// The last failure, in words.
    pub last_error: Option<String>,
    /// When the endpoint acknowledged it.
    pub delivered_at: Option<Timestamp>,
    /// When the delivery was created.
    pub created_at: Timestamp,
}

/// What to list from the delivery log (newest first).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DeliveryFilter {
    /// Only this endpoint.
    pub endpoint: Option<String>,
    /// Only this order.
    pub order: Option<OrderKey>,
    /// Only in this status.
    pub status: Option<DeliveryStatus>,
    /// Only deliveries with a smaller id (the next page).
    pub before_id: Option<i64>,
    /// At most this many (the adapter caps it).
    pub limit: u32,
}

/// How a delivery attempt ended, for [`WebhookOutbox::record`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AttemptOutcome {
    /// The endpoint answered 2xx.
    Delivered {
        /// Its status.
        status: u16,
        /// When.
        at: Timestamp,
    },
    /// Not acknowledged; try again at `next_attempt_at`, or give up when it is `None`.
    Failed {
        /// The endpoint's status, if it answered.
        status: Option<u16>,
        /// Why, in words.
        error: String,
        /// The next attempt; `None` gives up (status `failed`).
        next_attempt_at: Option<Timestamp>,
    },
}

/// The durable outbox of order events and their deliveries to the merchant's endpoints.
///
/// Events are written by the order repository in the transaction of the change they describe;
/// this port spreads them over the endpoints and hands deliveries out in order per endpoint and
/// order: a delivery is claimable only when no earlier delivery of the same endpoint and order is
/// still pending, so an endpoint sees each order's events in sequence.
///
/// # Errors
/// [`RepositoryError::Unavailable`] for transient failures; [`RepositoryError::LeaseLost`] when
/// recording the outcome of a delivery whose lease passed to another worker (nothing is
/// written); [`RepositoryError::Corrupt`] when stored rows no longer decode.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookOutbox: Send + Sync {
    /// Creates one pending delivery per subscribed endpoint for up to `limit` events not yet
    /// spread, oldest first, and marks them spread, in one transaction; returns how many events
    /// were spread. Idempotent per (endpoint, event).
    async fn fan_out(
        &self,
        subscriptions: &[Subscription],
        now: Timestamp,
        limit: u32,
    ) -> Result<u32, RepositoryError>;

    /// Leases up to `limit` due deliveries (each the earliest pending one of its endpoint and
    /// order) to `worker` until `lease_until`.
    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Delivery>, RepositoryError>;

    /// Records how an attempt of `delivery` (claimed by `worker`) ended.
    async fn record(
        &self,
        delivery: &Delivery,
        worker: &str,
        outcome: &AttemptOutcome,
    ) -> Result<(), RepositoryError>;

    /// The delivery log.
    async fn list(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, RepositoryError>;

    /// Makes delivery `id` pending again, due at `now`, with its attempts reset and its retry
    /// span counted from `now`; `false` when there is no such delivery.
    async fn redeliver(&self, id: i64, now: Timestamp) -> Result<bool, RepositoryError>;

    /// Counts per status (for metrics and the console).
    async fn count_by_status(&self) -> Result<Vec<(DeliveryStatus, u64)>, RepositoryError>;

    /// Deletes the deliveries that ended (delivered or failed) and were created before
    /// `before`, then the spread events older than `before` with no delivery left; pending
    /// ones are kept whatever their age. Returns how many rows went.
    async fn purge(&self, before: Timestamp) -> Result<u64, RepositoryError>;
}

/// One POST to a merchant's endpoint.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebhookRequest {
    /// The endpoint's URL.
    pub url: String,
    /// Headers (signature, event id and type, content type).
    pub headers: Vec<(String, String)>,
    /// The JSON body.
    pub body: String,
}

/// Posts webhook requests.
///
/// # Errors
/// A transport failure (refused, timed out, TLS), in words; an HTTP answer of any status is
/// `Ok(status)`.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait WebhookTransport: Send + Sync {
    /// Sends `request` and returns the HTTP status.
    async fn post(&self, request: &WebhookRequest) -> Result<u16, String>;
}
