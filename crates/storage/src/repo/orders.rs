//! Invoice orders with their history, under optimistic concurrency.

use async_trait::async_trait;
use fapiao_domain::order::{Order, OrderState};
use fapiao_domain::ports::{
    Job, NewJob, OrderFilter, OrderPosition, OrderRepository, RepositoryError, StateCount,
};
use fapiao_domain::scenario::Scenario;
use fapiao_domain::webhook::events_since;
use fapiao_domain::{CardCode, CardId, OpenId, OrderKey, QrToken, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait, Query, SubQueryStatement};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, Condition, ConnectionTrait, DbBackend, DbErr, EntityTrait,
    PaginatorTrait, QueryFilter, QueryOrder, QuerySelect, QueryTrait, Set,
};

use crate::db::Database;
use crate::entity::{invoice_order, job as job_entity, order_history, webhook_event};
use crate::error::{corrupt, repository_error};

use super::jobs::{READY, insert_job, insert_jobs};

/// The most orders one `list` call returns, whatever the filter asks (a limit of 0 means 1, as
/// in the domain's in-memory fake).
pub const MAX_LIST_LIMIT: u32 = 500;

/// Orders on sea-orm: the aggregate as JSON in `invoice_orders.aggregate` beside the columns the
/// queries use, one `order_history` row per transition, and a `version` column checked and
/// bumped by every update (optimistic concurrency).
#[derive(Debug, Clone)]
pub struct SeaOrmOrderRepository {
    db: Database,
    outbox: bool,
}

impl SeaOrmOrderRepository {
    /// A repository over `db`.
    pub fn new(db: Database) -> Self {
        Self { db, outbox: false }
    }

    /// With `on`, every stored history entry also writes its webhook event
    /// ([`fapiao_domain::webhook::events_since`]) to `webhook_events`, in the same transaction:
    /// the outbox [`crate::SeaOrmWebhookOutbox`] delivers. Off (the default) when no endpoint is
    /// configured, so nothing accumulates.
    #[must_use]
    pub fn with_webhook_outbox(mut self, on: bool) -> Self {
        self.outbox = on;
        self
    }
}

/// Rows strictly past `position` in the listing's order, (updated_at, s_pappid, order_id)
/// ascending or descending: the keyset condition of a page after `position`.
impl SeaOrmOrderRepository {
    /// The `WHERE` of `filter`'s conditions (not its paging).
    fn conditions(&self, filter: &OrderFilter) -> Condition {
        let mut all = Condition::all();
        if let Some(state) = filter.state {
            all = all.add(invoice_order::Column::State.eq(state.code()));
        }
        if let Some(scenario) = filter.scenario {
            all = all.add(invoice_order::Column::Scenario.eq(scenario.code()));
        }
        if let Some(before) = filter.updated_before {
            all = all.add(invoice_order::Column::UpdatedAt.lt(before.millis()));
        }
        if let Some(after) = filter.updated_after {
            all = all.add(invoice_order::Column::UpdatedAt.gt(after.millis()));
        }
        if let Some(seller) = &filter.seller {
            all = all.add(invoice_order::Column::Seller.eq(seller.as_str()));
        }
        if let Some(from) = filter.created_from {
            all = all.add(invoice_order::Column::CreatedAt.gte(from.millis()));
        }
        if let Some(before) = filter.created_before {
            all = all.add(invoice_order::Column::CreatedAt.lt(before.millis()));
        }
        if let Some(text) = &filter.text {
            // A plain substring, case-sensitive on both databases (SQLite's LIKE ignores ASCII
            // case and both treat `%` and `_` as wildcards).
            let sql = match self.db.db_backend() {
                DbBackend::Postgres => "(strpos(order_id, $1) > 0 OR strpos(aggregate, $2) > 0)",
                _ => "(instr(order_id, ?) > 0 OR instr(aggregate, ?) > 0)",
            };
            all = all.add(Expr::cust_with_values(sql, [text.clone(), text.clone()]));
        }
        all
    }
}

