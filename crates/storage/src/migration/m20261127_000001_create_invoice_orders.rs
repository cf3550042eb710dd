//! Invoice orders: the aggregate as JSON plus the columns the repository queries on.

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
                    .table("invoice_orders")
                    .if_not_exists()
                    .col(string("s_pappid"))
                    .col(string("order_id"))
                    .col(string("scenario"))
                    .col(string("state"))
                    .col(string("seller"))
                    // Integer fen: a decimal column would be a double on SQLite.
                    .col(big_integer("money_fen"))
                    .col(string_null("card_id"))
                    .col(string_null("card_code"))
                    .col(string_null("qr_token"))
                    .col(text("aggregate"))
                    .col(big_integer("version"))
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .primary_key(Index::create().col("s_pappid").col("order_id"))
                    .to_owned(),
            )
            .await?;
        for (name, columns, unique) in [
            (
                "idx_invoice_orders_state_updated",
                &["state", "updated_at"][..],
                false,
            ),
            (
                "idx_invoice_orders_scenario_state",
                &["scenario", "state"][..],
                false,
            ),
            ("idx_invoice_orders_updated", &["updated_at"][..], false),
            (
                "uq_invoice_orders_card",
                &["card_id", "card_code"][..],
                true,
            ),
            ("uq_invoice_orders_qr_token", &["qr_token"][..], true),
        ] {
            let mut index = Index::create();
            index.name(name).table("invoice_orders").if_not_exists();
            for column in columns {
                index.col(*column);
            }
            if unique {
                index.unique();
            }
            manager.create_index(index.to_owned()).await?;
        }
        Ok(())
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("invoice_orders").to_owned())
            .await
    }
}
