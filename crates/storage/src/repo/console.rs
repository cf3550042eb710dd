//! The operator console's sessions.

use async_trait::async_trait;
use fapiao_domain::ports::{ConsoleSession, ConsoleSessions, RepositoryError};
use fapiao_domain::{Secret, Timestamp};
use sea_orm::sea_query::Expr;
use sea_orm::{ColumnTrait, Condition, EntityTrait, QueryFilter, Set};

use crate::db::Database;
use crate::entity::console_session;
use crate::error::repository_error;

/// Console sessions on sea-orm, one row per session keyed by the token's SHA-256.
#[derive(Debug, Clone)]
pub struct SeaOrmConsoleSessions {
    db: Database,
}

impl SeaOrmConsoleSessions {
    /// Sessions over `db`.
    pub fn new(db: Database) -> Self {
        Self { db }
    }
}

impl From<console_session::Model> for ConsoleSession {
    fn from(model: console_session::Model) -> Self {
        ConsoleSession {
            token_hash: model.token_hash,
            csrf_token: Secret::new(model.csrf_token),
            operator: model.operator,
            created_at: Timestamp::from_millis(model.created_at),
            last_seen_at: Timestamp::from_millis(model.last_seen_at),
            expires_at: Timestamp::from_millis(model.expires_at),
        }
    }
}

#[async_trait]
impl ConsoleSessions for SeaOrmConsoleSessions {
    async fn create(&self, session: &ConsoleSession) -> Result<(), RepositoryError> {
        let model = console_session::ActiveModel {
            token_hash: Set(session.token_hash.clone()),
            csrf_token: Set(session.csrf_token.expose().to_owned()),
            operator: Set(session.operator.clone()),
            created_at: Set(session.created_at.millis()),
            last_seen_at: Set(session.last_seen_at.millis()),
            expires_at: Set(session.expires_at.millis()),
        };
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        console_session::Entity::insert(model)
            .exec_without_returning(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)
    }

    async fn get(&self, token_hash: &str) -> Result<Option<ConsoleSession>, RepositoryError> {
        Ok(console_session::Entity::find_by_id(token_hash.to_owned())
            .one(self.db.conn())
            .await
            .map_err(repository_error)?
            .map(ConsoleSession::from))
    }

    async fn touch(&self, token_hash: &str, at: Timestamp) -> Result<(), RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        console_session::Entity::update_many()
            .col_expr(
                console_session::Column::LastSeenAt,
                Expr::value(at.millis()),
            )
            .filter(console_session::Column::TokenHash.eq(token_hash))
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)
    }

    async fn delete(&self, token_hash: &str) -> Result<(), RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        console_session::Entity::delete_by_id(token_hash.to_owned())
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)
    }

    async fn purge(&self, now: Timestamp, idle_before: Timestamp) -> Result<u64, RepositoryError> {
        let txn = self.db.begin_write().await.map_err(repository_error)?;
        let res = console_session::Entity::delete_many()
            .filter(
                Condition::any()
                    .add(console_session::Column::ExpiresAt.lte(now.millis()))
                    .add(console_session::Column::LastSeenAt.lt(idle_before.millis())),
            )
            .exec(&txn)
            .await
            .map_err(repository_error)?;
        txn.commit().await.map_err(repository_error)?;
        Ok(res.rows_affected)
    }
}
