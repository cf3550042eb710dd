//! Weixin's pushes: accepted on the request path (verified, decrypted, stored in the inbox),
//! then handled off it (matched to their order and applied); and the reconciliation that asks
//! `getauthdata` when an authorization push is late.

use std::time::Instant;

use fapiao_domain::ids::OrderKey;
use fapiao_domain::order::{Authorization, Input, Order, OrderState};
use fapiao_domain::ports::{
    InboxItem, InboxStatus, OrderFilter, OrderPosition, RecordOutcome, SetAsideEvent,
};
use fapiao_domain::weixin::{AuthOutcome, AuthStatus, WeixinEvent};
use tracing::{debug, info, warn};

use super::{Change, InvoiceService};
use crate::error::AppError;
use crate::settings::RetryPolicy;

/// What became of a push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EventOutcome {
    /// It moved an order.
    Applied(OrderKey),
    /// It repeated what the order already knew.
    NoChange(OrderKey),
    /// It matched no order (kept in the inbox with this note for operators).
    Unmatched(String),
    /// An authorization for an order not registered yet: kept and tried again later.
    Early(String),
    /// It was not applicable (kept with this note).
    Ignored(String),
}

/// How many times a push for an order that is not registered yet is kept and tried again
/// (with backoff, up to the retry policy's longest delay) before it is set aside with a note.
pub const EARLY_PUSH_ATTEMPTS: u32 = 30;

/// The first retry of a push for an order not registered yet, doubling per attempt up to the
/// retry policy's longest delay. Registering the order wakes the push at once
/// ([`EventInbox::wake`](fapiao_domain::ports::EventInbox::wake)), so the retries only catch
/// an order registered where the wake could not reach (e.g. the wake failed).
pub const EARLY_PUSH_FIRST_RETRY_MILLIS: i64 = 15_000;

/// What became of an accepted push.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushAccepted {
    /// Stored in the inbox for the runner.
    Recorded,
    /// Already in the inbox (Weixin repeats a push it thinks was lost).
    Duplicate,
}

impl InvoiceService {
    /// Weixin's URL check: the text to echo when the signed query is authentic.
    ///
    /// # Errors
    /// [`AppError::Push`] naming what is wrong.
    pub fn verify_callback(&self, query: &str) -> Result<String, AppError> {
        Ok(self.ports.decoder.verify_url(query)?)
    }

    /// A push on the request path: verified and decrypted, then durably stored in the inbox;
    /// the caller acknowledges Weixin only after this returns `Ok` (handling comes later).
    ///
    /// # Errors
    /// [`AppError::Push`] for a push that must not be accepted (nothing stored); storage errors.
    pub async fn accept_push(&self, query: &str, body: &[u8]) -> Result<PushAccepted, AppError> {
        let started = Instant::now();
        let now = self.ports.clock.now();
        let event = match self.ports.decoder.decode(query, body, now) {
            Ok(event) => event,
            Err(e) => {
                metrics::counter!("fapiao_pushes_refused_total").increment(1);
                warn!(error = %e, "push refused");
                return Err(e.into());
            }
        };
        let accepted = match self.ports.inbox.record(&event, now).await? {
            RecordOutcome::Recorded(_) => PushAccepted::Recorded,
            RecordOutcome::Duplicate => PushAccepted::Duplicate,
        };
        let kind = match accepted {
            PushAccepted::Recorded => "recorded",
            PushAccepted::Duplicate => "duplicate",
        };
        metrics::counter!("fapiao_pushes_total", "outcome" => kind).increment(1);
        metrics::histogram!("fapiao_push_seconds").record(started.elapsed().as_secs_f64());
        Ok(accepted)
    }

