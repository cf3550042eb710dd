//! The event inbox: a push is stored once per dedupe key, then processed under a lease.

use std::collections::HashMap;

use async_trait::async_trait;
use fapiao_domain::Timestamp;
use fapiao_domain::ports::{
    EventInbox, InboxItem, InboxStatus, RecordOutcome, RepositoryError, SetAsideEvent,
};
use fapiao_domain::weixin::WeixinEvent;
use sea_orm::sea_query::Expr;
use sea_orm::{
    ColumnTrait, Condition, ConnectionTrait, DbBackend, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Statement,
};

use crate::db::{Database, WriteTxn};
use crate::entity::inbox_event;
use crate::error::{corrupt, repository_error};

use super::{to_u32, wall_clock_millis};

/// Rows per `INSERT` of [`SeaOrmEventInbox::record_batch`] (four parameters each, far below
/// SQLite's and PostgreSQL's limits).
pub const ROWS_PER_STATEMENT: usize = 256;

/// The most set-aside pushes one `set_aside` call returns.
pub const MAX_SET_ASIDE_LIMIT: u32 = 500;

/// The event inbox on sea-orm: `INSERT … ON CONFLICT (dedupe_key) DO NOTHING` on both
/// databases, so concurrent deliveries of one push across instances store it exactly once.
#[derive(Debug, Clone)]
pub struct SeaOrmEventInbox {
    db: Database,
}

impl SeaOrmEventInbox {
    /// An inbox over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    pub(crate) fn database(&self) -> &Database {
        &self.db
    }

    /// Stores several events in one transaction (one statement per
    /// [`ROWS_PER_STATEMENT`] events), each under its dedupe key if absent; answers one outcome
    /// per event, in order. A key repeated within `events` is recorded for its first
    /// occurrence and a duplicate for the others, as if they had been recorded one after the
    /// other.
    ///
    /// # Errors
    /// As for the `EventInbox` port; on an error nothing is stored.
    pub async fn record_batch(
        &self,
        events: &[(&WeixinEvent, Timestamp)],
    ) -> Result<Vec<RecordOutcome>, RepositoryError> {
        self.record_on(None, events).await
    }

    /// [`SeaOrmEventInbox::record_batch`] inside `txn` when given (the group commit's
    /// transaction), else on its own.
    pub(crate) async fn record_on(
        &self,
        txn: Option<&WriteTxn>,
        events: &[(&WeixinEvent, Timestamp)],
    ) -> Result<Vec<RecordOutcome>, RepositoryError> {
        let mut outcomes = vec![RecordOutcome::Duplicate; events.len()];
        // The first occurrence of each key, by position in `events`.
        let mut first: HashMap<String, usize> = HashMap::with_capacity(events.len());
        let mut rows = Vec::with_capacity(events.len());
        for (i, (event, received_at)) in events.iter().enumerate() {
            let key = event.dedupe_key();
            if first.contains_key(&key) {
                continue;
            }
            let payload = serde_json::to_string(event)
                .map_err(|err| RepositoryError::Other(Box::new(err)))?;
            rows.push((
                key.clone(),
                [
                    key.clone().into(),
                    event_kind(event).into(),
                    payload.into(),
                    received_at.millis().into(),
                ],
            ));
            first.insert(key, i);
        }
        if rows.is_empty() {
            return Ok(outcomes);
        }
        // One order of keys for every batch: concurrent batches on PostgreSQL then wait for
        // each other's keys in the same order and never deadlock.
        rows.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        let rows: Vec<[sea_orm::Value; 4]> = rows.into_iter().map(|(_, row)| row).collect();
        let record = |id: i64, key: String, outcomes: &mut [RecordOutcome]| {
            let position = first
                .get(&key)
                .copied()
                .ok_or_else(|| corrupt("event_inbox.dedupe_key", &key))?;
            if let Some(outcome) = outcomes.get_mut(position) {
                *outcome = RecordOutcome::Recorded(id);
            }
            Ok::<_, RepositoryError>(())
        };
        match txn {
            Some(txn) => {
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    for (id, key) in self.insert_rows(txn, chunk).await? {
                        record(id, key, &mut outcomes)?;
                    }
                }
            }
            None if rows.len() <= ROWS_PER_STATEMENT && !self.db.groups_writes() => {
                // PostgreSQL: one statement is atomic by itself, and needs no BEGIN and COMMIT
                // round trips (on SQLite every write joins the group commit instead).
                for (id, key) in self.insert_rows(self.db.conn(), &rows).await? {
                    record(id, key, &mut outcomes)?;
                }
            }
            None => {
                let txn = self.db.begin_write().await.map_err(repository_error)?;
                for chunk in rows.chunks(ROWS_PER_STATEMENT) {
                    for (id, key) in self.insert_rows(&txn, chunk).await? {
                        record(id, key, &mut outcomes)?;
                    }
                }
                txn.commit().await.map_err(repository_error)?;
            }
        }
        Ok(outcomes)
    }

    /// One `INSERT … ON CONFLICT DO NOTHING RETURNING id, dedupe_key` of `rows`
    /// (dedupe key, kind, payload, received at); answers the stored rows.
    async fn insert_rows(
        &self,
        conn: &impl ConnectionTrait,
        rows: &[[sea_orm::Value; 4]],
    ) -> Result<Vec<(i64, String)>, RepositoryError> {
        let placeholders: Vec<String> = (0..rows.len())
            .map(|r| {
                let n = r * 4;
                format!(
                    "(${}, ${}, ${}, ${}, ${}, 0)",
                    n + 1,
                    n + 2,
                    n + 3,
                    n + 4,
                    n + 4
                )
            })
            .collect();
        let stmt = Statement::from_sql_and_values(
            self.db.db_backend(),
            format!(
                "INSERT INTO event_inbox (dedupe_key, kind, payload, received_at, available_at, attempts) \
                 VALUES {} ON CONFLICT (dedupe_key) DO NOTHING RETURNING id, dedupe_key",
                placeholders.join(", ")
            ),
            rows.iter().flat_map(|row| row.iter().cloned()),
        );
        conn.query_all_raw(stmt)
            .await
            .map_err(repository_error)?
            .iter()
            .map(|row| {
                let id: i64 = row.try_get("", "id").map_err(repository_error)?;
                let key: String = row.try_get("", "dedupe_key").map_err(repository_error)?;
                Ok((id, key))
            })
            .collect()
    }
}

