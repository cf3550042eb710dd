//! Webhooks: the order events of the outbox delivered to the merchant's endpoints, signed,
//! retried with backoff for the configured span, in order per endpoint and order
//! (`docs/webhooks.md`).

use std::sync::Arc;
use std::time::Duration;

use fapiao_domain::Secret;
use fapiao_domain::Timestamp;
use fapiao_domain::ports::{
    AttemptOutcome, Clock, Delivery, DeliveryFilter, DeliveryRecord, DeliveryStatus,
    RepositoryError, Subscription, WebhookOutbox, WebhookRequest, WebhookTransport,
};
use fapiao_domain::webhook::EventSelection;
use hmac::{KeyInit, Mac};
use tokio::sync::watch;
use tokio::task::JoinSet;
use tracing::{info, warn};

use crate::AppError;

/// The signature header: `t=<unix seconds>,v1=<hex HMAC-SHA256 of "<t>.<body>">`.
pub const SIGNATURE_HEADER: &str = "Fapiao-Signature";
/// The event id header (also the envelope's `id`).
pub const EVENT_ID_HEADER: &str = "Fapiao-Event-Id";
/// The event type header (also the envelope's `type`).
pub const EVENT_TYPE_HEADER: &str = "Fapiao-Event-Type";

/// One configured endpoint.
#[derive(Clone)]
pub struct WebhookEndpoint {
    /// Its name (unique; the delivery log keys on it).
    pub name: String,
    /// Where events are posted.
    pub url: String,
    /// The signing secret.
    pub secret: Secret,
    /// The event types it takes.
    pub events: EventSelection,
}

impl std::fmt::Debug for WebhookEndpoint {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookEndpoint")
            .field("name", &self.name)
            .field("url", &self.url)
            .field("secret", &self.secret)
            .field("events", &self.events)
            .finish()
    }
}

/// How deliveries are made.
#[derive(Debug, Clone)]
pub struct WebhookSettings {
    /// The endpoints.
    pub endpoints: Vec<WebhookEndpoint>,
    /// How long a delivery is retried before it is given up (counted from its creation).
    pub retry_for: Duration,
    /// The first retry's delay; it doubles per attempt up to `max_backoff`.
    pub initial_backoff: Duration,
    /// The longest delay between two attempts.
    pub max_backoff: Duration,
    /// Deliveries in flight at once.
    pub concurrency: u32,
    /// The wait between rounds when nothing is due.
    pub poll: Duration,
    /// The lease of a claimed delivery.
    pub lease: Duration,
    /// This worker's name in leases.
    pub worker_id: String,
    /// Ended deliveries (and their events) are purged after this long (`None` keeps them).
    pub retention: Option<Duration>,
}

/// How often ended deliveries are purged (also once when delivery starts).
const PURGE_EVERY: Duration = Duration::from_secs(3600);

/// What one round did.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RoundReport {
    /// Events spread over the endpoints.
    pub spread: u32,
    /// Deliveries attempted.
    pub attempted: u32,
    /// Of those, acknowledged.
    pub delivered: u32,
}

/// Delivers webhook events and reads the delivery log. Cheap to clone.
#[derive(Clone)]
pub struct WebhookService {
    outbox: Arc<dyn WebhookOutbox>,
    transport: Arc<dyn WebhookTransport>,
    clock: Arc<dyn Clock>,
    settings: Arc<WebhookSettings>,
}

impl std::fmt::Debug for WebhookService {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WebhookService")
            .field("settings", &self.settings)
            .finish_non_exhaustive()
    }
}