    /// Handles a verified push (called for each inbox event, off the request path).
    ///
    /// # Errors
    /// Storage errors only (the inbox keeps the event for another attempt); business outcomes
    /// are [`EventOutcome`]s.
    pub async fn handle_event(&self, event: &WeixinEvent) -> Result<EventOutcome, AppError> {
        match event {
            WeixinEvent::Authorization(auth) => {
                let s_pappid = match &auth.s_pappid {
                    Some(id) => id.clone(),
                    None => self.platform_id().await?,
                };
                let key = OrderKey {
                    s_pappid,
                    order_id: auth.outcome.order_id().clone(),
                };
                let Some(order) = self.ports.orders.get(&key).await? else {
                    // The buyer can tap the receipt before the merchant's backend registers
                    // the order: the push is kept and matched once the order exists.
                    return Ok(EventOutcome::Early(format!(
                        "authorization for order {} that is not registered (yet)",
                        key.order_id
                    )));
                };
                let input = match &auth.outcome {
                    AuthOutcome::Succeeded(_) => Input::BuyerAuthorized(Authorization {
                        openid: Some(auth.openid.clone()),
                        appid: auth.authorize_appid.clone(),
                        source: auth.source,
                        at: auth.create_time,
                    }),
                    AuthOutcome::Failed(_) => Input::AuthorizationFailed {
                        at: auth.create_time,
                    },
                };
                self.event_input(order, input).await
            }
            WeixinEvent::InvoiceStatus(status) => {
                let change = Input::ReimbursementChanged {
                    status: status.status,
                    at: status.create_time,
                };
                if let Some(order) = self
                    .ports
                    .orders
                    .find_by_card(&status.card_id, &status.code)
                    .await?
                {
                    return self.event_input(order, change).await;
                }
                // A card whose insert answer was lost: matched by template and buyer when
                // exactly one such card is unaccounted for.
                let candidates = self
                    .ports
                    .orders
                    .find_by_unknown_card(&status.card_id, &status.openid)
                    .await?;
                let [order] = candidates.as_slice() else {
                    return Ok(EventOutcome::Unmatched(format!(
                        "status {} for unknown card {}/{} ({} orders of this template for this buyer lack their card code)",
                        status.status,
                        status.card_id,
                        status.code,
                        candidates.len()
                    )));
                };
                let learned = Input::CardCodeLearned {
                    code: status.code.clone(),
                    openid: status.openid.clone(),
                };
                match self.event_input(order.clone(), learned).await? {
                    EventOutcome::Applied(key) | EventOutcome::NoChange(key) => {
                        info!(order_id = %key.order_id, code = %status.code, "card code learned from a status push");
                        let order = self.reload(&key).await?;
                        self.event_input(order, change).await
                    }
                    other => Ok(other),
                }
            }
            WeixinEvent::Other {
                msg_type, event, ..
            } => Ok(EventOutcome::Ignored(format!(
                "not an invoice event ({msg_type}/{})",
                event.as_deref().unwrap_or("-")
            ))),
        }
    }

    async fn event_input(&self, order: Order, input: Input) -> Result<EventOutcome, AppError> {
        let key = order.key().clone();
        match self.save(&key, Change::new(input).on(order)).await {
            Ok(saved) if saved.changed => Ok(EventOutcome::Applied(key)),
            Ok(_) => Ok(EventOutcome::NoChange(key)),
            Err(AppError::Transition(e)) => Ok(EventOutcome::Ignored(e.to_string())),
            Err(e) => Err(e),
        }
    }

    /// Claims and handles up to `limit` inbox events, one after the other. Returns how many
    /// were handled.
    ///
    /// # Errors
    /// Storage errors.
    pub async fn process_inbox(&self, worker: &str, limit: u32) -> Result<usize, AppError> {
        let items = self.claim_inbox(worker, limit).await?;
        let count = items.len();
        for item in items {
            self.process_event(&item).await?;
        }
        Ok(count)
    }

