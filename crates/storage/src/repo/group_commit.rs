//! Group commit for the event inbox: pushes arriving together are stored in one statement.
//!
//! Every push must be durably stored before it is acknowledged, and one transaction per push
//! spends most of its time on the commit (and, with SQLite, on handing each statement to the
//! connection's thread). [`GroupCommitInbox`] queues concurrent `record` calls; one writer
//! takes everything queued (up to [`MAX_BATCH`]) and stores it with
//! [`SeaOrmEventInbox::record_batch`]; each caller gets its own outcome after the commit. A
//! lone push is written at once, so nothing waits for a batch to fill.

use async_trait::async_trait;
use fapiao_domain::Timestamp;
use fapiao_domain::ports::{
    EventInbox, InboxItem, InboxStatus, RecordOutcome, RepositoryError, SetAsideEvent,
};
use fapiao_domain::weixin::WeixinEvent;
use tokio::sync::{mpsc, oneshot};

use super::inbox::{ROWS_PER_STATEMENT, SeaOrmEventInbox};

/// The most pushes stored by one batch: one statement's worth.
pub const MAX_BATCH: usize = ROWS_PER_STATEMENT;

type Reply = oneshot::Sender<Result<RecordOutcome, RepositoryError>>;

struct Pending {
    event: WeixinEvent,
    received_at: Timestamp,
    reply: Reply,
}

/// An [`EventInbox`] whose `record` calls are group-committed; the other calls go straight to
/// the wrapped [`SeaOrmEventInbox`].
#[derive(Debug, Clone)]
pub struct GroupCommitInbox {
    inner: SeaOrmEventInbox,
    queue: mpsc::Sender<Pending>,
}

impl GroupCommitInbox {
    /// Wraps `inner` and starts its writer task, which ends when the last clone is dropped.
    ///
    /// # Panics
    /// Outside a Tokio runtime (the writer is a Tokio task).
    pub fn spawn(inner: SeaOrmEventInbox) -> Self {
        let (queue, receiver) = mpsc::channel(MAX_BATCH * 16);
        tokio::spawn(write(inner.clone(), receiver));
        Self { inner, queue }
    }
}

impl std::fmt::Debug for Pending {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Pending")
            .field("dedupe_key", &self.event.dedupe_key())
            .finish_non_exhaustive()
    }
}

/// The writer: waits for one pending record, takes whatever else is queued, stores it all.
async fn write(inbox: SeaOrmEventInbox, mut receiver: mpsc::Receiver<Pending>) {
    let mut batch: Vec<Pending> = Vec::with_capacity(MAX_BATCH);
    while receiver.recv_many(&mut batch, MAX_BATCH).await > 0 {
        let events: Vec<(&WeixinEvent, Timestamp)> =
            batch.iter().map(|p| (&p.event, p.received_at)).collect();
        let stored = inbox.record_batch(&events).await;
        drop(events);
        match stored {
            Ok(outcomes) => {
                for (pending, outcome) in batch.drain(..).zip(outcomes) {
                    // A caller that gave up (its request was cancelled) needs no answer.
                    let _ = pending.reply.send(Ok(outcome));
                }
            }
            Err(error) => {
                tracing::warn!(error = %error, events = batch.len(), "inbox batch not stored");
                for pending in batch.drain(..) {
                    let _ = pending.reply.send(Err(copy(&error)));
                }
            }
        }
    }
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
        let (reply, answer) = oneshot::channel();
        self.queue
            .send(Pending {
                event: event.clone(),
                received_at,
                reply,
            })
            .await
            .map_err(|_| writer_gone())?;
        answer.await.map_err(|_| writer_gone())?
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<InboxItem>, RepositoryError> {
        self.inner.claim(worker, limit, now, lease_until).await
    }

    async fn mark_processed(&self, id: i64, note: Option<String>) -> Result<(), RepositoryError> {
        self.inner.mark_processed(id, note).await
    }

    async fn release(
        &self,
        id: i64,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError> {
        self.inner.release(id, retry_at, error).await
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
}
