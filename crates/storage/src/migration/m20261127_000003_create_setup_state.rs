//! Setup state (a single row) and the card template of each invoicing entity.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, boolean, integer, string, string_null, text_null};

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("setup_state")
                    .if_not_exists()
                    .col(integer("id").primary_key())
                    .col(string_null("s_pappid"))
                    .col(text_null("contact"))
                    .col(boolean("auth_fields_set"))
                    .col(text_null("pay_mch"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("card_templates")
                    .if_not_exists()
                    .col(string("seller_id").primary_key())
                    .col(string("card_id"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("card_templates").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("setup_state").to_owned())
            .await
    }
}