    /// Claims up to `limit` unprocessed inbox events for `worker` (leased for a minute).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn claim_inbox(&self, worker: &str, limit: u32) -> Result<Vec<InboxItem>, AppError> {
        let now = self.ports.clock.now();
        Ok(self
            .ports
            .inbox
            .claim(worker, limit, now, now.plus_millis(60_000))
            .await?)
    }

    /// Handles one claimed inbox event: applied, or noted and set aside, or released for a
    /// retry with backoff when handling failed.
    ///
    /// # Errors
    /// Storage errors while recording the result (the event's lease then expires and it is
    /// handled again).
    pub async fn process_event(&self, item: &InboxItem) -> Result<(), AppError> {
        match self.handle_event(&item.event).await {
            Ok(EventOutcome::Applied(_) | EventOutcome::NoChange(_)) => {
                self.ports.inbox.mark_processed(item.id, None).await?;
            }
            Ok(EventOutcome::Early(note)) if item.attempts < EARLY_PUSH_ATTEMPTS => {
                let early = RetryPolicy {
                    base_delay_millis: EARLY_PUSH_FIRST_RETRY_MILLIS,
                    ..self.settings.retry
                };
                let delay = early.backoff_millis(item.attempts, item.id.unsigned_abs());
                // Said once per push; its retries are at debug level (a burst of early pushes
                // would otherwise log each of them up to 30 times).
                if item.attempts == 0 {
                    info!(event = item.id, note = %note, after_millis = delay, "push kept until its order is registered");
                } else {
                    debug!(
                        event = item.id,
                        attempts = item.attempts,
                        after_millis = delay,
                        "push still waiting for its order"
                    );
                }
                let now = self.ports.clock.now();
                self.ports
                    .inbox
                    .release(item.id, now.plus_millis(delay), &note)
                    .await?;
            }
            Ok(
                EventOutcome::Unmatched(note)
                | EventOutcome::Ignored(note)
                | EventOutcome::Early(note),
            ) => {
                warn!(event = item.id, note = %note, "push not applied");
                self.ports.inbox.mark_processed(item.id, Some(note)).await?;
            }
            Err(e) => {
                let now = self.ports.clock.now();
                let delay = self
                    .settings
                    .retry
                    .backoff_millis(item.attempts, item.id.unsigned_abs());
                warn!(event = item.id, error = %e, "push processing failed; will retry");
                self.ports
                    .inbox
                    .release(item.id, now.plus_millis(delay), &e.to_string())
                    .await?;
            }
        }
        Ok(())
    }

    /// The pushes set aside without being applied (no order matched them, or they did not
    /// apply), by id ascending, past `after`, at most `limit` (1 to 500).
    ///
    /// # Errors
    /// Storage errors.
    pub async fn unmatched_events(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SetAsideEvent>, AppError> {
        Ok(self
            .ports
            .inbox
            .set_aside(after, limit.clamp(1, 500))
            .await?)
    }

    /// Handles the set-aside push `id` again now (e.g. once its order is registered): applied,
    /// it is marked processed without a note and leaves the set-aside list; still not
    /// applicable, it stays set aside under the new note. Replaying again does not apply it
    /// twice (the order answers a repeated input with no change).
    ///
    /// # Errors
    /// [`AppError::NotFound`] when there is no such push (never received, or purged);
    /// [`AppError::Conflict`] when it was applied already, is not processed yet, or no longer
    /// decodes; storage errors (the push then stays as it was).
    pub async fn replay_event(&self, id: i64) -> Result<EventOutcome, AppError> {
        let set_aside = match self.ports.inbox.status(id).await? {
            None => {
                return Err(AppError::NotFound(format!(
                    "no push {id} in the inbox (never received, or purged)"
                )));
            }
            Some(InboxStatus::Pending) => {
                return Err(AppError::Conflict(format!(
                    "push {id} is not processed yet: the runner handles it"
                )));
            }
            Some(InboxStatus::Applied) => {
                return Err(AppError::Conflict(format!(
                    "push {id} matched its order and was applied: nothing to replay"
                )));
            }
            Some(InboxStatus::Undecodable(note)) => {
                return Err(AppError::Conflict(format!(
                    "push {id} cannot be replayed: {note}"
                )));
            }
            Some(InboxStatus::SetAside(set_aside)) => set_aside,
        };
        let outcome = self.handle_event(&set_aside.item.event).await?;
        let note = match &outcome {
            EventOutcome::Applied(_) | EventOutcome::NoChange(_) => None,
            EventOutcome::Unmatched(note)
            | EventOutcome::Ignored(note)
            | EventOutcome::Early(note) => Some(note.clone()),
        };
        info!(event = id, outcome = ?outcome, "push replayed");
        self.ports.inbox.mark_processed(id, note).await?;
        Ok(outcome)
    }

    /// Polls `getauthdata` for orders that waited longer than the configured time for their
    /// authorization push (pushes can be lost, or come before the order was registered):
    /// orders awaiting authorization and orders created but not yet handed out (post-payment,
    /// unscanned QR codes), least recently updated first so none starves, at most `limit` calls
    /// a round (`getauthdata` has a daily quota). Returns how many were found authorized.
    ///
    /// # Errors
    /// Storage errors listing the orders; errors of one order are logged and the round goes on,
    /// except a quota error (45009), which ends the round.
    pub async fn reconcile_awaiting(&self, limit: u32) -> Result<usize, AppError> {
        let now = self.ports.clock.now();
        // Rounds go through the waiting orders from the oldest on and start over at the end,
        // so orders that wait for days (an unscanned QR code) never starve the others.
        let cursor = self
            .reconcile_cursor
            .lock()
            .map(|c| c.clone())
            .unwrap_or_default();
        let mut due = Vec::new();
        for state in [OrderState::AwaitingAuthorization, OrderState::Created] {
            let filter = OrderFilter {
                state: Some(state),
                scenario: None,
                limit,
                updated_before: Some(now.plus_millis(-self.settings.reconcile_after_millis)),
                updated_after: None,
                oldest_first: true,
                after: cursor.clone(),
                ..OrderFilter::default()
            };
            due.extend(self.ports.orders.list(&filter).await?);
        }
        // The listing's own order (update time, then key), so the cursor is exact: orders
        // updated at the same instant are neither skipped nor asked about twice.
        due.sort_by_cached_key(OrderPosition::of);
        let full = due.len() >= limit as usize;
        due.truncate(limit as usize);
        let next = if full {
            due.last().map(OrderPosition::of)
        } else {
            None
        };
        if let Ok(mut cursor) = self.reconcile_cursor.lock() {
            *cursor = next;
        }
        let mut found = 0;
        for order in due {
            let key = order.key().clone();
            let data = match self
                .ports
                .merchant
                .auth_data(&key.s_pappid, &key.order_id)
                .await
            {
                Ok(data) => data,
                Err(e) if e.errcode() == Some(45009) => {
                    warn!(error = %e, "getauthdata quota reached; reconciliation resumes next round");
                    break;
                }
                Err(e) => {
                    warn!(order_id = %key.order_id, error = %e, "reconciliation getauthdata failed");
                    continue;
                }
            };
            if data.status != AuthStatus::AuthSuccess {
                continue;
            }
            let auth = Authorization {
                openid: None,
                appid: None,
                source: None,
                at: data.auth_time.unwrap_or(now),
            };
            match self
                .save(&key, Change::new(Input::BuyerAuthorized(auth)).on(order))
                .await
            {
                Ok(_) => {
                    info!(order_id = %key.order_id, "authorization found by reconciliation");
                    found += 1;
                }
                Err(e) => {
                    warn!(order_id = %key.order_id, error = %e, "reconciliation could not save")
                }
            }
        }
        Ok(found)
    }
}
