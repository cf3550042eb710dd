//! fapiao's persistence: the domain's persistence ports implemented with sea-orm on SQLite
//! (the embedded default) and PostgreSQL, with the schema migrations, a durable job queue and
//! the event inbox.
//!
//! Only this crate knows sea-orm: entity models stay private and are mapped to domain types
//! by hand. It depends on `fapiao-domain` and never on another adapter or on `fapiao-app`.
//!
//! Start with [`Database::connect`] and [`Database::migrate`], then hand clones of the
//! [`Database`] to the repositories ([`SeaOrmJobQueue::new`], …).
//!
//! The `testing` feature adds [`testing::TestDatabase`], a fresh SQLite file or PostgreSQL
//! schema per test, for this crate's suite, the end-to-end suite and the bench.

mod db;
mod entity;
mod error;
mod migration;
mod repo;
#[cfg(feature = "testing")]
pub mod testing;

pub use db::{Backend, Database, DatabaseOptions, SqliteSync, StorageError};
pub use repo::{
    GroupCommitInbox, INBOX_MAX_BATCH, LedgerRow, MAX_DELIVERY_LIST, MAX_LIST_LIMIT,
    SeaOrmConsoleSessions, SeaOrmEventInbox, SeaOrmInvoiceNumbering, SeaOrmJobQueue,
    SeaOrmOrderRepository, SeaOrmSandboxLedgerStore, SeaOrmSetupStore, SeaOrmTokenCache,
    SeaOrmWebhookOutbox,
};
