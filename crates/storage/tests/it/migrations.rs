use fapiao_storage::{Backend, Database, StorageError};
use sea_orm::{ConnectionTrait, Statement};

use crate::harness::{Kind, TestDb};
use crate::on_both;

on_both!(
    migrate_from_empty_then_again_is_a_no_op,
    tables_exist_after_migration
);

const TABLES: [&str; 12] = [
    "card_templates",
    "console_sessions",
    "event_inbox",
    "invoice_orders",
    "jobs",
    "numbering_counters",
    "order_history",
    "sandbox_ledger",
    "setup_state",
    "token_cache",
    "webhook_deliveries",
    "webhook_events",
];

async fn migrate_from_empty_then_again_is_a_no_op(kind: Kind) {
    let test_db = TestDb::unmigrated(kind).await;
    let db = &test_db.db;
    assert_eq!(
        db.backend(),
        match kind {
            Kind::Sqlite => Backend::Sqlite,
            Kind::Postgres => Backend::Postgres,
        }
    );
    db.migrate().await.expect("first run applies everything");
    let applied = db.applied_migrations().await.expect("applied list");
    assert_eq!(applied.len(), 12, "{applied:?}");
    assert!(
        applied.windows(2).all(|w| w[0] < w[1]),
        "applied in order: {applied:?}"
    );
    assert!(applied[0].starts_with("m20261127_000001_create_invoice_orders"));
    assert!(applied[8].starts_with("m20261127_000009_create_sandbox_ledger"));
    assert!(applied[9].starts_with("m20261206_000001_drop_issued_documents"));
    assert!(applied[10].starts_with("m20261207_000001_create_console_sessions"));
    assert!(applied[11].starts_with("m20261207_000002_create_webhooks"));

    db.migrate().await.expect("second run is a no-op");
    assert_eq!(
        db.applied_migrations().await.expect("applied list"),
        applied
    );

    // A second instance starting up against the migrated database migrates nothing either.
    let other = test_db.second_instance().await;
    other.migrate().await.expect("third run is a no-op");
    assert_eq!(
        other.applied_migrations().await.expect("applied list"),
        applied
    );
}

async fn tables_exist_after_migration(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let tables = list_tables(&test_db).await;
    for table in TABLES {
        assert!(
            tables.iter().any(|t| t == table),
            "{table} missing from {tables:?}"
        );
    }
    // Created by an early migration, dropped by a later one.
    assert!(
        !tables.iter().any(|t| t == "issued_documents"),
        "issued_documents still in {tables:?}"
    );
}

async fn list_tables(test_db: &TestDb) -> Vec<String> {
    let (backend, sql) = match test_db.kind {
        Kind::Sqlite => (
            sea_orm::DbBackend::Sqlite,
            "SELECT name AS t FROM sqlite_master WHERE type = 'table'",
        ),
        Kind::Postgres => (
            sea_orm::DbBackend::Postgres,
            "SELECT table_name::text AS t FROM information_schema.tables \
             WHERE table_schema = current_schema()",
        ),
    };
    let conn = test_db.raw_connection().await;
    let rows = conn
        .query_all_raw(Statement::from_string(backend, sql))
        .await
        .expect("list tables");
    rows.iter()
        .map(|row| row.try_get::<String>("", "t").expect("table name"))
        .collect()
}

#[tokio::test]
async fn sqlite_file_is_created_in_wal_mode_with_foreign_keys() {
    let dir = tempfile::tempdir().expect("temporary directory");
    let path = dir.path().join("nested-name.db");
    assert!(!path.exists());
    let db = Database::connect(&format!("sqlite:{}", path.display()))
        .await
        .expect("create the file");
    db.migrate().await.expect("migrate");
    assert!(path.exists(), "the database file is created when missing");
    db.close().await.expect("close");

    let raw = sea_orm::Database::connect(format!("sqlite:{}", path.display()))
        .await
        .expect("raw connection");
    let row = raw
        .query_one_raw(Statement::from_string(
            sea_orm::DbBackend::Sqlite,
            "PRAGMA journal_mode",
        ))
        .await
        .expect("pragma")
        .expect("a row");
    let mode: String = row.try_get_by_index(0).expect("journal mode");
    assert_eq!(mode, "wal", "journal mode persists in the file");
}

#[tokio::test]
async fn sqlite_in_memory_works() {
    let db = Database::connect("sqlite::memory:").await.expect("memory");
    db.migrate().await.expect("migrate");
    db.ping().await.expect("ping");
}

#[tokio::test]
async fn unsupported_url_is_refused() {
    let err = Database::connect("mysql://root@localhost/fapiao")
        .await
        .expect_err("mysql is not supported");
    assert!(matches!(err, StorageError::UnsupportedUrl), "{err:?}");
}
