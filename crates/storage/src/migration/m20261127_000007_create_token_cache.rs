//! The shared token and ticket cache with its refresh lease.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_integer_null, string, string_null, text_null};

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("token_cache")
                    .if_not_exists()
                    .col(string("cache_key").primary_key())
                    .col(text_null("value"))
                    .col(big_integer_null("expires_at"))
                    .col(string_null("refresh_holder"))
                    .col(big_integer_null("refresh_until"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("token_cache").to_owned())
            .await
    }
}
