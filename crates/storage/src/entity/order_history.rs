//! `order_history`: one row per state transition of an order, appended, never rewritten.

use sea_orm::entity::prelude::*;

#[derive(Clone, Debug, PartialEq, Eq, DeriveEntityModel)]
#[sea_orm(table_name = "order_history")]
pub struct Model {
    #[sea_orm(primary_key, auto_increment = false)]
    pub s_pappid: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub order_id: String,
    #[sea_orm(primary_key, auto_increment = false)]
    pub seq: i64,
    pub from_state: Option<String>,
    pub to_state: String,
    #[sea_orm(column_type = "Text")]
    pub cause: String,
    pub at: i64,
}

#[derive(Copy, Clone, Debug, EnumIter, DeriveRelation)]
pub enum Relation {
    #[sea_orm(
        belongs_to = "super::invoice_order::Entity",
        from = "(Column::SPappid, Column::OrderId)",
        to = "(super::invoice_order::Column::SPappid, super::invoice_order::Column::OrderId)",
        on_delete = "Cascade"
    )]
    Order,
}

impl Related<super::invoice_order::Entity> for Entity {
    fn to() -> RelationDef {
        Relation::Order.def()
    }
}

impl ActiveModelBehavior for ActiveModel {}