fn past(position: &OrderPosition, ascending: bool) -> Condition {
    let at = position.updated_at.millis();
    let pappid = position.key.s_pappid.as_str();
    let id = position.key.order_id.as_str();
    let (updated, pappid_past, id_past) = if ascending {
        (
            invoice_order::Column::UpdatedAt.gt(at),
            invoice_order::Column::SPappid.gt(pappid),
            invoice_order::Column::OrderId.gt(id),
        )
    } else {
        (
            invoice_order::Column::UpdatedAt.lt(at),
            invoice_order::Column::SPappid.lt(pappid),
            invoice_order::Column::OrderId.lt(id),
        )
    };
    Condition::any().add(updated).add(
        Condition::all()
            .add(invoice_order::Column::UpdatedAt.eq(at))
            .add(
                Condition::any().add(pappid_past).add(
                    Condition::all()
                        .add(invoice_order::Column::SPappid.eq(pappid))
                        .add(id_past),
                ),
            ),
    )
}

/// The row that stores `order` at its next version; the aggregate carries that version too, so
/// a loaded order equals the caller's after its `mark_saved`.
fn order_row(order: &Order) -> Result<invoice_order::ActiveModel, RepositoryError> {
    let mut stored = order.clone();
    stored.mark_saved();
    let version = stored.version();
    let aggregate =
        serde_json::to_string(&stored).map_err(|err| RepositoryError::Other(Box::new(err)))?;
    let card = order.card();
    Ok(invoice_order::ActiveModel {
        s_pappid: Set(order.key().s_pappid.as_str().to_owned()),
        order_id: Set(order.key().order_id.as_str().to_owned()),
        scenario: Set(order.scenario().code().to_owned()),
        state: Set(order.state().code().to_owned()),
        seller: Set(order.seller().as_str().to_owned()),
        money_fen: Set(order.money().get()),
        card_id: Set(card.map(|c| c.card_id.as_str().to_owned())),
        card_code: Set(card.and_then(|c| c.code.as_ref().map(|code| code.as_str().to_owned()))),
        qr_token: Set(order.qr_token().map(|t| t.as_str().to_owned())),
        aggregate: Set(aggregate),
        version: Set(to_i64(version)),
        created_at: Set(order.created_at().millis()),
        updated_at: Set(order.updated_at().millis()),
    })
}

fn to_i64(value: u64) -> i64 {
    i64::try_from(value).unwrap_or(i64::MAX)
}

impl TryFrom<invoice_order::Model> for Order {
    type Error = RepositoryError;

    fn try_from(model: invoice_order::Model) -> Result<Self, Self::Error> {
        let order: Order = serde_json::from_str(&model.aggregate)
            .map_err(|err| corrupt("invoice_orders.aggregate", err))?;
        let version = u64::try_from(model.version)
            .map_err(|_| corrupt("invoice_orders.version", model.version))?;
        if order.version() != version
            || order.key().s_pappid.as_str() != model.s_pappid
            || order.key().order_id.as_str() != model.order_id
        {
            return Err(corrupt(
                "invoice_orders.aggregate",
                format!(
                    "order {}/{} v{} does not match its row v{version}",
                    model.s_pappid,
                    model.order_id,
                    order.version()
                ),
            ));
        }
        Ok(order)
    }
}

fn history_rows(order: &Order, after_seq: i64) -> Vec<order_history::ActiveModel> {
    order
        .history()
        .iter()
        .filter(|entry| i64::from(entry.seq) > after_seq)
        .map(|entry| order_history::ActiveModel {
            s_pappid: Set(order.key().s_pappid.as_str().to_owned()),
            order_id: Set(order.key().order_id.as_str().to_owned()),
            seq: Set(i64::from(entry.seq)),
            from_state: Set(entry.from.map(|s| s.code().to_owned())),
            to_state: Set(entry.to.code().to_owned()),
            cause: Set(entry.cause.clone()),
            at: Set(entry.at.millis()),
        })
        .collect()
}

fn key_filter<Q: QueryFilter>(
    query: Q,
    key: &OrderKey,
    s_pappid: impl ColumnTrait,
    order_id: impl ColumnTrait,
) -> Q {
    query
        .filter(s_pappid.eq(key.s_pappid.as_str()))
        .filter(order_id.eq(key.order_id.as_str()))
}

