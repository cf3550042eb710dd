//! Schema migrations, one file per migration.
//!
//! `DeriveMigrationName` names a migration after its module, so each one lives in its own file.
//! A migration that has been applied anywhere is never edited: change the schema with a new one.

use sea_orm_migration::{MigrationTrait, MigratorTrait};

mod m20261127_000001_create_invoice_orders;
mod m20261127_000002_create_order_history;
mod m20261127_000003_create_setup_state;
mod m20261127_000004_create_issued_documents;
mod m20261127_000005_create_event_inbox;
mod m20261127_000006_create_jobs;
mod m20261127_000007_create_token_cache;
mod m20261127_000008_create_numbering_counters;
mod m20261127_000009_create_sandbox_ledger;
mod m20261206_000001_drop_issued_documents;
mod m20261207_000001_create_console_sessions;
mod m20261207_000002_create_webhooks;

/// All migrations in the order they apply.
#[derive(Debug)]
pub(crate) struct Migrator;

impl MigratorTrait for Migrator {
    fn migrations() -> Vec<Box<dyn MigrationTrait>> {
        vec![
            Box::new(m20261127_000001_create_invoice_orders::Migration),
            Box::new(m20261127_000002_create_order_history::Migration),
            Box::new(m20261127_000003_create_setup_state::Migration),
            Box::new(m20261127_000004_create_issued_documents::Migration),
            Box::new(m20261127_000005_create_event_inbox::Migration),
            Box::new(m20261127_000006_create_jobs::Migration),
            Box::new(m20261127_000007_create_token_cache::Migration),
            Box::new(m20261127_000008_create_numbering_counters::Migration),
            Box::new(m20261127_000009_create_sandbox_ledger::Migration),
            Box::new(m20261206_000001_drop_issued_documents::Migration),
            Box::new(m20261207_000001_create_console_sessions::Migration),
            Box::new(m20261207_000002_create_webhooks::Migration),
        ]
    }
}
