//! `sandbox_ledger`: the sandbox tax issuer's records, one per idempotency key.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "sandbox_ledger")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub idem_key: String,
    /// JSON owned by the sandbox issuer.
    #[sea_orm(column_type = "Text")]
    pub record: String,
    /// Never negative (a check constraint holds it).
    pub polls_until_issued: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