/// The outbox rows of `order`'s history entries after `after_seq`.
fn event_rows(
    order: &Order,
    after_seq: i64,
) -> Result<Vec<webhook_event::ActiveModel>, RepositoryError> {
    let after = u32::try_from(Ord::max(after_seq, 0)).unwrap_or(u32::MAX);
    let now = super::wall_clock_millis();
    events_since(order, after)
        .into_iter()
        .map(|event| {
            let data = serde_json::to_string(&event.data)
                .map_err(|err| RepositoryError::Other(Box::new(err)))?;
            Ok(webhook_event::ActiveModel {
                id: sea_orm::ActiveValue::NotSet,
                s_pappid: Set(event.key.s_pappid.as_str().to_owned()),
                order_id: Set(event.key.order_id.as_str().to_owned()),
                seq: Set(i64::from(event.sequence)),
                event_type: Set(event.event_type.code().to_owned()),
                data: Set(data),
                occurred_at: Set(event.at.millis()),
                spread: Set(0),
                created_at: Set(now),
            })
        })
        .collect()
}

async fn insert_events<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<webhook_event::ActiveModel>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    webhook_event::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

async fn insert_history<C: ConnectionTrait>(
    conn: &C,
    rows: Vec<order_history::ActiveModel>,
) -> Result<(), DbErr> {
    if rows.is_empty() {
        return Ok(());
    }
    order_history::Entity::insert_many(rows)
        .exec_without_returning(conn)
        .await?;
    Ok(())
}

impl SeaOrmOrderRepository {
    async fn find_one(
        &self,
        select: sea_orm::Select<invoice_order::Entity>,
    ) -> Result<Option<Order>, RepositoryError> {
        select
            .one(self.db.conn())
            .await
            .map_err(repository_error)?
            .map(Order::try_from)
            .transpose()
    }
}

