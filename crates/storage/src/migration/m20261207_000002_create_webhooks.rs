//! The webhook outbox: `webhook_events`, written in the transaction of the order change each
//! describes, and `webhook_deliveries`, one per event and subscribed endpoint.

use sea_orm_migration::prelude::*;
use sea_orm_migration::schema::{
    big_integer, big_integer_null, big_pk_auto, integer, integer_null, small_integer, string,
    string_null, text, text_null,
};

#[derive(Debug, DeriveMigrationName)]
pub(crate) struct Migration;

#[async_trait::async_trait]
impl MigrationTrait for Migration {
    async fn up(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .create_table(
                Table::create()
                    .table("webhook_events")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("s_pappid"))
                    .col(string("order_id"))
                    .col(big_integer("seq"))
                    .col(string("event_type"))
                    .col(text("data"))
                    .col(big_integer("occurred_at"))
                    .col(small_integer("spread"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        // One event per history entry: a repeated write is a conflict, never a second event.
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_events_entry")
                    .table("webhook_events")
                    .col("s_pappid")
                    .col("order_id")
                    .col("seq")
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_events_spread")
                    .table("webhook_events")
                    .col("spread")
                    .col("id")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_table(
                Table::create()
                    .table("webhook_deliveries")
                    .if_not_exists()
                    .col(big_pk_auto("id"))
                    .col(string("endpoint"))
                    .col(big_integer("event_id"))
                    .col(string("event_type"))
                    .col(string("s_pappid"))
                    .col(string("order_id"))
                    .col(big_integer("seq"))
                    .col(string("status"))
                    .col(integer("attempts"))
                    .col(big_integer("next_attempt_at"))
                    .col(string_null("lease_owner"))
                    .col(big_integer_null("lease_until"))
                    .col(integer_null("last_status"))
                    .col(text_null("last_error"))
                    .col(big_integer_null("delivered_at"))
                    .col(big_integer("created_at"))
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_event")
                    .table("webhook_deliveries")
                    .col("endpoint")
                    .col("event_id")
                    .unique()
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_due")
                    .table("webhook_deliveries")
                    .col("status")
                    .col("next_attempt_at")
                    .if_not_exists()
                    .to_owned(),
            )
            .await?;
        manager
            .create_index(
                Index::create()
                    .name("idx_webhook_deliveries_order")
                    .table("webhook_deliveries")
                    .col("endpoint")
                    .col("s_pappid")
                    .col("order_id")
                    .col("status")
                    .col("seq")
                    .if_not_exists()
                    .to_owned(),
            )
            .await
    }

    async fn down(&self, manager: &SchemaManager) -> Result<(), DbErr> {
        manager
            .drop_table(Table::drop().table("webhook_deliveries").to_owned())
            .await?;
        manager
            .drop_table(Table::drop().table("webhook_events").to_owned())
            .await
    }
}