impl SeaOrmEventInbox {
    /// `EventInbox::claim` on `conn` (the writer, or the group commit's transaction).
    pub(crate) async fn claim_on(
        &self,
        conn: &impl ConnectionTrait,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<InboxItem>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let backend = self.db.db_backend();
        let lock = match backend {
            DbBackend::Postgres => "FOR UPDATE SKIP LOCKED",
            _ => "",
        };
        let sql = format!(
            "UPDATE event_inbox SET lease_owner = $1, lease_until = $2 \
             WHERE id IN (\
               SELECT id FROM event_inbox \
               WHERE processed_at IS NULL AND available_at <= $3 \
                 AND (lease_until IS NULL OR lease_until <= $3) \
               ORDER BY id LIMIT $4 {lock}) \
             RETURNING id, dedupe_key, kind, payload, received_at, available_at, attempts, \
               lease_owner, lease_until, processed_at, note, last_error"
        );
        let stmt = Statement::from_sql_and_values(
            backend,
            sql,
            [
                worker.into(),
                lease_until.millis().into(),
                now.millis().into(),
                i64::from(limit).into(),
            ],
        );
        let mut models = inbox_event::Entity::find()
            .from_raw_sql(stmt)
            .all(conn)
            .await
            .map_err(repository_error)?;
        models.sort_by_key(|m| m.id);
        let mut items = Vec::with_capacity(models.len());
        for model in models {
            let id = model.id;
            match InboxItem::try_from(model) {
                Ok(item) => items.push(item),
                // One row that no longer decodes must not hold back the others: it is set aside
                // (processed, with the reason as its note) under the claim just taken.
                Err(err) => {
                    self.set_aside_undecodable(conn, id, worker, lease_until, &err)
                        .await
                }
            }
        }
        Ok(items)
    }