impl SeaOrmOrderRepository {
    /// The version-checked update, optionally completing the job that caused it, in one
    /// transaction.
    /// With `chain` (now, lease until) and `done`, the first job due at `now` is inserted
    /// leased to `done`'s worker and answered.
    async fn save(
        &self,
        order: &Order,
        jobs: &[NewJob],
        done: Option<(&Job, &str)>,
        chain: Option<(Timestamp, Timestamp)>,
    ) -> Result<Option<Job>, RepositoryError> {
        let expected = order.version();
        let mut row = order_row(order)?;
        // The key is the filter, not something to set.
        row.s_pappid = sea_orm::ActiveValue::NotSet;
        row.order_id = sea_orm::ActiveValue::NotSet;
        row.created_at = sea_orm::ActiveValue::NotSet;
        // One statement: the version-checked update, answering the highest history entry
        // already stored (what is after it is new).
        let key = order.key();
        let stored_max = Query::select()
            .expr(Expr::col((order_history::Entity, order_history::Column::Seq)).max())
            .from(order_history::Entity)
            .and_where(
                Expr::col((order_history::Entity, order_history::Column::SPappid))
                    .eq(key.s_pappid.as_str()),
            )
            .and_where(
                Expr::col((order_history::Entity, order_history::Column::OrderId))
                    .eq(key.order_id.as_str()),
            )
            .to_owned();
        let mut update = key_filter(
            invoice_order::Entity::update_many().set(row),
            key,
            invoice_order::Column::SPappid,
            invoice_order::Column::OrderId,
        )
        .filter(invoice_order::Column::Version.eq(to_i64(expected)))
        .into_query();
        update.returning(
            Query::returning().expr(Expr::from(SubQueryStatement::SelectStatement(stored_max))),
        );
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let updated = txn
            .query_one_raw(self.db.db_backend().build(&update))
            .await
            .map_err(repository_error)?;
        let Some(updated) = updated else {
            let exists = key_filter(
                invoice_order::Entity::find(),
                key,
                invoice_order::Column::SPappid,
                invoice_order::Column::OrderId,
            )
            .one(&txn)
            .await
            .map_err(repository_error)?
            .is_some();
            // Dropping the transaction rolls it back: nothing was written.
            return Err(if exists {
                RepositoryError::StaleVersion { expected }
            } else {
                RepositoryError::NotFound(format!("order {}", key.order_id))
            });
        };
        let stored_seq: Option<i64> = updated.try_get_by_index(0).map_err(repository_error)?;
        let stored_seq = stored_seq.unwrap_or(i64::MIN);
        insert_history(&txn, history_rows(order, stored_seq))
            .await
            .map_err(repository_error)?;
        if self.outbox {
            insert_events(&txn, event_rows(order, stored_seq)?)
                .await
                .map_err(repository_error)?;
        }
        // With `chain`, the first job due now goes to the completing worker, leased.
        let chained = match (chain, done) {
            (Some((now, lease_until)), Some((_, worker))) => jobs
                .iter()
                .position(|job| job.run_at <= now)
                .map(|at| (at, worker, lease_until)),
            _ => None,
        };
        let mut leased = None;
        for (i, job) in jobs.iter().enumerate() {
            let lease = chained
                .filter(|(at, ..)| *at == i)
                .map(|(_, worker, until)| (worker, until));
            let id = insert_job(&txn, job, lease)
                .await
                .map_err(repository_error)?;
            if let Some((_, lease_until)) = lease {
                leased = Some(Job {
                    id,
                    order: job.order.clone(),
                    command: job.command.clone(),
                    attempts: 0,
                    lease_until,
                    last_error: None,
                });
            }
        }
        if let Some((job, worker)) = done {
            // The fence: no row deleted means the lease passed to another worker. Returning
            // drops the transaction, so the order change is rolled back with it.
            let deleted = job_entity::Entity::delete_many()
                .filter(job_entity::Column::Id.eq(job.id.0))
                .filter(job_entity::Column::Status.eq(READY))
                .filter(job_entity::Column::LeaseOwner.eq(worker))
                .filter(job_entity::Column::LeaseUntil.eq(job.lease_until.millis()))
                .exec(&txn)
                .await
                .map_err(repository_error)?;
            if deleted.rows_affected == 0 {
                return Err(RepositoryError::LeaseLost(format!(
                    "job {} is no longer held by {worker}",
                    job.id.0
                )));
            }
        }
        txn.commit().await.map_err(repository_error)?;
        Ok(leased)
    }
}

