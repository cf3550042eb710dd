//! The sandbox tax issuer's ledger, so its records survive a restart.
//!
//! No domain port covers this; the sandbox issuer and the composition root use it directly.

use fapiao_domain::ports::RepositoryError;
use sea_orm::sea_query::{Expr, ExprTrait};
use sea_orm::{ColumnTrait, EntityTrait, QueryFilter, Set};

use crate::db::Database;
use crate::entity::sandbox_ledger;
use crate::error::{corrupt, repository_error};

use super::wall_clock_millis;

/// One sandbox issuer record.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LedgerRow {
    /// The idempotency key; at most 64 characters.
    pub key: String,
    /// The issuer's record as JSON; storage never looks inside.
    pub record: String,
    /// How many more polls report "issuing" before the record counts as issued.
    pub polls_until_issued: u32,
}

impl TryFrom<sandbox_ledger::Model> for LedgerRow {
    type Error = RepositoryError;

    fn try_from(model: sandbox_ledger::Model) -> Result<Self, Self::Error> {
        let polls_until_issued = u32::try_from(model.polls_until_issued).map_err(|_| {
            corrupt(
                "sandbox_ledger.polls_until_issued",
                model.polls_until_issued,
            )
        })?;
        Ok(LedgerRow {
            key: model.idem_key,
            record: model.record,
            polls_until_issued,
        })
    }
}

/// The sandbox ledger on sea-orm (`sandbox_ledger`), one row per idempotency key.
///
/// Every method is one statement, so each is atomic on both databases without a transaction.
#[derive(Debug, Clone)]
pub struct SeaOrmSandboxLedgerStore {
    db: Database,
}

impl SeaOrmSandboxLedgerStore {
    /// A store over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// The row for `key`, if any.
    ///
    /// # Errors
    /// As for the persistence ports.
    pub async fn get(&self, key: &str) -> Result<Option<LedgerRow>, RepositoryError> {
        sandbox_ledger::Entity::find_by_id(key.to_owned())
            .one(self.db.conn())
            .await
            .map_err(repository_error)?
            .map(LedgerRow::try_from)
            .transpose()
    }

    /// Stores a new row.
    ///
    /// # Errors
    /// [`RepositoryError::Conflict`] when a row with this key exists (which is left as it was);
    /// a key longer than 64 characters is refused by the database (`Other`); otherwise as for
    /// the persistence ports.
    pub async fn insert(&self, row: &LedgerRow) -> Result<(), RepositoryError> {
        let now = wall_clock_millis();
        let model = sandbox_ledger::ActiveModel {
            idem_key: Set(row.key.clone()),
            record: Set(row.record.clone()),
            polls_until_issued: Set(i64::from(row.polls_until_issued)),
            created_at: Set(now),
            updated_at: Set(now),
        };
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        sandbox_ledger::Entity::insert(model)
            .exec_without_returning(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)
    }

    /// Counts one poll: lowers `polls_until_issued` by one, never below zero, and returns the
    /// updated row; `None` when there is no row for `key`.
    ///
    /// One `UPDATE … RETURNING`, so concurrent polls each count once.
    ///
    /// # Errors
    /// As for the persistence ports.
    pub async fn count_poll(&self, key: &str) -> Result<Option<LedgerRow>, RepositoryError> {
        let polls = Expr::col(sandbox_ledger::Column::PollsUntilIssued);
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let updated = sandbox_ledger::Entity::update_many()
            .col_expr(
                sandbox_ledger::Column::PollsUntilIssued,
                Expr::case(polls.clone().gt(0), polls.sub(1))
                    .finally(0)
                    .into(),
            )
            .col_expr(
                sandbox_ledger::Column::UpdatedAt,
                Expr::value(wall_clock_millis()),
            )
            .filter(sandbox_ledger::Column::IdemKey.eq(key))
            .exec_with_returning(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        // The key is the primary key, so at most one row matched.
        updated
            .into_iter()
            .next()
            .map(LedgerRow::try_from)
            .transpose()
    }

    /// Every row, ordered by key (byte order, the same on both databases).
    ///
    /// # Errors
    /// As for the persistence ports.
    pub async fn all(&self) -> Result<Vec<LedgerRow>, RepositoryError> {
        let mut rows = sandbox_ledger::Entity::find()
            .all(self.db.conn())
            .await
            .map_err(repository_error)?
            .into_iter()
            .map(LedgerRow::try_from)
            .collect::<Result<Vec<_>, _>>()?;
        // Sorted here rather than by `ORDER BY`: PostgreSQL orders text by the database's
        // collation (e.g. `a` before `B` under en_US), SQLite by bytes.
        rows.sort_unstable_by(|a, b| a.key.cmp(&b.key));
        Ok(rows)
    }
}