/// `t=<timestamp>,v1=<hex HMAC-SHA256(secret, "<timestamp>.<body>")>`.
pub fn signature(secret: &str, timestamp: i64, body: &str) -> String {
    // HMAC takes a key of any length.
    let mut mac = <hmac::Hmac<sha2::Sha256> as KeyInit>::new_from_slice(secret.as_bytes())
        .unwrap_or_else(|_| unreachable!("HMAC accepts keys of every length"));
    mac.update(timestamp.to_string().as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    format!(
        "t={timestamp},v1={}",
        hex::encode(mac.finalize().into_bytes())
    )
}

/// The JSON body of a delivery: `{"id","type","created_at","data"}`, the same bytes on every
/// attempt.
pub fn envelope(delivery: &Delivery) -> String {
    let text = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    format!(
        "{{\"id\":{},\"type\":{},\"created_at\":{},\"data\":{}}}",
        text(&event_id(delivery.event_id)),
        text(delivery.event_type.code()),
        text(&delivery.occurred_at.to_string()),
        delivery.data
    )
}

/// The public id of outbox event `id`.
pub fn event_id(id: i64) -> String {
    format!("evt_{id}")
}

impl WebhookService {
    /// A service over the outbox and transport.
    pub fn new(
        outbox: Arc<dyn WebhookOutbox>,
        transport: Arc<dyn WebhookTransport>,
        clock: Arc<dyn Clock>,
        settings: WebhookSettings,
    ) -> Self {
        WebhookService {
            outbox,
            transport,
            clock,
            settings: Arc::new(settings),
        }
    }

    /// The configured endpoints.
    pub fn endpoints(&self) -> &[WebhookEndpoint] {
        &self.settings.endpoints
    }

    fn subscriptions(&self) -> Vec<Subscription> {
        self.settings
            .endpoints
            .iter()
            .map(|e| Subscription {
                endpoint: e.name.clone(),
                events: e.events.clone(),
            })
            .collect()
    }

    /// The delay after a failed attempt that makes `attempts` in all: doubling from the
    /// initial backoff, capped, plus up to a fifth more spread by the delivery's id so that
    /// failed deliveries do not come back in one wave.
    fn backoff(&self, delivery_id: i64, attempts: u32) -> Duration {
        let doubling = 2u32.saturating_pow(attempts.saturating_sub(1).min(20));
        let base = self
            .settings
            .initial_backoff
            .saturating_mul(doubling)
            .min(self.settings.max_backoff);
        let spread = u64::try_from(delivery_id.rem_euclid(1000)).unwrap_or(0);
        base + base.mul_f64(0.2 * spread as f64 / 1000.0)
    }

    /// What to record after an attempt that was not acknowledged.
    fn failure(&self, delivery: &Delivery, status: Option<u16>, error: String) -> AttemptOutcome {
        let now = self.clock.now();
        let attempts = delivery.attempts.saturating_add(1);
        let give_up_at = delivery
            .created_at
            .millis()
            .saturating_add(millis(self.settings.retry_for));
        let next = now
            .millis()
            .saturating_add(millis(self.backoff(delivery.id, attempts)));
        AttemptOutcome::Failed {
            status,
            error,
            // The last attempt is made at the end of the span, not skipped.
            next_attempt_at: (now.millis() < give_up_at)
                .then(|| Timestamp::from_millis(next.min(give_up_at))),
        }
    }

    /// Posts one delivery and returns its outcome.
    async fn attempt(&self, delivery: &Delivery) -> AttemptOutcome {
        let Some(endpoint) = self
            .settings
            .endpoints
            .iter()
            .find(|e| e.name == delivery.endpoint)
        else {
            return AttemptOutcome::Failed {
                status: None,
                error: format!("endpoint {:?} is no longer configured", delivery.endpoint),
                next_attempt_at: None,
            };
        };
        let body = envelope(delivery);
        let timestamp = self.clock.now().millis().div_euclid(1000);
        let request = WebhookRequest {
            url: endpoint.url.clone(),
            headers: vec![
                ("Content-Type".to_owned(), "application/json".to_owned()),
                (EVENT_ID_HEADER.to_owned(), event_id(delivery.event_id)),
                (
                    EVENT_TYPE_HEADER.to_owned(),
                    delivery.event_type.code().to_owned(),
                ),
                (
                    SIGNATURE_HEADER.to_owned(),
                    signature(endpoint.secret.expose(), timestamp, &body),
                ),
            ],
            body,
        };
        let result = self.transport.post(&request).await;
        crate::crash::point("webhook.after_post");
        match result {
            Ok(status) if (200..300).contains(&status) => AttemptOutcome::Delivered {
                status,
                at: self.clock.now(),
            },
            Ok(status) => self.failure(delivery, Some(status), format!("answered HTTP {status}")),
            Err(error) => self.failure(delivery, None, error),
        }
    }

    /// One round: spreads new events over the endpoints, claims due deliveries (each order's
    /// earliest pending one per endpoint) and posts them side by side.
    ///
    /// # Errors
    /// A storage failure while spreading or claiming; a failed post is recorded, not an error.
    pub async fn run_once(&self) -> Result<RoundReport, AppError> {
        let now = self.clock.now();
        let spread = self.outbox.fan_out(&self.subscriptions(), now, 500).await?;
        let lease_until =
            Timestamp::from_millis(now.millis().saturating_add(millis(self.settings.lease)));
        let deliveries = self
            .outbox
            .claim(
                &self.settings.worker_id,
                self.settings.concurrency.max(1),
                now,
                lease_until,
            )
            .await?;
        let attempted = u32::try_from(deliveries.len()).unwrap_or(u32::MAX);
        let mut tasks = JoinSet::new();
        for delivery in deliveries {
            let service = self.clone();
            tasks.spawn(async move {
                let outcome = service.attempt(&delivery).await;
                let delivered = matches!(outcome, AttemptOutcome::Delivered { .. });
                let kind = if delivered { "delivered" } else { "failed" };
                metrics::counter!("fapiao_webhook_attempts_total", "endpoint" => delivery.endpoint.clone(), "outcome" => kind)
                    .increment(1);
                if let AttemptOutcome::Failed {
                    error,
                    next_attempt_at,
                    ..
                } = &outcome
                {
                    warn!(
                        endpoint = %delivery.endpoint,
                        event = %event_id(delivery.event_id),
                        order = %delivery.key.order_id,
                        attempts = delivery.attempts + 1,
                        given_up = next_attempt_at.is_none(),
                        error = %error,
                        "webhook delivery failed"
                    );
                }
                match service
                    .outbox
                    .record(&delivery, &service.settings.worker_id, &outcome)
                    .await
                {
                    Ok(()) => delivered,
                    // Another worker holds it now; it will deliver (again): at least once.
                    Err(RepositoryError::LeaseLost(_)) => false,
                    Err(err) => {
                        warn!(error = %err, "recording a webhook delivery failed; it is sent again after its lease");
                        false
                    }
                }
            });
        }
        let mut delivered = 0;
        while let Some(joined) = tasks.join_next().await {
            if joined.unwrap_or(false) {
                delivered += 1;
            }
        }
        Ok(RoundReport {
            spread,
            attempted,
            delivered,
        })
    }

    /// Runs rounds until `shutdown` turns true: at once again while there was work, otherwise
    /// after the poll interval.
    pub async fn run(self, mut shutdown: watch::Receiver<bool>) {
        info!(
            endpoints = self.settings.endpoints.len(),
            "webhook delivery started"
        );
        let mut next_purge = tokio::time::Instant::now();
        loop {
            if *shutdown.borrow() {
                break;
            }
            if tokio::time::Instant::now() >= next_purge {
                next_purge += PURGE_EVERY;
                self.purge().await;
            }
            let pause = match self.run_once().await {
                Ok(round) if round.spread > 0 || round.attempted > 0 => Duration::ZERO,
                Ok(_) => self.settings.poll,
                Err(err) => {
                    warn!(error = %err, "webhook round failed");
                    self.settings.poll.max(Duration::from_secs(1))
                }
            };
            if pause.is_zero() {
                tokio::task::yield_now().await;
                continue;
            }
            tokio::select! {
                () = tokio::time::sleep(pause) => {}
                _ = shutdown.changed() => {}
            }
        }
    }

    /// Purges ended deliveries and their events older than the retention; failures are
    /// logged (the next purge tries again).
    async fn purge(&self) {
        let Some(retention) = self.settings.retention else {
            return;
        };
        let before =
            Timestamp::from_millis(self.clock.now().millis().saturating_sub(millis(retention)));
        match self.outbox.purge(before).await {
            Ok(0) => {}
            Ok(rows) => info!(rows, "old webhook deliveries purged"),
            Err(err) => warn!(error = %err, "purging old webhook deliveries failed"),
        }
    }

    /// The delivery log, newest first.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn deliveries(
        &self,
        filter: &DeliveryFilter,
    ) -> Result<Vec<DeliveryRecord>, AppError> {
        Ok(self.outbox.list(filter).await?)
    }

    /// Sends delivery `id` again now (whatever its status), with a fresh retry span.
    ///
    /// # Errors
    /// [`AppError::NotFound`] for an unknown id; a storage failure.
    pub async fn redeliver(&self, id: i64) -> Result<(), AppError> {
        if self.outbox.redeliver(id, self.clock.now()).await? {
            Ok(())
        } else {
            Err(AppError::NotFound(format!("webhook delivery {id}")))
        }
    }

    /// Deliveries per status.
    ///
    /// # Errors
    /// A storage failure.
    pub async fn counts(&self) -> Result<Vec<(DeliveryStatus, u64)>, AppError> {
        Ok(self.outbox.count_by_status().await?)
    }
}

fn millis(d: Duration) -> i64 {
    i64::try_from(d.as_millis()).unwrap_or(i64::MAX)
}

#[cfg(test)]
mod tests;
