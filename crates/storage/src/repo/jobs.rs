//! The durable job queue.
//!
//! A job is a row in `jobs`: `ready` until completed (the row is deleted) or buried
//! (`dead`, kept for operators). Claiming sets a lease (`lease_owner`, `lease_until`); a job
//! whose lease has expired is due again, so a crashed worker's jobs are picked up by others.
//! Completing, retrying and burying are fenced by the claim (owner and lease end): a worker
//! whose lease expired and whose job was claimed again gets `NotFound` and must drop the result.
//!
//! Backoff and jitter are the caller's business: `retry` takes the next `run_at`, which the
//! workflow computes from its retry policy and a random source. The queue stays deterministic.

use async_trait::async_trait;
use fapiao_domain::ports::{Job, JobId, JobQueue, NewJob, PendingJob, RepositoryError};
use fapiao_domain::{OrderKey, Timestamp};
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{
    ActiveModelTrait, ColumnTrait, ConnectionTrait, DbBackend, DbErr, EntityTrait, PaginatorTrait,
    QueryFilter, QueryOrder, Set, Statement,
};

use crate::db::Database;
use crate::entity::job;
use crate::error::{corrupt, repository_error};

use super::{from_u32, order_key, to_u32, wall_clock_millis};

pub(super) const READY: &str = "ready";
const DEAD: &str = "dead";

/// The job queue on sea-orm: `FOR UPDATE SKIP LOCKED` on PostgreSQL, one atomic
/// `UPDATE … RETURNING` on SQLite (which has one writer at a time).
#[derive(Debug, Clone)]
pub struct SeaOrmJobQueue {
    db: Database,
}

impl SeaOrmJobQueue {
    /// A queue over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Number of buried (dead) jobs, for operators and metrics.
    ///
    /// # Errors
    /// As for the `JobQueue` port.
    pub async fn dead_count(&self) -> Result<u64, RepositoryError> {
        job::Entity::find()
            .filter(job::Column::Status.eq(DEAD))
            .count(self.db.conn())
            .await
            .map_err(repository_error)
    }
}

/// Inserts `jobs` on `conn`, inside the caller's transaction when it is one.
pub(crate) async fn insert_jobs<C: ConnectionTrait>(
    conn: &C,
    jobs: &[NewJob],
) -> Result<Vec<JobId>, DbErr> {
    let mut ids = Vec::with_capacity(jobs.len());
    for new_job in jobs {
        ids.push(insert_job(conn, new_job, None).await?);
    }
    Ok(ids)
}

/// Inserts one job; with `lease` (worker, until) already claimed by that worker.
pub(crate) async fn insert_job<C: ConnectionTrait>(
    conn: &C,
    new_job: &NewJob,
    lease: Option<(&str, Timestamp)>,
) -> Result<JobId, DbErr> {
    let now = wall_clock_millis();
    let payload =
        serde_json::to_string(&new_job.command).map_err(|err| DbErr::Json(err.to_string()))?;
    let model = job::ActiveModel {
        s_pappid: Set(new_job.order.s_pappid.as_str().to_owned()),
        order_id: Set(new_job.order.order_id.as_str().to_owned()),
        kind: Set(new_job.command.step().code().to_owned()),
        payload: Set(payload),
        status: Set(READY.to_owned()),
        attempts: Set(0),
        run_at: Set(new_job.run_at.millis()),
        lease_owner: Set(lease.map(|(worker, _)| worker.to_owned())),
        lease_until: Set(lease.map(|(_, until)| until.millis())),
        last_error: Set(None),
        created_at: Set(now),
        updated_at: Set(now),
        ..Default::default()
    }
    .insert(conn)
    .await?;
    Ok(JobId(model.id))
}

impl TryFrom<job::Model> for Job {
    type Error = RepositoryError;

    fn try_from(model: job::Model) -> Result<Self, Self::Error> {
        let lease_until = model
            .lease_until
            .ok_or_else(|| corrupt("jobs.lease_until", "a claimed job has no lease"))?;
        Ok(Job {
            id: JobId(model.id),
            order: order_key(&model.s_pappid, &model.order_id)?,
            command: serde_json::from_str(&model.payload)
                .map_err(|err| corrupt("jobs.payload", err))?,
            attempts: to_u32("jobs.attempts", model.attempts)?,
            lease_until: Timestamp::from_millis(lease_until),
            last_error: model.last_error,
        })
    }
}

