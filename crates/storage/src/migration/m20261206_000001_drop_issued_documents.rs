//! Drops `issued_documents`: `SeaOrmDocumentStore`, the only code that wrote or read it, was
//! wired nowhere and is gone, so the table would only ever have stayed empty.
//!
//! `down` recreates the table as `m20261127_000004_create_issued_documents` left it, empty.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{big_integer, big_pk_auto, blob_null, string, text_null};

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        // The table's indexes go with it on SQLite and PostgreSQL alike.
        manager
            .drop_table(
                Table::drop()
                    .table("issued_documents")
                    .if_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("issued_documents")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("s_pappid"))
                    .col(string("order_id"))
                    .col(string("direction"))
                    .col(string("invoice_code"))
                    .col(string("invoice_number"))
                    .col(string("check_code"))
                    .col(blob_null("pdf"))
                    .col(text_null("pdf_path"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("uq_issued_documents_number")
                    .table("issued_documents")
                    .col("invoice_code")
                    .col("invoice_number")
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_issued_documents_order")
                    .table("issued_documents")
                    .col("s_pappid")
                    .col("order_id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }
}
