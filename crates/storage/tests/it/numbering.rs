use std::sync::Arc;

use fapiao_domain::ports::InvoiceNumbering;
use fapiao_storage::SeaOrmInvoiceNumbering;

use crate::harness::{Kind, TestDb};
use crate::on_both;

on_both!(
    numbers_start_at_one_per_series,
    numbering_is_gap_free_under_concurrency
);

async fn numbers_start_at_one_per_series(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let numbering = SeaOrmInvoiceNumbering::new(test_db.db.clone());
    assert_eq!(numbering.next("2026-a").await.expect("next"), 1);
    assert_eq!(numbering.next("2026-a").await.expect("next"), 2);
    assert_eq!(numbering.next("2026-b").await.expect("next"), 1);
    assert_eq!(numbering.next("2026-a").await.expect("next"), 3);
}

async fn numbering_is_gap_free_under_concurrency(kind: Kind) {
    const TASKS: u64 = 8;
    const EACH: u64 = 50;
    let test_db = TestDb::new(kind).await;
    let first = Arc::new(SeaOrmInvoiceNumbering::new(test_db.db.clone()));
    let second = Arc::new(SeaOrmInvoiceNumbering::new(test_db.second_instance().await));
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let numbering = if task % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut numbers = Vec::new();
            for _ in 0..EACH {
                numbers.push(numbering.next("sandbox").await.expect("next"));
            }
            numbers
        }));
    }
    let mut all = Vec::new();
    for task in tasks {
        let numbers = task.await.expect("task");
        assert!(
            numbers.windows(2).all(|w| w[0] < w[1]),
            "increasing per caller"
        );
        all.extend(numbers);
    }
    all.sort_unstable();
    assert_eq!(all, (1..=TASKS * EACH).collect::<Vec<_>>());
}

#[tokio::test]
async fn a_locked_sqlite_database_is_reported_unavailable() {
    use fapiao_domain::ports::RepositoryError;
    use fapiao_storage::{Database, DatabaseOptions};
    use sea_orm::ConnectionTrait;

    let dir = tempfile::tempdir().expect("temporary directory");
    let url = format!("sqlite://{}", dir.path().join("locked.db").display());
    let options = DatabaseOptions {
        busy_timeout: std::time::Duration::from_millis(200),
        ..DatabaseOptions::default()
    };
    let db = Database::connect_with(&url, &options).await.expect("open");
    db.migrate().await.expect("migrate");
    let numbering = SeaOrmInvoiceNumbering::new(db);
    assert_eq!(numbering.next("s").await.expect("next"), 1);

    // Another process holds the write lock.
    let mut raw = sea_orm::ConnectOptions::new(url.as_str());
    raw.max_connections(1);
    let other = sea_orm::Database::connect(raw).await.expect("raw");
    other
        .execute_unprepared("BEGIN IMMEDIATE")
        .await
        .expect("lock");
    let err = numbering.next("s").await.expect_err("locked");
    assert!(matches!(err, RepositoryError::Unavailable(_)), "{err:?}");
    other.execute_unprepared("ROLLBACK").await.expect("unlock");
    assert_eq!(
        numbering.next("s").await.expect("next"),
        2,
        "the failed call used no number"
    );
}