fn claim_statement(
    backend: DbBackend,
    worker: &str,
    limit: u32,
    now: Timestamp,
    lease_until: Timestamp,
) -> Statement {
    // The inner SELECT picks due jobs; on PostgreSQL `SKIP LOCKED` lets concurrent claimers
    // pass over rows another transaction is claiming, and the re-check of the WHERE clause
    // after locking drops rows claimed meanwhile. SQLite runs the whole statement under its
    // single write lock, so two claimers are serialized.
    let lock = match backend {
        DbBackend::Postgres => "FOR UPDATE SKIP LOCKED",
        _ => "",
    };
    let sql = format!(
        "UPDATE jobs SET lease_owner = $1, lease_until = $2, updated_at = $3 \
         WHERE id IN (\
           SELECT id FROM jobs \
           WHERE status = '{READY}' AND run_at <= $3 \
             AND (lease_until IS NULL OR lease_until <= $3) \
           ORDER BY run_at, id LIMIT $4 {lock}) \
         RETURNING id, s_pappid, order_id, kind, payload, status, attempts, run_at, \
           lease_owner, lease_until, last_error, created_at, updated_at"
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

impl SeaOrmJobQueue {
    /// Buries the claimed row `id` that does not decode into a [`Job`], recording why.
    ///
    /// A failure here is only logged: the row stays leased, its lease expires, and the next
    /// claim after that tries again, while the rows that decode are handed out meanwhile.
    async fn bury_undecodable(
        &self,
        id: i64,
        worker: &str,
        lease_until: Timestamp,
        err: &RepositoryError,
    ) {
        let reason = format!("undecodable job row: {err}");
        tracing::error!(job = id, error = %err, "job row buried: it does not decode");
        let txn = match self.db.begin_write().await {
            Ok(txn) => txn,
            Err(err) => {
                tracing::warn!(job = id, error = %err, "undecodable job row not buried; retried after its lease");
                return;
            }
        };
        let res = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(DEAD))
            .col_expr(job::Column::LastError, Expr::value(reason))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(job::Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(job::Column::UpdatedAt, Expr::value(wall_clock_millis()))
            .filter(job::Column::Id.eq(id))
            .filter(job::Column::LeaseOwner.eq(worker))
            .filter(job::Column::LeaseUntil.eq(lease_until.millis()))
            .exec(&txn)
            .await;
        let res = match res {
            Ok(_) => txn.commit().await,
            Err(err) => Err(err),
        };
        if let Err(err) = res {
            tracing::warn!(job = id, error = %err, "undecodable job row not buried; retried after its lease");
        }
    }

    /// Updates the job if `worker` still holds the claim `job` came from; `NotFound` otherwise.
    async fn update_claimed(
        &self,
        job: &Job,
        worker: &str,
        update: sea_orm::UpdateMany<job::Entity>,
    ) -> Result<(), RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let res = update
            .filter(job::Column::Id.eq(job.id.0))
            .filter(job::Column::Status.eq(READY))
            .filter(job::Column::LeaseOwner.eq(worker))
            .filter(job::Column::LeaseUntil.eq(job.lease_until.millis()))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        if res.rows_affected == 0 {
            return Err(RepositoryError::LeaseLost(format!(
                "job {} is not claimed by {worker}",
                job.id.0
            )));
        }
        Ok(())
    }
}

#[async_trait]
impl JobQueue for SeaOrmJobQueue {
    async fn enqueue(&self, job: &NewJob) -> Result<JobId, RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let ids = insert_jobs(&txn, std::slice::from_ref(job))
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        ids.into_iter()
            .next()
            .ok_or_else(|| RepositoryError::Other("insert returned no job id".into()))
    }

    async fn claim(
        &self,
        worker: &str,
        limit: u32,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<Vec<Job>, RepositoryError> {
        if limit == 0 {
            return Ok(Vec::new());
        }
        let stmt = claim_statement(self.db.db_backend(), worker, limit, now, lease_until);
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let mut models = job::Entity::find()
            .from_raw_sql(stmt)
            .all(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        // RETURNING gives no order; hand jobs out oldest due first.
        models.sort_by_key(|m| (m.run_at, m.id));
        let mut jobs = Vec::with_capacity(models.len());
        for model in models {
            let id = model.id;
            match Job::try_from(model) {
                Ok(job) => jobs.push(job),
                // One row that no longer decodes must not hold back the others: it is buried
                // with the reason, under the claim just taken, and the rest go on.
                Err(err) => self.bury_undecodable(id, worker, lease_until, &err).await,
            }
        }
        Ok(jobs)
    }

    async fn complete(&self, job: &Job, worker: &str) -> Result<(), RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let res = job::Entity::delete_many()
            .filter(job::Column::Id.eq(job.id.0))
            .filter(job::Column::Status.eq(READY))
            .filter(job::Column::LeaseOwner.eq(worker))
            .filter(job::Column::LeaseUntil.eq(job.lease_until.millis()))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        if res.rows_affected == 0 {
            return Err(RepositoryError::LeaseLost(format!(
                "job {} is not claimed by {worker}",
                job.id.0
            )));
        }
        Ok(())
    }

    async fn renew(
        &self,
        job: &Job,
        worker: &str,
        lease_until: Timestamp,
    ) -> Result<(), RepositoryError> {
        let update = job::Entity::update_many()
            .col_expr(job::Column::LeaseUntil, Expr::value(lease_until.millis()))
            .col_expr(job::Column::UpdatedAt, Expr::value(wall_clock_millis()));
        self.update_claimed(job, worker, update).await
    }

    async fn retry(
        &self,
        job: &Job,
        worker: &str,
        run_at: Timestamp,
        error: &str,
    ) -> Result<(), RepositoryError> {
        let update = job::Entity::update_many()
            .col_expr(
                job::Column::Attempts,
                Expr::col(job::Column::Attempts).add(1),
            )
            .col_expr(job::Column::RunAt, Expr::value(run_at.millis()))
            .col_expr(job::Column::LastError, Expr::value(error))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(job::Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(job::Column::UpdatedAt, Expr::value(wall_clock_millis()));
        self.update_claimed(job, worker, update).await
    }

    async fn bury(&self, job: &Job, worker: &str, error: &str) -> Result<(), RepositoryError> {
        let update = job::Entity::update_many()
            .col_expr(job::Column::Status, Expr::value(DEAD))
            .col_expr(
                job::Column::Attempts,
                Expr::value(from_u32(job.attempts.saturating_add(1))),
            )
            .col_expr(job::Column::LastError, Expr::value(error))
            .col_expr(job::Column::LeaseOwner, Expr::value(Option::<String>::None))
            .col_expr(job::Column::LeaseUntil, Expr::value(Option::<i64>::None))
            .col_expr(job::Column::UpdatedAt, Expr::value(wall_clock_millis()));
        self.update_claimed(job, worker, update).await
    }

    async fn pending_count(&self) -> Result<u64, RepositoryError> {
        job::Entity::find()
            .filter(job::Column::Status.eq(READY))
            .count(self.db.conn())
            .await
            .map_err(repository_error)
    }

    async fn pending_for(&self, order: &OrderKey) -> Result<Vec<PendingJob>, RepositoryError> {
        let models = job::Entity::find()
            .filter(job::Column::SPappid.eq(order.s_pappid.as_str()))
            .filter(job::Column::OrderId.eq(order.order_id.as_str()))
            .filter(job::Column::Status.eq(READY))
            .order_by_asc(job::Column::RunAt)
            .order_by_asc(job::Column::Id)
            .all(self.db.conn())
            .await
            .map_err(repository_error)?;
        // A row that does not decode is buried by the next claim; the read shows the others.
        Ok(models
            .into_iter()
            .filter_map(|model| {
                Some(PendingJob {
                    command: serde_json::from_str(&model.payload).ok()?,
                    attempts: u32::try_from(model.attempts).ok()?,
                    last_error: model.last_error,
                    run_at: Timestamp::from_millis(model.run_at),
                })
            })
            .collect())
    }
}
