//! `invoice_orders`: one row per invoice order, the aggregate as JSON plus the columns queried on.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "invoice_orders")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub s_pappid: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: String,
    pub scenario: String,
    pub state: String,
    pub seller: String,
    /// Invoice total in fen.
    pub money_fen: i64,
    pub card_id: Option<String>,
    pub card_code: Option<String>,
    pub qr_token: Option<String>,
    /// The whole order as the domain serializes it (serde JSON).
    #[sea_orm(column_type = "Text")]
    pub aggregate: String,
    /// Optimistic-concurrency version: 1 after the insert, +1 per update.
    pub version: i64,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(has_many = "super::order_history::Entity")]
    History,
}

impl Related<super::order_history::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::History.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
