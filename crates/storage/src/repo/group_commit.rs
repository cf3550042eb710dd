//! Group commit for the event inbox: the pushes arriving together, and the runner's claims
//! and settlements of them, stored in one transaction.
//!
//! Every push must be durably stored before it is acknowledged, and one transaction per push
//! spends most of its time on the commit (and, with SQLite, on handing each statement to the
//! connection's thread). [`GroupCommitInbox`] queues concurrent `record` calls, and the
//! runner's `claim`, `mark_processed` and `release` calls beside them; a writer takes
//! everything queued (up to [`MAX_BATCH`]) and applies it at once: the pushes with one
//! multi-row statement ([`SeaOrmEventInbox::record_batch`]), the settlements with one statement
//! per kind, the claims after them, all in one transaction (a batch of pushes alone needs none:
//! its one statement is atomic). Each caller gets its own outcome after the commit. So the
//! runner never takes SQLite's one write lock away from the pushes, and one commit (one sync of
//! the WAL) serves all of them. A lone push is written at once: nothing waits for a batch to
//! fill. On PostgreSQL, which takes many writers, [`POSTGRES_WRITERS`] writers take batches in
//! turn, so one batch is gathered while another commits.

use std::sync::Arc;

use async_trait::async_trait;
use fapiao_domain::Timestamp;
use fapiao_domain::ports::{
    EventInbox, InboxItem, InboxStatus, RecordOutcome, RepositoryError, SetAsideEvent,
};
use fapiao_domain::weixin::WeixinEvent;
use tokio::sync::{Mutex, mpsc, oneshot};

use super::inbox::{ROWS_PER_STATEMENT, SeaOrmEventInbox, Settle};
use crate::db::Backend;
use crate::error::repository_error;

/// The most calls applied by one batch: one statement's worth of pushes.
pub const MAX_BATCH: usize = ROWS_PER_STATEMENT;

/// Writers on PostgreSQL (SQLite has one writer whatever the process does).
pub const POSTGRES_WRITERS: usize = 4;

type Reply<T> = oneshot::Sender<Result<T, RepositoryError>>;

/// A queued call.
enum Op {
    Record {
        event: WeixinEvent,
        received_at: Timestamp,
        reply: Reply<RecordOutcome>,
    },
    Settle {
        settle: Settle,
        reply: Reply<()>,
    },
    Claim {
        worker: String,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
        reply: Reply<Vec<InboxItem>>,
    },
}

/// An [`EventInbox`] whose writes are group-committed; the reads go straight to the wrapped
/// [`SeaOrmEventInbox`].
#[derive(Debug, Clone)]
pub struct GroupCommitInbox {
    inner: SeaOrmEventInbox,
    queue: mpsc::Sender<Op>,
}

impl GroupCommitInbox {
    /// Wraps `inner` and starts its writer tasks (one on SQLite, [`POSTGRES_WRITERS`] on
    /// PostgreSQL), which end when the last clone is dropped.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the writers are Tokio tasks).
    pub fn spawn(inner: SeaOrmEventInbox) -> Self {
        let (queue, receiver) = mpsc::channel(MAX_BATCH * 16);
        let receiver = Arc::new(Mutex::new(receiver));
        let writers = match inner.database().backend() {
            Backend::Sqlite => 1,
            Backend::Postgres => POSTGRES_WRITERS,
        };
        for _ in 0..writers {
            tokio::spawn(write(inner.clone(), receiver.clone()));
        }
        Self { inner, queue }
    }

    async fn call<T>(&self, op: impl FnOnce(Reply<T>) -> Op) -> Result<T, RepositoryError> {
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(op(reply))
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }
}

impl std::fmt::Debug for Op {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Op::Record { event, .. } => f
                .debug_struct("Record")
                .field("dedupe_key", &event.dedupe_key())
                .finish_non_exhaustive(),
            Op::Settle { settle, .. } => f.debug_tuple("Settle").field(settle).finish(),
            Op::Claim { worker, limit, .. } => f
                .debug_struct("Claim")
                .field("worker", worker)
                .field("limit", limit)
                .finish_non_exhaustive(),
        }
    }
}

/// A writer: waits for one queued call, takes whatever else is queued, applies it all.
async fn write(inbox: SeaOrmEventInbox, receiver: Arc<Mutex<mpsc::Receiver<Op>>>) {
    let mut batch: Vec<Op> = Vec::with_capacity(MAX_BATCH);
    loop {
        let received = receiver.lock().await.recv_many(&mut batch, MAX_BATCH).await;
        if received == 0 {
            return;
        }
        apply(&inbox, &mut batch).await;
    }
}

