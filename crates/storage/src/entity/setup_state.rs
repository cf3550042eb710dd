//! `setup_state`: the one-time setup as last completed; a single row with `id = 1`.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "setup_state")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub id: i32,
    pub s_pappid: Option<String>,
    /// The merchant contact (serde JSON of the domain type).
    #[sea_orm(column_type = "Text", nullable)]
    pub contact: Option<String>,
    pub auth_fields_set: bool,
    /// The post-payment binding (serde JSON of the domain type).
    #[sea_orm(column_type = "Text", nullable)]
    pub pay_mch: Option<String>,
    pub updated_at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {}

impl ActiveModelBehavior for ActiveModel {}
