//! The webhook outbox: events written by [`super::SeaOrmOrderRepository`] in the transaction of
//! their change, spread into one delivery per subscribed endpoint, and handed out under a lease
//! in order per endpoint and order.

use std::collections::HashMap;

use async_trait::async_trait;
use fapiao_domain::Timestamp;
use fapiao_domain::ports::{
    AttemptOutcome, Delivery, DeliveryFilter, DeliveryRecord, DeliveryStatus, RepositoryError,
    Subscription, WebhookOutbox,
};
use fapiao_domain::webhook::EventType;
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{
    ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, QueryFilter, QueryOrder,
    QuerySelect, Set, Statement,
};

use crate::db::Database;
use crate::entity::{webhook_delivery, webhook_event};
use crate::error::{corrupt, repository_error};

use super::{from_u32, order_key, to_u32};

const PENDING: &str = "pending";
const DELIVERED: &str = "delivered";
const FAILED: &str = "failed";

/// The most deliveries one `list` call returns.
pub const MAX_DELIVERY_LIST: u32 = 500;

/// The webhook outbox on sea-orm (`webhook_events`, `webhook_deliveries`).
#[derive(Debug, Clone)]
pub struct SeaOrmWebhookOutbox {
    db: Database,
}

impl SeaOrmWebhookOutbox {
    /// An outbox over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

fn claim_statement(
    backend: DbBackend,
    worker: &str,
    limit: u32,
    now: Timestamp,
    lease_until: Timestamp,
) -> Statement {
    // Only the earliest pending delivery of each endpoint and order is eligible, so an endpoint
    // never gets an order's event before the ones preceding it; a leased one is still pending,
    // so the next waits for it. `SKIP LOCKED` lets PostgreSQL claimers pass each other.
    let lock = match backend {
        DbBackend::Postgres => "FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let sql = format!(
        "UPDATE webhook_deliveries SET lease_owner = $1, lease_until = $2 \
         WHERE id IN (\
           SELECT d.id FROM webhook_deliveries d \
           WHERE d.status = '{PENDING}' AND d.next_attempt_at <= $3 \
             AND (d.lease_until IS NULL OR d.lease_until <= $3) \
             AND NOT EXISTS (SELECT 1 FROM webhook_deliveries e \
               WHERE e.endpoint = d.endpoint AND e.s_pappid = d.s_pappid \
                 AND e.order_id = d.order_id AND e.status = '{PENDING}' AND e.seq < d.seq) \
           ORDER BY d.next_attempt_at, d.id LIMIT $4 {lock}) \
         RETURNING id, endpoint, event_id, event_type, s_pappid, order_id, seq, status, attempts, \
           next_attempt_at, lease_owner, lease_until, last_status, last_error, delivered_at, \
           created_at"
    );
    Statement::from_sql_and_values(
        backend,
        sql,
        [
            worker.into(),
            lease_until.millis().into(),
            now.millis().into(),
            i64::from(limit).into(),
        ],
    )
}

fn event_type(model_type: &str) -> Result<EventType, RepositoryError> {
    EventType::parse(model_type).ok_or_else(|| corrupt("webhook_deliveries.event_type", model_type))
}

fn sequence(seq: i64) -> Result<u32, RepositoryError> {
    u32::try_from(seq).map_err(|_| corrupt("webhook_deliveries.seq", seq))
}

impl TryFrom<webhook_delivery::Model> for DeliveryRecord {
    type Error = RepositoryError;

