//! The sandbox tax issuer's ledger: one row per idempotency key, so issued records survive a
//! restart.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, string_len, text};

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("sandbox_ledger")
                    .if_not_exists()
                    // SQLite ignores the `varchar(64)` length, so a check holds it on both.
                    .col(
                        string_len("idem_key", 64)
                            .primary_key()
                            .check(Expr::cust("length(idem_key) <= 64")),
                    )
                    // JSON owned by the sandbox issuer; storage never looks inside.
                    .col(text("record"))
                    .col(
                        big_integer("polls_until_issued")
                            .check(Expr::col("polls_until_issued").gte(0)),
                    )
                    .col(big_integer("created_at"))
                    .col(big_integer("updated_at"))
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("sandbox_ledger").to_owned())
            .await
    }
}
