//! Order history: one row per transition, keyed by the order and a sequence number.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string, string_null, text};

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("order_history")
                    .if_not_exists()
                    .col(string("s_pappid"))
                    .col(string("order_id"))
                    .col(big_integer("seq"))
                    .col(string_null("from_state"))
                    .col(string("to_state"))
                    .col(text("cause"))
                    .col(big_integer("at"))
                    .primary_key(Index::create().col("s_pappid").col("order_id").col("seq"))
                    .foreign_key(
                        ForeignKey::create()
                            .name("fk_order_history_order")
                            .from("order_history", ("s_pappid", "order_id"))
                            .to("invoice_orders", ("s_pappid", "order_id"))
                            .on_delete(ForeignKeyAction::Cascade),
                    )
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("order_history").to_owned())
            .await
    }
}
