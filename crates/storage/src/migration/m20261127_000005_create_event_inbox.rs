//! The event inbox: one row per distinct push, unique on its dedupe key.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, integer, string, string_null, string_uniq, text,
    text_null,
};

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("event_inbox")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string_uniq("dedupe_key"))
                    .col(string("kind"))
                    .col(text("payload"))
                    .col(big_integer("received_at"))
                    .col(big_integer("available_at"))
                    .col(integer("attempts"))
                    .col(string_null("lease_owner"))
                    .col(big_integer_null("lease_until"))
                    .col(big_integer_null("processed_at"))
                    .col(text_null("note"))
                    .col(text_null("last_error"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_event_inbox_pending")
                    .table("event_inbox")
                    .col("processed_at")
                    .col("available_at")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("event_inbox").to_owned())
            .await
    }
}
