//! `token_cache`: access tokens and tickets shared by every instance, with a refresh lease.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "token_cache")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub cache_key: String,
    /// Absent until the first `put` (a lease may be taken before any token exists).
    #[sea_orm(column_type = "Text", nullable)]
    pub value: Option<String>,
    pub expires_at: Option<i64>,
    pub refresh_holder: Option<String>,
    pub refresh_until: Option<i64>,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
