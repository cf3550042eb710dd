//! Write transactions, group-committed on SQLite.
//!
//! SQLite has one writer and, with `synchronous = FULL`, a sync of the WAL at every commit
//! (2 ms or more on common disks): one transaction per write bounds an instance at a few
//! hundred writes per second, whatever the cores could do. So on SQLite every write
//! transaction of the process ([`Database::begin_write`](super::Database::begin_write)) is a
//! unit of a *group*: one task owns the writer connection, opens one transaction, and hands it
//! to the waiting units one after another — the first unit works in the transaction itself,
//! each later one in a `SAVEPOINT` of it, rolled back alone when that unit fails or is dropped
//! — then commits once and tells every unit whose work it kept that it is durable. A unit's
//! `commit` returns only then, so a caller never learns of a write that a crash could undo.
//! A lone write is one transaction at once: nothing waits for a group to fill; units that
//! arrive while one runs join the same commit (up to [`MAX_UNITS`]).
//!
//! A unit that fails alone (a stale version, a lost lease, a unique violation) changes
//! nothing and costs the others nothing; a failed `COMMIT`, or a savepoint that cannot be
//! released or rolled back, fails every unit of the group (the group is rolled back whole), as
//! a failed commit of their own transactions would have.
//!
//! PostgreSQL takes concurrent writers and groups their commits itself (its WAL flush covers
//! every commit record written before it), so there a write transaction is a plain one.

use std::time::Duration;

use sea_orm::{
    ConnectionTrait, DatabaseConnection, DatabaseTransaction, DbBackend, DbErr, ExecResult,
    QueryResult, RuntimeErr, SqliteTransactionMode, Statement, TransactionOptions,
    TransactionTrait,
};
use tokio::sync::{mpsc, oneshot};

use super::sync::{Committed, Durable};

/// The most units one group commits: a bound on how long the first unit waits for its commit.
pub(crate) const MAX_UNITS: usize = 64;

/// A unit's answer from the group writer: its transaction (or savepoint) to work in.
type Grant = Result<Granted, DbErr>;

/// What the group writer hands a unit.
pub(crate) struct Granted {
    txn: DatabaseTransaction,
    finished: oneshot::Sender<Finished>,
}

/// How a unit ended, with the transaction handed back to the group writer.
enum Finished {
    /// Keep its work; tell `durable` when the group's commit returned.
    Done {
        txn: DatabaseTransaction,
        durable: Durable,
    },
    /// Undo its work (dropped without a commit, e.g. after an error).
    Abandoned(DatabaseTransaction),
}

/// Queue of units waiting for their turn.
pub(crate) type Requests = mpsc::UnboundedSender<oneshot::Sender<Grant>>;

/// Starts the group writer over `writer`; it ends when every [`Requests`] clone is dropped.
///
/// With `syncer`, a group's commit is durable only once the syncer synced the WAL after it
/// (`writer` commits with `synchronous = NORMAL`, see [`super::sync`]); without, once SQLite's
/// `COMMIT` returned.
pub(crate) fn spawn_group_writer(
    writer: DatabaseConnection,
    syncer: Option<Committed>,
) -> Requests {
    let (requests, receiver) = mpsc::unbounded_channel();
    tokio::spawn(group_writer(writer, receiver, syncer));
    requests
}

/// A write transaction from [`Database::begin_write`](super::Database::begin_write): run
/// statements on it (`&txn` is a connection), then [`WriteTxn::commit`]; dropping it rolls its
/// work back.
pub struct WriteTxn {
    backend: DbBackend,
    txn: Option<DatabaseTransaction>,
    /// Set for a unit of an SQLite group: where the transaction goes back to.
    finished: Option<oneshot::Sender<Finished>>,
}

impl std::fmt::Debug for WriteTxn {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("WriteTxn")
            .field("grouped", &self.finished.is_some())
            .finish_non_exhaustive()
    }
}

impl WriteTxn {
    /// A plain transaction (PostgreSQL).
    pub(crate) fn plain(txn: DatabaseTransaction) -> Self {
        WriteTxn {
            backend: txn.get_database_backend(),
            txn: Some(txn),
            finished: None,
        }
    }

    /// Waits for this unit's turn in the SQLite group writer, at most `timeout` (as a
    /// connection waits for a pool).
    pub(crate) async fn grouped(requests: &Requests, timeout: Duration) -> Result<Self, DbErr> {
        let (grant, granted) = oneshot::channel();
        requests
            .send(grant)
            .map_err(|_| group_error("the database writer has stopped"))?;
        let granted = tokio::time::timeout(timeout, granted)
            .await
            .map_err(|_| DbErr::ConnectionAcquire(sea_orm::error::ConnAcquireErr::Timeout))?
            .map_err(|_| group_error("the database writer has stopped"))??;
        Ok(WriteTxn {
            backend: granted.txn.get_database_backend(),
            txn: Some(granted.txn),
            finished: Some(granted.finished),
        })
    }

    fn txn(&self) -> Result<&DatabaseTransaction, DbErr> {
        // Only `commit` and `drop` take it, and both consume `self`.
        self.txn
            .as_ref()
            .ok_or_else(|| group_error("the transaction has ended"))
    }

