use std::sync::Arc;

use fapiao_storage::SeaOrmInvoiceNumbering;
use fapiao_storage::shim::InvoiceNumbering;

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