    /// Settles claimed pushes on `conn` (the writer, or the group commit's transaction): each
    /// marked processed (with its note) or released for a retry, with two statements for the
    /// lot (one per kind) however many there are. Answers one result per settlement, in order:
    /// `NotFound` as `mark_processed` and `release` answer it.
    ///
    /// # Errors
    /// A database error fails them all.
    pub(crate) async fn settle_on(
        &self,
        conn: &impl ConnectionTrait,
        settles: &[Settle],
    ) -> Result<Vec<Result<(), RepositoryError>>, RepositoryError> {
        let mut done = vec![false; settles.len()];
        // A row settled twice in one batch is settled in turn: the k-th settlement of each id
        // goes in the k-th round.
        let mut round_of: HashMap<i64, usize> = HashMap::with_capacity(settles.len());
        let rounds: Vec<usize> = settles
            .iter()
            .map(|settle| {
                let round = round_of.entry(settle.id()).or_insert(0);
                *round += 1;
                *round - 1
            })
            .collect();
        let last_round = rounds.iter().copied().max().unwrap_or(0);
        let now = wall_clock_millis();
        for round in 0..=last_round {
            let (mut processed, mut released) = (Vec::new(), Vec::new());
            for (i, settle) in settles.iter().enumerate() {
                if rounds.get(i) != Some(&round) {
                    continue;
                }
                match settle {
                    Settle::Processed { .. } => processed.push(i),
                    Settle::Release { .. } => released.push(i),
                }
            }
            for (indices, release) in [(processed, false), (released, true)] {
                if indices.is_empty() {
                    continue;
                }
                let stmt = settle_statement(self.db.db_backend(), settles, &indices, release, now);
                let ids: std::collections::HashSet<i64> = conn
                    .query_all_raw(stmt)
                    .await
                    .map_err(repository_error)?
                    .iter()
                    .map(|row| row.try_get::<i64>("", "id").map_err(repository_error))
                    .collect::<Result<_, _>>()?;
                for i in indices {
                    let found = settles.get(i).is_some_and(|s| ids.contains(&s.id()));
                    if let Some(slot) = done.get_mut(i) {
                        *slot = found;
                    }
                }
            }
        }
        Ok(settles
            .iter()
            .zip(done)
            .map(|(settle, found)| {
                if found {
                    Ok(())
                } else {
                    Err(RepositoryError::NotFound(match settle {
                        Settle::Processed { id, .. } => format!("inbox event {id}"),
                        Settle::Release { id, .. } => format!("unprocessed inbox event {id}"),
                    }))
                }
            })
            .collect())
    }

    /// Marks the claimed row `id` that does not decode into an [`InboxItem`] processed, with
    /// the reason as its note and last error, so it is kept for operators and never claimed
    /// again.
    ///
    /// A failure here is only logged: the row stays leased, its lease expires, and the next
    /// claim after that tries again, while the rows that decode are handed out meanwhile.
    async fn set_aside_undecodable(
        &self,
        conn: &impl ConnectionTrait,
        id: i64,
        worker: &str,
        lease_until: Timestamp,
        err: &RepositoryError,
    ) {
        let reason = format!("undecodable inbox row: {err}");
        tracing::error!(event = id, error = %err, "inbox row set aside: it does not decode");
        let res = inbox_event::Entity::update_many()
            .col_expr(
                inbox_event::Column::ProcessedAt,
                Expr::value(wall_clock_millis()),
            )
            .col_expr(inbox_event::Column::Note, Expr::value(reason.clone()))
            .col_expr(inbox_event::Column::LastError, Expr::value(reason))
            .col_expr(
                inbox_event::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                inbox_event::Column::LeaseUntil,
                Expr::value(Option::<i64>::None),
            )
            .filter(inbox_event::Column::Id.eq(id))
            .filter(inbox_event::Column::LeaseOwner.eq(worker))
            .filter(inbox_event::Column::LeaseUntil.eq(lease_until.millis()))
            .exec(conn)
            .await;
        if let Err(err) = res {
            tracing::warn!(event = id, error = %err, "undecodable inbox row not set aside; retried after its lease");
        }
    }
}

