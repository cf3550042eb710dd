//! The shared token cache and its refresh lease.

use async_trait::async_trait;
use fapiao_domain::ports::{CachedToken, RepositoryError, TokenCache};
use fapiao_domain::{Secret, Timestamp};
use sea_orm::sea_query::{Expr, OnConflict};
use sea_orm::{ColumnTrait, ConnectionTrait, EntityTrait, QueryFilter, Set, Statement};

use crate::db::Database;
use crate::entity::token_cache;
use crate::error::repository_error;

use super::wall_clock_millis;

/// The token cache on sea-orm, one row per key.
///
/// The refresh lease is a conditional upsert: it is taken only when nobody holds it, the
/// holder's lease has run out, or the holder asks again (which extends it). PostgreSQL and
/// SQLite both lock the row for the upsert, so two instances never both get `true`.
#[derive(Debug, Clone)]
pub struct SeaOrmTokenCache {
    db: Database,
}

impl SeaOrmTokenCache {
    /// A cache over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }

    /// Forgets every cached token, ticket and refresh lease, returning how many rows went;
    /// for a Weixin (such as a fresh sandbox) that no longer knows what it issued.
    ///
    /// # Errors
    /// As for the `TokenCache` port.
    pub async fn clear(&self) -> Result<u64, RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let res = token_cache::Entity::delete_many()
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        Ok(res.rows_affected)
    }

    /// Forgets the tokens, tickets and leases whose key starts with `prefix` (e.g. only
    /// Weixin's, `fapiao:weixin:`, leaving a tax platform's scarce tokens be).
    ///
    /// # Errors
    /// As for the `TokenCache` port.
    pub async fn clear_prefix(&self, prefix: &str) -> Result<u64, RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let res = token_cache::Entity::delete_many()
            .filter(token_cache::Column::CacheKey.starts_with(prefix))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        Ok(res.rows_affected)
    }
}

#[async_trait]
impl TokenCache for SeaOrmTokenCache {
    async fn get(&self, key: &str) -> Result<Option<CachedToken>, RepositoryError> {
        let model = token_cache::Entity::find_by_id(key.to_owned())
            .one(self.db.conn())
            .await
            .map_err(repository_error)?;
        Ok(model.and_then(|m| match (m.value, m.expires_at) {
            (Some(value), Some(expires_at)) => Some(CachedToken {
                value: Secret::new(value),
                expires_at: Timestamp::from_millis(expires_at),
            }),
            // A row holding only a refresh lease: no token yet.
            _ => None,
        }))
    }

    async fn put(&self, key: &str, token: &CachedToken) -> Result<(), RepositoryError> {
        let model = token_cache::ActiveModel {
            cache_key: Set(key.to_owned()),
            value: Set(Some(token.value.expose().to_owned())),
            expires_at: Set(Some(token.expires_at.millis())),
            refresh_holder: Set(None),
            refresh_until: Set(None),
            updated_at: Set(wall_clock_millis()),
        };
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        token_cache::Entity::insert(model)
            .on_conflict(
                OnConflict::column(token_cache::Column::CacheKey)
                    .update_columns([
                        token_cache::Column::Value,
                        token_cache::Column::ExpiresAt,
                        token_cache::Column::UpdatedAt,
                    ])
                    .to_owned(),
            )
            .exec_without_returning(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)
    }

    async fn try_acquire_refresh(
        &self,
        key: &str,
        holder: &str,
        now: Timestamp,
        lease_until: Timestamp,
    ) -> Result<bool, RepositoryError> {
        let stmt = Statement::from_sql_and_values(
            self.db.db_backend(),
            "INSERT INTO token_cache (cache_key, refresh_holder, refresh_until, updated_at) \
             VALUES ($1, $2, $3, $4) \
             ON CONFLICT (cache_key) DO UPDATE \
               SET refresh_holder = excluded.refresh_holder, \
                   refresh_until = excluded.refresh_until, \
                   updated_at = excluded.updated_at \
               WHERE token_cache.refresh_holder IS NULL \
                  OR token_cache.refresh_until IS NULL \
                  OR token_cache.refresh_until <= $5 \
                  OR token_cache.refresh_holder = $2 \
             RETURNING cache_key",
            [
                key.into(),
                holder.into(),
                lease_until.millis().into(),
                wall_clock_millis().into(),
                now.millis().into(),
            ],
        );
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let row = txn.query_one_raw(stmt).await.map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        Ok(row.is_some())
    }

    async fn release_refresh(&self, key: &str, holder: &str) -> Result<(), RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        token_cache::Entity::update_many()
            .col_expr(
                token_cache::Column::RefreshHolder,
                Expr::value(Option::<String>::None),
            )
            .col_expr(
                token_cache::Column::RefreshUntil,
                Expr::value(Option::<i64>::None),
            )
            .filter(token_cache::Column::CacheKey.eq(key))
            .filter(token_cache::Column::RefreshHolder.eq(holder))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)
    }
}