#[async_trait]
impl OrderRepository for SeaOrmOrderRepository {
    async fn insert(&self, order: &Order, jobs: &[NewJob]) -> Result<(), RepositoryError> {
        let row = order_row(order)?;
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        row.insert(&txn)
            .await
            .map_err(|err| match repository_error(err) {
                RepositoryError::Conflict(_) => {
                    RepositoryError::Conflict(format!("order {}", order.key().order_id))
                }
                other => other,
            })?;
        insert_history(&txn, history_rows(order, i64::MIN))
            .await
            .map_err(repository_error)?;
        if self.outbox {
            insert_events(&txn, event_rows(order, i64::MIN)?)
                .await
                .map_err(repository_error)?;
        }
        insert_jobs(&txn, jobs).await.map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)
    }

    async fn get(&self, key: &OrderKey) -> Result<Option<Order>, RepositoryError> {
        self.find_one(invoice_order::Entity::find_by_id((
            key.s_pappid.as_str().to_owned(),
            key.order_id.as_str().to_owned(),
        )))
        .await
    }

    async fn find_by_card(
        &self,
        card_id: &CardId,
        code: &CardCode,
    ) -> Result<Option<Order>, RepositoryError> {
        self.find_one(
            invoice_order::Entity::find()
                .filter(invoice_order::Column::CardId.eq(card_id.as_str()))
                .filter(invoice_order::Column::CardCode.eq(code.as_str())),
        )
        .await
    }

    async fn find_by_unknown_card(
        &self,
        card_id: &CardId,
        openid: &OpenId,
    ) -> Result<Vec<Order>, RepositoryError> {
        // Few orders ever lack their card code; the buyer is matched in the aggregate.
        let models = invoice_order::Entity::find()
            .filter(invoice_order::Column::CardId.eq(card_id.as_str()))
            .filter(invoice_order::Column::CardCode.is_null())
            .order_by_asc(invoice_order::Column::OrderId)
            .all(self.db.conn())
            .await
            .map_err(repository_error)?;
        let mut found = Vec::new();
        for model in models {
            let order = Order::try_from(model)?;
            if order
                .card()
                .is_some_and(|c| c.code.is_none() && c.openid.as_ref() == Some(openid))
            {
                found.push(order);
            }
        }
        Ok(found)
    }

    async fn find_by_qr_token(&self, token: &QrToken) -> Result<Option<Order>, RepositoryError> {
        self.find_one(
            invoice_order::Entity::find().filter(invoice_order::Column::QrToken.eq(token.as_str())),
        )
        .await
    }

    async fn update(&self, order: &Order, jobs: &[NewJob]) -> Result<(), RepositoryError> {
        self.save(order, jobs, None, None).await.map(|_| ())
    }

    async fn update_completing(
        &self,
        order: &Order,
        jobs: &[NewJob],
        done: &Job,
        worker: &str,
    ) -> Result<(), RepositoryError> {
        self.save(order, jobs, Some((done, worker)), None)
            .await
            .map(|_| ())
    }

    async fn update_completing_chained(
        &self,
        order: &Order,
        jobs: &[NewJob],
        done: &Job,
        worker: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Option<Job>, RepositoryError> {
        self.save(order, jobs, Some((done, worker)), Some((now, lease_until)))
            .await
    }

    async fn list(&self, filter: &OrderFilter) -> Result<Vec<Order>, RepositoryError> {
        let mut select = invoice_order::Entity::find().filter(self.conditions(filter));
        if let Some(after) = &filter.after {
            select = select.filter(past(after, filter.oldest_first));
        }
        let order = if filter.oldest_first {
            sea_orm::Order::Asc
        } else {
            sea_orm::Order::Desc
        };
        select
            .order_by(invoice_order::Column::UpdatedAt, order.clone())
            .order_by(invoice_order::Column::SPappid, order.clone())
            .order_by(invoice_order::Column::OrderId, order)
            .limit(u64::from(filter.limit.clamp(1, MAX_LIST_LIMIT)))
            .all(self.db.conn())
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(Order::try_from)
            .collect()
    }

    async fn count(&self, filter: &OrderFilter) -> Result<u64, RepositoryError> {
        invoice_order::Entity::find()
            .filter(self.conditions(filter))
            .count(self.db.conn())
            .await
            .map_err(repository_error)
    }

    async fn count_by_state(&self) -> Result<Vec<StateCount>, RepositoryError> {
        let rows: Vec<(String, String, i64)> = invoice_order::Entity::find()
            .select_only()
            .column(invoice_order::Column::Scenario)
            .column(invoice_order::Column::State)
            .column_as(Expr::col(invoice_order::Column::OrderId).count(), "n")
            .group_by(invoice_order::Column::Scenario)
            .group_by(invoice_order::Column::State)
            .order_by_asc(invoice_order::Column::Scenario)
            .order_by_asc(invoice_order::Column::State)
            .into_tuple()
            .all(self.db.conn())
            .await
            .map_err(repository_error)?;
        let mut counts = rows
            .into_iter()
            .map(|(scenario, state, count)| {
                Ok(StateCount {
                    scenario: Scenario::parse(&scenario)
                        .map_err(|err| corrupt("invoice_orders.scenario", err))?,
                    state: OrderState::parse(&state).ok_or_else(|| {
                        corrupt("invoice_orders.state", format!("unknown state {state:?}"))
                    })?,
                    count: u64::try_from(count).unwrap_or(0),
                })
            })
            .collect::<Result<Vec<_>, RepositoryError>>()?;
        // Lifecycle order, as the domain's enums sort, not the codes' alphabetical order.
        counts.sort_by_key(|c| (c.scenario, c.state));
        Ok(counts)
    }
}