    fn try_from(m: webhook_delivery::Model) -> Result<Self, Self::Error> {
        let status = DeliveryStatus::parse(&m.status)
            .ok_or_else(|| corrupt("webhook_deliveries.status", &m.status))?;
        Ok(DeliveryRecord {
            id: m.id,
            event_id: m.event_id,
            event_type: event_type(&m.event_type)?,
            key: order_key(&m.s_pappid, &m.order_id)?,
            sequence: sequence(m.seq)?,
            status,
            attempts: to_u32("webhook_deliveries.attempts", m.attempts)?,
            next_attempt_at: (status == DeliveryStatus::Pending)
                .then(|| Timestamp::from_millis(m.next_attempt_at)),
            last_status: m.last_status.and_then(|s| u16::try_from(s).ok()),
            last_error: m.last_error,
            delivered_at: m.delivered_at.map(Timestamp::from_millis),
            created_at: Timestamp::from_millis(m.created_at),
            endpoint: m.endpoint,
        })
    }
}

/// `RecordNotInserted` from an insert whose rows all hit `ON CONFLICT DO NOTHING` is success.
fn ignore_not_inserted(res: Result<u64, DbErr>) -> Result<(), DbErr> {
    match res {
        Ok(_) | Err(DbErr::RecordNotInserted) => Ok(()),
        Err(err) => Err(err),
    }
}

impl SeaOrmWebhookOutbox {
    /// Marks the claimed delivery `id` failed with why it does not decode; a failure here is
    /// only logged (the lease ends and the next claim tries again).
    async fn give_up_undecodable(
        &self,
        id: i64,
        worker: &str,
        lease_until: Timestamp,
        err: &RepositoryError,
    ) {
        tracing::error!(delivery = id, error = %err, "webhook delivery given up: it does not decode");
        let txn = match self.db.begin_write().await {
            Ok(txn) => txn,
            Err(e) => {
                tracing::error!(delivery = id, error = %e, "giving up an undecodable webhook delivery failed");
                return;
            }
        };
        let res = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Status, Expr::value(FAILED))
            .col_expr(
                webhook_delivery::Column::LastError,
                Expr::value(Some(format!("undecodable delivery row: {err}"))),
            )
            .col_expr(
                webhook_delivery::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                webhook_delivery::Column::LeaseUntil,
                Expr::value(Option::<i64>::None),
            )
            .filter(webhook_delivery::Column::Id.eq(id))
            .filter(webhook_delivery::Column::LeaseOwner.eq(worker))
            .filter(webhook_delivery::Column::LeaseUntil.eq(lease_until.millis()))
            .exec(&txn)
            .await;
        let res = match res {
            Ok(_) => txn.commit().await,
            Err(e) => Err(e),
        };
        if let Err(e) = res {
            tracing::error!(delivery = id, error = %e, "giving up an undecodable webhook delivery failed");
        }
    }
}

