//! `event_inbox`: every accepted Weixin push, stored once per dedupe key before it is acknowledged.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "event_inbox")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    #[sea_orm(unique)]
    pub dedupe_key: String,
    pub kind: String,
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    pub received_at: i64,
    /// Not processed before this instant (retry backoff).
    pub available_at: i64,
    pub attempts: i32,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    pub processed_at: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub note: Option<String>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