impl TryFrom<inbox_event::Model> for InboxItem {
    type Error = RepositoryError;

    fn try_from(model: inbox_event::Model) -> Result<Self, Self::Error> {
        Ok(InboxItem {
            id: model.id,
            event: serde_json::from_str(&model.payload)
                .map_err(|err| corrupt("event_inbox.payload", err))?,
            received_at: Timestamp::from_millis(model.received_at),
            attempts: to_u32("event_inbox.attempts", model.attempts)?,
        })
    }
}

/// What becomes of a claimed push: `EventInbox::mark_processed` or `EventInbox::release`.
#[derive(Debug, Clone)]
pub(crate) enum Settle {
    Processed {
        id: i64,
        note: Option<String>,
    },
    Release {
        id: i64,
        retry_at: Timestamp,
        error: String,
    },
}

impl Settle {
    fn id(&self) -> i64 {
        match self {
            Settle::Processed { id, .. } | Settle::Release { id, .. } => *id,
        }
    }
}

/// One `UPDATE … FROM (VALUES …)` settling the rows `settles[indices]`, all of one kind;
/// `RETURNING id` names the rows it found (a release only finds unprocessed rows).
fn settle_statement(
    backend: DbBackend,
    settles: &[Settle],
    indices: &[usize],
    release: bool,
    now: i64,
) -> Statement {
    // The processed form's `$1` is the time; PostgreSQL wants every parameter used.
    let mut values: Vec<sea_orm::Value> = if release {
        Vec::new()
    } else {
        vec![now.into()]
    };
    let mut tuples = Vec::with_capacity(indices.len());
    for settle in indices.iter().filter_map(|&i| settles.get(i)) {
        let n = values.len();
        match settle {
            Settle::Processed { id, note } => {
                tuples.push(format!("(${}, ${})", n + 1, n + 2));
                values.push((*id).into());
                values.push(note.clone().into());
            }
            Settle::Release {
                id,
                retry_at,
                error,
            } => {
                tuples.push(format!("(${}, ${}, ${})", n + 1, n + 2, n + 3));
                values.push((*id).into());
                values.push(retry_at.millis().into());
                values.push(error.clone().into());
            }
        }
    }
    let sql = if release {
        format!(
            "WITH v (vid, vat, verr) AS (VALUES {}) \
             UPDATE event_inbox SET attempts = attempts + 1, available_at = v.vat, \
               last_error = v.verr, lease_owner = NULL, lease_until = NULL \
             FROM v WHERE event_inbox.id = v.vid AND event_inbox.processed_at IS NULL \
             RETURNING id",
            tuples.join(", ")
        )
    } else {
        format!(
            "WITH v (vid, vnote) AS (VALUES {}) \
             UPDATE event_inbox SET processed_at = $1, note = v.vnote, \
               lease_owner = NULL, lease_until = NULL \
             FROM v WHERE event_inbox.id = v.vid \
             RETURNING id",
            tuples.join(", ")
        )
    };
    Statement::from_sql_and_values(backend, sql, values)
}

/// The event's kind, a column for operators; the payload is the whole event.
fn event_kind(event: &WeixinEvent) -> &'static str {
    match event {
        WeixinEvent::Authorization(_) => "authorization",
        WeixinEvent::InvoiceStatus(_) => "invoice_status",
        WeixinEvent::Other { .. } => "other",
    }
}

