use std::sync::Arc;

use fapiao_domain::ports::RepositoryError;
use fapiao_storage::{LedgerRow, SeaOrmSandboxLedgerStore};
use sea_orm::ConnectionTrait;

use crate::harness::{Kind, TestDb};
use crate::on_both;

on_both!(
    insert_then_get_round_trips,
    a_duplicate_insert_conflicts_and_keeps_the_first_row,
    count_poll_decrements_to_zero_and_stays_there,
    count_poll_on_a_missing_key_is_none,
    concurrent_polls_each_count_once,
    all_is_ordered_by_key,
    a_key_longer_than_64_characters_is_refused,
    the_database_refuses_a_negative_poll_count,
);

fn row(key: &str, record: &str, polls_until_issued: u32) -> LedgerRow {
    LedgerRow {
        key: key.to_owned(),
        record: record.to_owned(),
        polls_until_issued,
    }
}

async fn insert_then_get_round_trips(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let ledger = SeaOrmSandboxLedgerStore::new(test_db.db.clone());
    assert_eq!(ledger.get("idem-1").await.expect("get"), None);
    let first = row("idem-1", r#"{"order_id":"o1","amount":1200}"#, 3);
    ledger.insert(&first).await.expect("insert");
    assert_eq!(ledger.get("idem-1").await.expect("get"), Some(first));
    // A key of exactly 64 characters fits, and the largest poll count round trips.
    let long = row(&"k".repeat(64), "{}", u32::MAX);
    ledger.insert(&long).await.expect("insert");
    assert_eq!(ledger.get(&long.key).await.expect("get"), Some(long));
    assert_eq!(ledger.get("idem-2").await.expect("get"), None);
}

async fn a_duplicate_insert_conflicts_and_keeps_the_first_row(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let ledger = SeaOrmSandboxLedgerStore::new(test_db.db.clone());
    let first = row("idem-1", r#"{"n":1}"#, 2);
    ledger.insert(&first).await.expect("insert");
    let err = ledger
        .insert(&row("idem-1", r#"{"n":2}"#, 5))
        .await
        .expect_err("duplicate key");
    assert!(matches!(err, RepositoryError::Conflict(_)), "{err:?}");
    assert_eq!(
        ledger.get("idem-1").await.expect("get"),
        Some(first.clone())
    );
    assert_eq!(ledger.all().await.expect("all"), vec![first]);
}

async fn count_poll_decrements_to_zero_and_stays_there(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let ledger = SeaOrmSandboxLedgerStore::new(test_db.db.clone());
    ledger
        .insert(&row("idem-1", r#"{"n":1}"#, 2))
        .await
        .expect("insert");
    ledger
        .insert(&row("idem-2", r#"{"n":2}"#, 2))
        .await
        .expect("insert");
    for expected in [1, 0, 0, 0] {
        assert_eq!(
            ledger.count_poll("idem-1").await.expect("count_poll"),
            Some(row("idem-1", r#"{"n":1}"#, expected))
        );
    }
    assert_eq!(
        ledger.get("idem-1").await.expect("get"),
        Some(row("idem-1", r#"{"n":1}"#, 0))
    );
    // Other rows are untouched.
    assert_eq!(
        ledger.get("idem-2").await.expect("get"),
        Some(row("idem-2", r#"{"n":2}"#, 2))
    );
}

async fn count_poll_on_a_missing_key_is_none(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let ledger = SeaOrmSandboxLedgerStore::new(test_db.db.clone());
    assert_eq!(ledger.count_poll("absent").await.expect("count_poll"), None);
    assert_eq!(
        ledger.get("absent").await.expect("get"),
        None,
        "no row created"
    );
    assert_eq!(ledger.all().await.expect("all"), vec![]);
}

async fn concurrent_polls_each_count_once(kind: Kind) {
    const START: u32 = 20;
    const TASKS: u32 = 8;
    const EACH: u32 = 5;
    let test_db = TestDb::new(kind).await;
    let first = Arc::new(SeaOrmSandboxLedgerStore::new(test_db.db.clone()));
    let second = Arc::new(SeaOrmSandboxLedgerStore::new(
        test_db.second_instance().await,
    ));
    first
        .insert(&row("idem-1", "{}", START))
        .await
        .expect("insert");
    let mut tasks = Vec::new();
    for task in 0..TASKS {
        let ledger = if task % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            let mut seen = Vec::new();
            for _ in 0..EACH {
                let updated = ledger.count_poll("idem-1").await.expect("count_poll");
                seen.push(updated.expect("row exists").polls_until_issued);
            }
            seen
        }));
    }
    let mut seen = Vec::new();
    for task in tasks {
        seen.extend(task.await.expect("task"));
    }
    seen.sort_unstable();
    // Each of 19..=0 is seen exactly once, then the rest of the polls see zero: no poll lost.
    let zeros = TASKS * EACH - START + 1;
    let mut expected = vec![0; zeros as usize];
    expected.extend(1..START);
    assert_eq!(seen, expected);
}

async fn all_is_ordered_by_key(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let ledger = SeaOrmSandboxLedgerStore::new(test_db.db.clone());
    assert_eq!(ledger.all().await.expect("all"), vec![]);
    let rows = [
        row("c", "{}", 0),
        row("a-2", "{}", 1),
        row("B", "{}", 2),
        row("a", "{}", 3),
        row("a10", "{}", 4),
    ];
    for r in &rows {
        ledger.insert(r).await.expect("insert");
    }
    let keys: Vec<String> = ledger
        .all()
        .await
        .expect("all")
        .into_iter()
        .map(|r| r.key)
        .collect();
    // Byte order on both databases, whatever PostgreSQL's collation.
    assert_eq!(keys, ["B", "a", "a-2", "a10", "c"]);
}

async fn a_key_longer_than_64_characters_is_refused(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let ledger = SeaOrmSandboxLedgerStore::new(test_db.db.clone());
    let err = ledger
        .insert(&row(&"k".repeat(65), "{}", 0))
        .await
        .expect_err("too long");
    assert!(!matches!(err, RepositoryError::Conflict(_)), "{err:?}");
    assert_eq!(ledger.all().await.expect("all"), vec![]);
}

async fn the_database_refuses_a_negative_poll_count(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let ledger = SeaOrmSandboxLedgerStore::new(test_db.db.clone());
    ledger
        .insert(&row("idem-1", "{}", 0))
        .await
        .expect("insert");
    let conn = test_db.raw_connection().await;
    conn.execute_unprepared("UPDATE sandbox_ledger SET polls_until_issued = -1")
        .await
        .expect_err("check constraint");
    assert_eq!(
        ledger.get("idem-1").await.expect("get"),
        Some(row("idem-1", "{}", 0))
    );
}