/// Applies a batch and answers every caller; empties `batch`.
async fn apply(inbox: &SeaOrmEventInbox, batch: &mut Vec<Op>) {
    let mut records = Vec::new();
    let mut settles = Vec::new();
    let mut claims = Vec::new();
    for op in batch.drain(..) {
        match op {
            Op::Record {
                event,
                received_at,
                reply,
            } => records.push((event, received_at, reply)),
            Op::Settle { settle, reply } => settles.push((settle, reply)),
            Op::Claim {
                worker,
                limit,
                now,
                lease_until,
                reply,
            } => claims.push((worker, limit, now, lease_until, reply)),
        }
    }
    let events: Vec<(&WeixinEvent, Timestamp)> =
        records.iter().map(|(e, at, _)| (e, *at)).collect();
    let to_settle: Vec<Settle> = settles.iter().map(|(s, _)| s.clone()).collect();
    let outcome = if to_settle.is_empty() && claims.is_empty() {
        // Pushes alone: one statement, atomic by itself.
        inbox
            .record_batch(&events)
            .await
            .map(|recorded| (recorded, Vec::new(), Vec::new()))
    } else {
        in_one_transaction(inbox, &events, &to_settle, &claims).await
    };
    drop(events);
    match outcome {
        Ok((recorded, settled, claimed)) => {
            // A caller that gave up (its request was cancelled) needs no answer.
            for ((_, _, reply), outcome) in records.into_iter().zip(recorded) {
                let _ = reply.send(Ok(outcome));
            }
            for ((_, reply), outcome) in settles.into_iter().zip(settled) {
                let _ = reply.send(outcome);
            }
            for ((.., reply), items) in claims.into_iter().zip(claimed) {
                let _ = reply.send(Ok(items));
            }
        }
        Err(error) => {
            tracing::warn!(
                error = %error,
                pushes = records.len(),
                settlements = settles.len(),
                claims = claims.len(),
                "inbox batch not stored"
            );
            for (_, _, reply) in records {
                let _ = reply.send(Err(copy(&error)));
            }
            for (_, reply) in settles {
                let _ = reply.send(Err(copy(&error)));
            }
            for (.., reply) in claims {
                let _ = reply.send(Err(copy(&error)));
            }
        }
    }
}

type ClaimCall = (String, u32, Timestamp, Timestamp, Reply<Vec<InboxItem>>);
type Applied = (
    Vec<RecordOutcome>,
    Vec<Result<(), RepositoryError>>,
    Vec<Vec<InboxItem>>,
);

/// Pushes, then settlements, then claims, in one write transaction.
async fn in_one_transaction(
    inbox: &SeaOrmEventInbox,
    events: &[(&WeixinEvent, Timestamp)],
    settles: &[Settle],
    claims: &[ClaimCall],
) -> Result<Applied, RepositoryError> {
    let txn = inbox
        .database()
        .begin_write()
        .await
        .map_err(repository_error)?;
    let recorded = if events.is_empty() {
        Vec::new()
    } else {
        inbox.record_on(Some(&txn), events).await?
    };
    let settled = if settles.is_empty() {
        Vec::new()
    } else {
        inbox.settle_on(&txn, settles).await?
    };
    let mut claimed = Vec::with_capacity(claims.len());
    for (worker, limit, now, lease_until, _) in claims {
        claimed.push(
            inbox
                .claim_on(&txn, worker, *limit, *now, *lease_until)
                .await?,
        );
    }
    txn.commit().await.map_err(repository_error)?;
    Ok((recorded, settled, claimed))
}

/// The same error for each caller of a failed batch (the source of `Other` is not `Clone`).
fn copy(error: &RepositoryError) -> RepositoryError {
    match error {
        RepositoryError::Conflict(s) => RepositoryError::Conflict(s.clone()),
        RepositoryError::NotFound(s) => RepositoryError::NotFound(s.clone()),
        RepositoryError::StaleVersion { expected } => RepositoryError::StaleVersion {
            expected: *expected,
        },
        RepositoryError::Unavailable(s) => RepositoryError::Unavailable(s.clone()),
        RepositoryError::Corrupt(s) => RepositoryError::Corrupt(s.clone()),
        other => RepositoryError::Unavailable(other.to_string()),
    }
}

fn writer_gone() -> RepositoryError {
    RepositoryError::Unavailable("the inbox writer has stopped".to_owned())
}

#[async_trait]
impl EventInbox for GroupCommitInbox {
    async fn record(
        &self,
        event: &WeixinEvent,
        received_at: Timestamp,
    ) -> Result<RecordOutcome, RepositoryError> {
        let event = event.clone();
        self.call(|reply| Op::Record {
            event,
            received_at,
            reply,
        })
        .await
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<InboxItem>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let worker = worker.to_owned();
        self.call(|reply| Op::Claim {
            worker,
            limit,
            now,
            lease_until,
            reply,
        })
        .await
    }

    async fn mark_processed(&self, id: i64, note: Option<String>) -> Result<(), RepositoryError> {
        self.call(|reply| Op::Settle {
            settle: Settle::Processed { id, note },
            reply,
        })
        .await
    }

    async fn release(
        &self,
        id: i64,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError> {
        let error = error.to_owned();
        self.call(|reply| Op::Settle {
            settle: Settle::Release {
                id,
                retry_at,
                error,
            },
            reply,
        })
        .await
    }

    async fn purge_processed(&self, before: Timestamp) -> Result<u64, RepositoryError> {
        self.inner.purge_processed(before).await
    }

    async fn set_aside(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SetAsideEvent>, RepositoryError> {
        self.inner.set_aside(after, limit).await
    }

    async fn status(&self, id: i64) -> Result<Option<InboxStatus>, RepositoryError> {
        self.inner.status(id).await
    }

    async fn wake(&self, dedupe_keys: &[String], now: Timestamp) -> Result<u64, RepositoryError> {
        self.inner.wake(dedupe_keys, now).await
    }
}