#[async_trait]
impl EventInbox for SeaOrmEventInbox {
    async fn record(
        &self,
        event: &WeixinEvent,
        received_at: Timestamp,
    ) -> Result<RecordOutcome, RepositoryError> {
        let outcomes = self.record_batch(&[(event, received_at)]).await?;
        Ok(outcomes
            .first()
            .copied()
            .unwrap_or(RecordOutcome::Duplicate))
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<InboxItem>, RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let items = self.claim_on(&txn, worker, limit, now, lease_until).await?;
        txn.commit().await.map_err(repository_error)?;
        Ok(items)
    }

    async fn wake(&self, dedupe_keys: &[String], now: Timestamp) -> Result<u64, RepositoryError> {
        if dedupe_keys.is_empty() {
            return Ok(0);
        }
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let res = inbox_event::Entity::update_many()
            .col_expr(inbox_event::Column::AvailableAt, Expr::value(now.millis()))
            .filter(inbox_event::Column::DedupeKey.is_in(dedupe_keys.iter().map(String::as_str)))
            .filter(inbox_event::Column::ProcessedAt.is_null())
            .filter(inbox_event::Column::AvailableAt.gt(now.millis()))
            .filter(
                Condition::any()
                    .add(inbox_event::Column::LeaseUntil.is_null())
                    .add(inbox_event::Column::LeaseUntil.lte(now.millis())),
            )
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        Ok(res.rows_affected)
    }

    async fn purge_processed(&self, before: Timestamp) -> Result<u64, RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let res = inbox_event::Entity::delete_many()
            .filter(inbox_event::Column::ProcessedAt.is_not_null())
            .filter(inbox_event::Column::ReceivedAt.lt(before.millis()))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        Ok(res.rows_affected)
    }

    async fn set_aside(
        &self,
        after: Option<i64>,
        limit: u32,
    ) -> Result<Vec<SetAsideEvent>, RepositoryError> {
        let mut select = inbox_event::Entity::find()
            .filter(inbox_event::Column::ProcessedAt.is_not_null())
            .filter(inbox_event::Column::Note.is_not_null());
        if let Some(after) = after {
            select = select.filter(inbox_event::Column::Id.gt(after));
        }
        let models = select
            .order_by_asc(inbox_event::Column::Id)
            .limit(u64::from(limit.clamp(1, MAX_SET_ASIDE_LIMIT)))
            .all(self.db.conn())
            .await
            .map_err(repository_error)?;
        Ok(models
            .into_iter()
            .filter_map(|model| {
                let note = model.note.clone()?;
                // An undecodable row is left out of this read, as documented on the port.
                let item = InboxItem::try_from(model).ok()?;
                Some(SetAsideEvent { item, note })
            })
            .collect())
    }

    async fn status(&self, id: i64) -> Result<Option<InboxStatus>, RepositoryError> {
        let Some(model) = inbox_event::Entity::find_by_id(id)
            .one(self.db.conn())
            .await
            .map_err(repository_error)?
        else {
            return Ok(None);
        };
        Ok(Some(match (model.processed_at, model.note.clone()) {
            (None, _) => InboxStatus::Pending,
            (Some(_), None) => InboxStatus::Applied,
            (Some(_), Some(note)) => match InboxItem::try_from(model) {
                Ok(item) => InboxStatus::SetAside(SetAsideEvent { item, note }),
                Err(_) => InboxStatus::Undecodable(note),
            },
        }))
    }

    async fn mark_processed(&self, id: i64, note: Option<String>) -> Result<(), RepositoryError> {
        self.settle_one(Settle::Processed { id, note }).await
    }

    async fn release(
        &self,
        id: i64,
        retry_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError> {
        self.settle_one(Settle::Release {
            id,
            retry_at,
            error: error.to_owned(),
        })
        .await
    }
}

impl SeaOrmEventInbox {
    async fn settle_one(&self, settle: Settle) -> Result<(), RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let settled = self
            .settle_on(&txn, std::slice::from_ref(&settle))
            .await?
            .pop()
            .unwrap_or(Ok(()));
        txn.commit().await.map_err(repository_error)?;
        settled
    }
}