    /// Commits: returns once the work is durable (on SQLite, once the group's commit
    /// returned).
    ///
    /// # Errors
    /// The commit failed; nothing of this transaction was kept.
    pub async fn commit(mut self) -> Result<(), DbErr> {
        let txn = self
            .txn
            .take()
            .ok_or_else(|| group_error("the transaction has ended"))?;
        let Some(finished) = self.finished.take() else {
            return txn.commit().await;
        };
        let (durable, committed) = oneshot::channel();
        finished
            .send(Finished::Done { txn, durable })
            .map_err(|_| group_error("the database writer has stopped"))?;
        committed
            .await
            .map_err(|_| group_error("the database writer stopped before the commit"))?
            .map_err(|e| group_error(&format!("group commit failed: {e}")))
    }
}

impl Drop for WriteTxn {
    fn drop(&mut self) {
        if let (Some(txn), Some(finished)) = (self.txn.take(), self.finished.take()) {
            // The writer rolls it back; if the writer is gone, dropping it here queues the
            // rollback on the connection.
            let _ = finished.send(Finished::Abandoned(txn));
        }
    }
}

fn group_error(message: &str) -> DbErr {
    DbErr::Conn(RuntimeErr::Internal(message.to_owned()))
}

#[async_trait::async_trait]
impl ConnectionTrait for WriteTxn {
    fn get_database_backend(&self) -> DbBackend {
        self.backend
    }

    async fn execute_raw(&self, stmt: Statement) -> Result<ExecResult, DbErr> {
        self.txn()?.execute_raw(stmt).await
    }

    async fn execute_unprepared(&self, sql: &str) -> Result<ExecResult, DbErr> {
        self.txn()?.execute_unprepared(sql).await
    }

    async fn query_one_raw(&self, stmt: Statement) -> Result<Option<QueryResult>, DbErr> {
        self.txn()?.query_one_raw(stmt).await
    }

    async fn query_all_raw(&self, stmt: Statement) -> Result<Vec<QueryResult>, DbErr> {
        self.txn()?.query_all_raw(stmt).await
    }
}

/// The next unit still waiting (one whose caller gave up is skipped).
fn next_waiting(
    receiver: &mut mpsc::UnboundedReceiver<oneshot::Sender<Grant>>,
) -> Option<oneshot::Sender<Grant>> {
    while let Ok(request) = receiver.try_recv() {
        if !request.is_closed() {
            return Some(request);
        }
    }
    None
}

/// Hands `txn` to `request`; answers how the unit ended, `None` when its caller was gone or
/// dropped the unit without a word (the transaction then rolls back with it).
async fn run_unit(request: oneshot::Sender<Grant>, txn: DatabaseTransaction) -> Option<Finished> {
    let (finished, ended) = oneshot::channel();
    match request.send(Ok(Granted { txn, finished })) {
        Ok(()) => ended.await.ok(),
        Err(grant) => grant.ok().map(|granted| Finished::Abandoned(granted.txn)),
    }
}

async fn group_writer(
    writer: DatabaseConnection,
    mut receiver: mpsc::UnboundedReceiver<oneshot::Sender<Grant>>,
    syncer: Option<Committed>,
) {
    let immediate = TransactionOptions {
        sqlite_transaction_mode: Some(SqliteTransactionMode::Immediate),
        ..TransactionOptions::default()
    };
    loop {
        let Some(first) = receiver.recv().await else {
            return;
        };
        if first.is_closed() {
            continue;
        }
        let outer = match writer.begin_with_options(immediate).await {
            Ok(txn) => txn,
            Err(err) => {
                let _ = first.send(Err(err));
                continue;
            }
        };
        // The first unit works in the transaction itself: a lone write costs no savepoint.
        let mut durable = Vec::new();
        let outer = match run_unit(first, outer).await {
            Some(Finished::Done { txn, durable: d }) => {
                durable.push(d);
                txn
            }
            Some(Finished::Abandoned(txn)) => {
                let _ = txn.rollback().await;
                continue;
            }
            None => continue,
        };
        let mut units = 1;
        // A savepoint that could not be released or rolled back leaves the transaction in a
        // state no unit asked for (SQLite may even have rolled all of it back): the group is
        // then rolled back whole and every unit told, rather than committing it.
        let mut poisoned = None;
        while units < MAX_UNITS {
            let Some(request) = next_waiting(&mut receiver) else {
                break;
            };
            units += 1;
            let savepoint = match outer.begin().await {
                Ok(txn) => txn,
                Err(err) => {
                    let _ = request.send(Err(err));
                    break;
                }
            };
            let ended = match run_unit(request, savepoint).await {
                Some(Finished::Done { txn, durable: d }) => {
                    durable.push(d);
                    txn.commit().await
                }
                Some(Finished::Abandoned(txn)) => txn.rollback().await,
                None => Ok(()),
            };
            if let Err(err) = ended {
                poisoned = Some(err.to_string());
                break;
            }
        }
        let committed = match poisoned {
            None => outer.commit().await.map_err(|err| err.to_string()),
            Some(reason) => {
                let _ = outer.rollback().await;
                Err(format!(
                    "a savepoint failed ({reason}); the group was rolled back"
                ))
            }
        };
        if let Err(err) = &committed {
            tracing::warn!(error = %err, units, "group commit failed; every unit of it is told");
        }
        if let (Some(syncer), Ok(())) = (&syncer, &committed) {
            // The syncer answers them after its next sync; the writer goes on meanwhile.
            if let Err(unsent) = syncer.send(durable) {
                for d in unsent.0 {
                    let _ = d.send(Err("the WAL syncer has stopped".to_owned()));
                }
            }
            continue;
        }
        for d in durable {
            let _ = d.send(committed.clone());
        }
    }
}
