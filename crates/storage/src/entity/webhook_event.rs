//! `webhook_events`: the outbox, one row per order history entry, written in the transaction
//! of the change; `spread` turns 1 once its deliveries exist.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "webhook_events")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub s_pappid: String,
    pub order_id: String,
    pub seq: i64,
    /// The event type's wire name.
    pub event_type: String,
    /// The event's `data` (JSON).
    #[sea_orm(column_type = "Text")]
    pub data: String,
    pub occurred_at: i64,
    /// 0 until its deliveries are created, then 1.
    pub spread: i16,
    pub created_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
