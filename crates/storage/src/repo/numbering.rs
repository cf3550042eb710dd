//! Gap-free numbering per series.

use async_trait::async_trait;
use fapiao_domain::ports::{InvoiceNumbering, RepositoryError};
use sea_orm::sea_query::{Expr, ExprTrait, OnConflict};
use sea_orm::{EntityTrait, Set};

use crate::db::Database;
use crate::entity::numbering_counter;
use crate::error::{corrupt, repository_error};

/// Numbering on sea-orm: one counter row per series, bumped by a single upsert.
///
/// The upsert (`INSERT … ON CONFLICT DO UPDATE SET last_value = last_value + 1 RETURNING`)
/// is atomic on both databases: PostgreSQL locks the row, SQLite holds its write lock, so
/// concurrent callers get consecutive numbers and a failed call consumes none. Unlike a
/// database sequence, a rolled-back transaction leaves no gap.
#[derive(Debug, Clone)]
pub struct SeaOrmInvoiceNumbering {
    db: Database,
}

impl SeaOrmInvoiceNumbering {
    /// Numbering over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

#[async_trait]
impl InvoiceNumbering for SeaOrmInvoiceNumbering {
    async fn next(&self, series: &str) -> Result<u64, RepositoryError> {
        let first = numbering_counter::ActiveModel {
            series: Set(series.to_owned()),
            last_value: Set(1),
        };
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let model = numbering_counter::Entity::insert(first)
            .on_conflict(
                OnConflict::column(numbering_counter::Column::Series)
                    .value(
                        numbering_counter::Column::LastValue,
                        Expr::col((
                            numbering_counter::Entity,
                            numbering_counter::Column::LastValue,
                        ))
                        .add(1),
                    )
                    .to_owned(),
            )
            .exec_with_returning(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        u64::try_from(model.last_value)
            .map_err(|_| corrupt("numbering_counters.last_value", model.last_value))
    }
}