#[async_trait]
impl WebhookOutbox for SeaOrmWebhookOutbox {
    async fn fan_out(
        &self,
        subscriptions: &[Subscription],
        now: Timestamp,
        limit: u32,
    ) -> Result<u32, RepositoryError> {
        if limit == 0 {
            return Ok(0);
        }
        // A read first: an idle outbox never takes the write lock.
        let events = webhook_event::Entity::find()
            .filter(webhook_event::Column::Spread.eq(0))
            .order_by_asc(webhook_event::Column::Id)
            .limit(u64::from(limit))
            .all(self.db.conn())
            .await
            .map_err(repository_error)?;
        if events.is_empty() {
            return Ok(0);
        }
        let mut rows = Vec::new();
        for event in &events {
            // An event of a type this version does not know (written by a newer one) gets no
            // delivery: this version could not hand it out.
            let known = EventType::parse(&event.event_type);
            for sub in subscriptions {
                if known.is_some_and(|t| sub.events.includes(t)) {
                    rows.push(webhook_delivery::ActiveModel {
                        id: sea_orm::ActiveValue::NotSet,
                        endpoint: Set(sub.endpoint.clone()),
                        event_id: Set(event.id),
                        event_type: Set(event.event_type.clone()),
                        s_pappid: Set(event.s_pappid.clone()),
                        order_id: Set(event.order_id.clone()),
                        seq: Set(event.seq),
                        status: Set(PENDING.to_owned()),
                        attempts: Set(0),
                        next_attempt_at: Set(now.millis()),
                        lease_owner: Set(None),
                        lease_until: Set(None),
                        last_status: Set(None),
                        last_error: Set(None),
                        delivered_at: Set(None),
                        created_at: Set(now.millis()),
                    });
                }
            }
        }
        let ids: Vec<i64> = events.iter().map(|e| e.id).collect();
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        for chunk in rows.chunks(256) {
            let res = webhook_delivery::Entity::insert_many(chunk.to_vec())
                .on_conflict(
                    OnConflict::columns([
                        webhook_delivery::Column::Endpoint,
                        webhook_delivery::Column::EventId,
                    ])
                    .do_nothing()
                    .to_owned(),
                )
                .exec_without_returning(&txn)
                .await;
            ignore_not_inserted(res).map_err(repository_error)?;
        }
        webhook_event::Entity::update_many()
            .col_expr(webhook_event::Column::Spread, Expr::value(1i16))
            .filter(webhook_event::Column::Id.is_in(ids))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        Ok(u32::try_from(events.len()).unwrap_or(u32::MAX))
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Delivery>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        // A read first, as in `fan_out`: the delivery loop polls every few hundred
        // milliseconds, and an idle outbox must not queue a write on SQLite's one writer.
        let due = webhook_delivery::Entity::find()
            .filter(webhook_delivery::Column::Status.eq(PENDING))
            .filter(webhook_delivery::Column::NextAttemptAt.lte(now.millis()))
            .filter(
                sea_orm::Condition::any()
                    .add(webhook_delivery::Column::LeaseUntil.is_null())
                    .add(webhook_delivery::Column::LeaseUntil.lte(now.millis())),
            )
            .one(self.db.conn())
            .await
            .map_err(repository_error)?;
        if due.is_none() {
            return Ok(Vec::new());
        }
        let stmt = claim_statement(self.db.db_backend(), worker, limit, now, lease_until);
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let mut models = webhook_delivery::Entity::find()
            .from_raw_sql(stmt)
            .all(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        if models.is_empty() {
            return Ok(Vec::new());
        }
        models.sort_by_key(|m| (m.next_attempt_at, m.id));
        let event_ids: Vec<i64> = models.iter().map(|m| m.event_id).collect();
        let events: HashMap<i64, webhook_event::Model> = webhook_event::Entity::find()
            .filter(webhook_event::Column::Id.is_in(event_ids))
            .all(self.db.conn())
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(|e| (e.id, e))
            .collect();
        let mut deliveries = Vec::with_capacity(models.len());
        for m in models {
            let id = m.id;
            let decoded = events
                .get(&m.event_id)
                .ok_or_else(|| corrupt("webhook_deliveries.event_id", m.event_id))
                .and_then(|event| {
                    Ok(Delivery {
                        id: m.id,
                        event_id: m.event_id,
                        event_type: event_type(&m.event_type)?,
                        key: order_key(&m.s_pappid, &m.order_id)?,
                        sequence: sequence(m.seq)?,
                        data: event.data.clone(),
                        occurred_at: Timestamp::from_millis(event.occurred_at),
                        attempts: to_u32("webhook_deliveries.attempts", m.attempts)?,
                        created_at: Timestamp::from_millis(m.created_at),
                        lease_until,
                        endpoint: m.endpoint,
                    })
                });
            match decoded {
                Ok(delivery) => deliveries.push(delivery),
                // One row that no longer decodes must not hold back the others (nor its
                // order's later events): it is given up with the reason, under this claim.
                Err(err) => {
                    self.give_up_undecodable(id, worker, lease_until, &err)
                        .await
                }
            }
        }
        Ok(deliveries)
    }

    async fn record(
        &self,
        delivery: &Delivery,
        worker: &str,
        outcome: &AttemptOutcome,
    ) -> Result<(), RepositoryError> {
        let attempts = from_u32(delivery.attempts.saturating_add(1));
        let mut update = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(attempts))
            .col_expr(
                webhook_delivery::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                webhook_delivery::Column::LeaseUntil,
                Expr::value(Option::<i64>::None),
            );
        update = match outcome {
            AttemptOutcome::Delivered { status, at } => update
                .col_expr(webhook_delivery::Column::Status, Expr::value(DELIVERED))
                .col_expr(
                    webhook_delivery::Column::LastStatus,
                    Expr::value(Some(i32::from(*status))),
                )
                .col_expr(
                    webhook_delivery::Column::LastError,
                    Expr::value(Option::<String>::None),
                )
                .col_expr(
                    webhook_delivery::Column::DeliveredAt,
                    Expr::value(Some(at.millis())),
                ),
            AttemptOutcome::Failed {
                status,
                error,
                next_attempt_at,
            } => {
                let update = update
                    .col_expr(
                        webhook_delivery::Column::LastStatus,
                        Expr::value(status.map(i32::from)),
                    )
                    .col_expr(
                        webhook_delivery::Column::LastError,
                        Expr::value(Some(error.clone())),
                    );
                match next_attempt_at {
                    Some(next) => update.col_expr(
                        webhook_delivery::Column::NextAttemptAt,
                        Expr::value(next.millis()),
                    ),
                    None => update.col_expr(webhook_delivery::Column::Status, Expr::value(FAILED)),
                }
            }
        };
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let res = update
            .filter(webhook_delivery::Column::Id.eq(delivery.id))
            .filter(webhook_delivery::Column::Status.eq(PENDING))
            .filter(webhook_delivery::Column::LeaseOwner.eq(worker))
            .filter(webhook_delivery::Column::LeaseUntil.eq(delivery.lease_until.millis()))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        if res.rows_affected == 0 {
            return Err(RepositoryError::LeaseLost(format!(
                "webhook delivery {} is no longer held by {worker}",
                delivery.id
            )));
        }
        Ok(())
    }

