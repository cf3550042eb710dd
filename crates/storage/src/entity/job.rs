//! `jobs`: the durable job queue; a row is live (`ready`) until completed (deleted) or buried
//! (`dead`).

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "jobs")]
pub struct Model {
    #[sea_orm(primary_key)]
    pub id: i64,
    pub s_pappid: String,
    pub order_id: String,
    /// The command's step name, for operators and metrics.
    pub kind: String,
    /// The command (serde JSON).
    #[sea_orm(column_type = "Text")]
    pub payload: String,
    /// `ready` or `dead`.
    pub status: String,
    /// Attempts before the next run.
    pub attempts: i32,
    pub run_at: i64,
    pub lease_owner: Option<String>,
    pub lease_until: Option<i64>,
    #[sea_orm(column_type = "Text", nullable)]
    pub last_error: Option<String>,
    pub created_at: i64,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