    async fn list(&self, filter: &DeliveryFilter) -> Result<Vec<DeliveryRecord>, RepositoryError> {
        let mut query = webhook_delivery::Entity::find();
        if let Some(endpoint) = &filter.endpoint {
            query = query.filter(webhook_delivery::Column::Endpoint.eq(endpoint.as_str()));
        }
        if let Some(key) = &filter.order {
            query = query
                .filter(webhook_delivery::Column::SPappid.eq(key.s_pappid.as_str()))
                .filter(webhook_delivery::Column::OrderId.eq(key.order_id.as_str()));
        }
        if let Some(status) = filter.status {
            query = query.filter(webhook_delivery::Column::Status.eq(status.code()));
        }
        if let Some(before) = filter.before_id {
            query = query.filter(webhook_delivery::Column::Id.lt(before));
        }
        query
            .order_by_desc(webhook_delivery::Column::Id)
            .limit(u64::from(filter.limit.clamp(1, MAX_DELIVERY_LIST)))
            .all(self.db.conn())
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(DeliveryRecord::try_from)
            .collect()
    }

    async fn redeliver(&self, id: i64, now: Timestamp) -> Result<bool, RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let res = webhook_delivery::Entity::update_many()
            .col_expr(webhook_delivery::Column::Status, Expr::value(PENDING))
            .col_expr(webhook_delivery::Column::Attempts, Expr::value(0i32))
            .col_expr(
                webhook_delivery::Column::NextAttemptAt,
                Expr::value(now.millis()),
            )
            .col_expr(
                webhook_delivery::Column::CreatedAt,
                Expr::value(now.millis()),
            )
            .col_expr(
                webhook_delivery::Column::LeaseOwner,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                webhook_delivery::Column::LeaseUntil,
                Expr::value(Option::<i64>::None),
            )
            .filter(webhook_delivery::Column::Id.eq(id))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        Ok(res.rows_affected > 0)
    }

    async fn purge(&self, before: Timestamp) -> Result<u64, RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let deliveries = webhook_delivery::Entity::delete_many()
            .filter(webhook_delivery::Column::Status.is_in([DELIVERED, FAILED]))
            .filter(webhook_delivery::Column::CreatedAt.lt(before.millis()))
            .exec(&txn)
            .await
            .map_err(repository_error)?
            .rows_affected;
        let events = txn
            .execute_raw(Statement::from_sql_and_values(
                self.db.db_backend(),
                "DELETE FROM webhook_events WHERE spread = 1 AND created_at < $1 \
                 AND NOT EXISTS (SELECT 1 FROM webhook_deliveries d WHERE d.event_id = webhook_events.id)",
                [before.millis().into()],
            ))
            .await
            .map_err(repository_error)?
            .rows_affected();
        txn.commit().await.map_err(repository_error)?;
        Ok(deliveries + events)
    }

    async fn count_by_status(&self) -> Result<Vec<(DeliveryStatus, u64)>, RepositoryError> {
        let rows: Vec<(String, i64)> = webhook_delivery::Entity::find()
            .select_only()
            .column(webhook_delivery::Column::Status)
            .column_as(Expr::col(webhook_delivery::Column::Id).count(), "n")
            .group_by(webhook_delivery::Column::Status)
            .into_tuple()
            .all(self.db.conn())
            .await
            .map_err(repository_error)?;
        rows.into_iter()
            .map(|(status, n)| {
                let status = DeliveryStatus::parse(&status)
                    .ok_or_else(|| corrupt("webhook_deliveries.status", &status))?;
                Ok((status, u64::try_from(n).unwrap_or(0)))
            })
            .collect()
    }
}
