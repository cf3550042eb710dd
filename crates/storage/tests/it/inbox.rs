use std::sync::Arc;

use fapiao_domain::ports::{EventInbox, RecordOutcome, RepositoryError};
use fapiao_domain::weixin::WeixinEvent;
use fapiao_storage::{GroupCommitInbox, SeaOrmEventInbox};

use crate::harness::{Kind, TestDb, at};
use crate::on_both;

on_both!(
    a_duplicate_push_is_stored_once,
    concurrent_duplicate_pushes_are_stored_once,
    claim_release_and_mark_processed,
    purge_removes_only_old_processed_events,
    a_batch_records_each_key_once_in_order,
    group_commit_stores_concurrent_pushes_exactly_once,
    group_commit_settles_and_claims_beside_pushes,
    an_undecodable_event_is_set_aside_and_the_others_claimed,
    wake_makes_only_waiting_pushes_under_the_keys_due,
);

/// A push whose dedupe key is determined by `from`.
fn event(from: &str) -> WeixinEvent {
    WeixinEvent::Other {
        msg_type: "event".to_owned(),
        event: Some("subscribe".to_owned()),
        from: from.to_owned(),
        create_time: at(1_700_000_000_000),
    }
}

async fn a_duplicate_push_is_stored_once(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let inbox = SeaOrmEventInbox::new(test_db.db.clone());
    let first = inbox
        .record(&event("auth:ok:p:o-1"), at(1_000))
        .await
        .expect("record");
    let RecordOutcome::Recorded(id) = first else {
        panic!("first push stored, got {first:?}");
    };
    let retried = inbox
        .record(&event("auth:ok:p:o-1"), at(6_000))
        .await
        .expect("record");
    assert_eq!(retried, RecordOutcome::Duplicate);

    let items = inbox
        .claim("w", 10, at(10_000), at(20_000))
        .await
        .expect("claim");
    assert_eq!(items.len(), 1);
    assert_eq!(items[0].id, id);
    assert_eq!(items[0].event, event("auth:ok:p:o-1"));
    assert_eq!(
        items[0].received_at,
        at(1_000),
        "the duplicate changed nothing"
    );
    assert_eq!(items[0].attempts, 0);

    // Even after processing, a late retry of the same push stays a duplicate.
    inbox.mark_processed(id, None).await.expect("processed");
    let late = inbox
        .record(&event("auth:ok:p:o-1"), at(30_000))
        .await
        .expect("record");
    assert_eq!(late, RecordOutcome::Duplicate);
    assert!(
        inbox
            .claim("w", 10, at(40_000), at(50_000))
            .await
            .expect("claim")
            .is_empty()
    );
}

async fn concurrent_duplicate_pushes_are_stored_once(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let first = Arc::new(SeaOrmEventInbox::new(test_db.db.clone()));
    let second = Arc::new(SeaOrmEventInbox::new(test_db.second_instance().await));
    let mut tasks = Vec::new();
    for n in 0..16 {
        let inbox = if n % 2 == 0 {
            first.clone()
        } else {
            second.clone()
        };
        tasks.push(tokio::spawn(async move {
            inbox
                .record(&event(&format!("status:card:code:LOCK:{}", n % 4)), at(n))
                .await
                .expect("record")
        }));
    }
    let mut recorded = 0;
    for task in tasks {
        if matches!(task.await.expect("task"), RecordOutcome::Recorded(_)) {
            recorded += 1;
        }
    }
    assert_eq!(recorded, 4, "one per distinct dedupe key");
}

async fn claim_release_and_mark_processed(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let inbox = SeaOrmEventInbox::new(test_db.db.clone());
    for n in 0..3 {
        inbox
            .record(&event(&format!("e-{n}")), at(n))
            .await
            .expect("record");
    }
    let items = inbox
        .claim("w1", 2, at(100), at(10_100))
        .await
        .expect("claim");
    let ids: Vec<_> = items.iter().map(|i| i.id).collect();
    assert_eq!(items.len(), 2);
    // Leased items are not handed to a second worker; the third one is.
    let rest = inbox
        .claim("w2", 10, at(200), at(10_200))
        .await
        .expect("claim");
    assert_eq!(rest.len(), 1);
    assert!(!ids.contains(&rest[0].id));

    inbox
        .mark_processed(ids[0], Some("ignored: unknown order".to_owned()))
        .await
        .expect("processed");
    inbox
        .release(ids[1], at(5_000), "order busy")
        .await
        .expect("release");
    assert!(
        inbox
            .claim("w3", 10, at(4_999), at(9_999))
            .await
            .expect("claim")
            .is_empty(),
        "released for later, processed for good, third still leased"
    );
    let again = inbox
        .claim("w3", 10, at(5_000), at(15_000))
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, ids[1]);
    assert_eq!(again[0].attempts, 1);

    // The third item's lease (until 10_200) expires and it comes back.
    let expired = inbox
        .claim("w4", 10, at(10_200), at(20_000))
        .await
        .expect("claim");
    assert_eq!(
        expired.iter().map(|i| i.id).collect::<Vec<_>>(),
        [rest[0].id]
    );

    let err = inbox
        .release(ids[0], at(0), "x")
        .await
        .expect_err("processed");
    assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
    let err = inbox
        .mark_processed(9_999_999, None)
        .await
        .expect_err("no such event");
    assert!(matches!(err, RepositoryError::NotFound(_)), "{err:?}");
}

async fn purge_removes_only_old_processed_events(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let inbox = SeaOrmEventInbox::new(test_db.db.clone());
    let RecordOutcome::Recorded(old) = inbox
        .record(&event("old"), at(1_000))
        .await
        .expect("record")
    else {
        panic!("stored");
    };
    inbox
        .record(&event("old-unprocessed"), at(1_000))
        .await
        .expect("record");
    let RecordOutcome::Recorded(new) = inbox
        .record(&event("new"), at(90_000))
        .await
        .expect("record")
    else {
        panic!("stored");
    };
    inbox.mark_processed(old, None).await.expect("processed");
    inbox.mark_processed(new, None).await.expect("processed");
    assert_eq!(inbox.purge_processed(at(50_000)).await.expect("purge"), 1);
    // The purged key may be stored again; the recent one is still deduplicated.
    assert!(matches!(
        inbox
            .record(&event("old"), at(100_000))
            .await
            .expect("record"),
        RecordOutcome::Recorded(_)
    ));
    assert_eq!(
        inbox
            .record(&event("new"), at(100_000))
            .await
            .expect("record"),
        RecordOutcome::Duplicate
    );
}

async fn a_batch_records_each_key_once_in_order(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let inbox = SeaOrmEventInbox::new(test_db.db.clone());
    let RecordOutcome::Recorded(earlier) = inbox.record(&event("b"), at(1)).await.expect("record")
    else {
        panic!("stored");
    };
    let events: Vec<_> = ["a", "b", "c", "a", "d"]
        .iter()
        .map(|from| event(from))
        .collect();
    let batch: Vec<_> = events
        .iter()
        .enumerate()
        .map(|(n, e)| (e, at(10 + n as i64)))
        .collect();
    let outcomes = inbox.record_batch(&batch).await.expect("batch");
    assert_eq!(outcomes.len(), 5);
    assert!(
        matches!(outcomes[0], RecordOutcome::Recorded(_)),
        "{outcomes:?}"
    );
    assert_eq!(
        outcomes[1],
        RecordOutcome::Duplicate,
        "stored before the batch"
    );
    assert!(matches!(outcomes[2], RecordOutcome::Recorded(_)));
    assert_eq!(
        outcomes[3],
        RecordOutcome::Duplicate,
        "repeated within the batch"
    );
    assert!(matches!(outcomes[4], RecordOutcome::Recorded(_)));
    assert!(inbox.record_batch(&[]).await.expect("empty").is_empty());

    let mut items = inbox.claim("w", 10, at(100), at(200)).await.expect("claim");
    items.sort_by_key(|i| i.id);
    let stored: Vec<_> = items.iter().map(|i| (i.id, i.event.clone())).collect();
    let id = |o: RecordOutcome| match o {
        RecordOutcome::Recorded(id) => id,
        RecordOutcome::Duplicate => panic!("recorded"),
    };
    assert_eq!(
        stored,
        [
            (earlier, event("b")),
            (id(outcomes[0]), event("a")),
            (id(outcomes[2]), event("c")),
            (id(outcomes[4]), event("d")),
        ]
    );
    let first_a = items.iter().find(|i| i.event == event("a")).expect("a");
    assert_eq!(first_a.received_at, at(10), "the first occurrence is kept");

    // More than one statement's worth: 700 events of 350 keys, in one transaction.
    let many: Vec<_> = (0..700)
        .map(|n| event(&format!("many-{}", n % 350)))
        .collect();
    let batch: Vec<_> = many.iter().map(|e| (e, at(500))).collect();
    let outcomes = inbox.record_batch(&batch).await.expect("large batch");
    let recorded = outcomes
        .iter()
        .filter(|o| matches!(o, RecordOutcome::Recorded(_)))
        .count();
    assert_eq!(recorded, 350);
    assert!(
        outcomes[350..]
            .iter()
            .all(|o| *o == RecordOutcome::Duplicate)
    );
}

async fn group_commit_stores_concurrent_pushes_exactly_once(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let inbox = Arc::new(GroupCommitInbox::spawn(SeaOrmEventInbox::new(
        test_db.db.clone(),
    )));
    // 600 concurrent records of 150 distinct pushes (each delivered four times): more than
    // one batch's worth, so batches fill, split and repeat keys.
    let mut tasks = Vec::new();
    for n in 0..600 {
        let inbox = inbox.clone();
        tasks.push(tokio::spawn(async move {
            let outcome = inbox
                .record(&event(&format!("push-{}", n % 150)), at(n))
                .await
                .expect("record");
            (n % 150, outcome)
        }));
    }
    let mut recorded = std::collections::BTreeMap::new();
    for task in tasks {
        if let (key, RecordOutcome::Recorded(id)) = task.await.expect("task") {
            assert!(
                recorded.insert(key, id).is_none(),
                "push-{key} recorded twice"
            );
        }
    }
    assert_eq!(recorded.len(), 150, "every distinct push is recorded once");
    let items = inbox
        .claim("w", 1_000, at(10_000), at(20_000))
        .await
        .expect("claim");
    assert_eq!(items.len(), 150);
    for item in items {
        let WeixinEvent::Other { from, .. } = &item.event else {
            panic!("{item:?}");
        };
        let key: i64 = from.trim_start_matches("push-").parse().expect("key");
        assert_eq!(
            recorded.get(&key),
            Some(&item.id),
            "the caller got the stored id"
        );
    }
}

async fn an_undecodable_event_is_set_aside_and_the_others_claimed(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let inbox = SeaOrmEventInbox::new(test_db.db.clone());
    let mut ids = Vec::new();
    for from in ["first", "bad", "third"] {
        let RecordOutcome::Recorded(id) = inbox.record(&event(from), at(1)).await.expect("record")
        else {
            panic!("stored");
        };
        ids.push(id);
    }
    test_db
        .execute(&format!(
            "UPDATE event_inbox SET payload = 'not json' WHERE id = {}",
            ids[1]
        ))
        .await;

    let items = inbox
        .claim("w1", 10, at(100), at(10_100))
        .await
        .expect("the good rows are claimed despite the bad one");
    assert_eq!(
        items.iter().map(|i| i.id).collect::<Vec<_>>(),
        [ids[0], ids[2]]
    );
    let rows = test_db
        .strings(
            &format!(
                "SELECT note, last_error, COALESCE(lease_owner, '-') FROM event_inbox \
                 WHERE processed_at IS NOT NULL AND id = {}",
                ids[1]
            ),
            3,
        )
        .await;
    assert_eq!(rows.len(), 1, "set aside as processed");
    assert!(
        rows[0][0]
            .starts_with("undecodable inbox row: stored data is corrupt: event_inbox.payload: "),
        "{}",
        rows[0][0]
    );
    assert_eq!(rows[0][1], rows[0][0]);
    assert_eq!(rows[0][2], "-", "the lease is released");
    // Never claimed again, even after every lease has expired.
    let later = inbox
        .claim("w2", 10, at(20_000), at(30_000))
        .await
        .expect("claim");
    assert_eq!(
        later.iter().map(|i| i.id).collect::<Vec<_>>(),
        [ids[0], ids[2]]
    );
}

async fn group_commit_settles_and_claims_beside_pushes(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let inbox = Arc::new(GroupCommitInbox::spawn(SeaOrmEventInbox::new(
        test_db.db.clone(),
    )));
    for n in 0..100 {
        inbox
            .record(&event(&format!("s-{n}")), at(n))
            .await
            .expect("record");
    }
    let items = inbox
        .claim("w", 100, at(1_000), at(60_000))
        .await
        .expect("claim");
    assert_eq!(items.len(), 100);
    // Settlements, new pushes and a claim all at once: they share batches, and each call is
    // answered as it would be alone.
    let mut tasks = tokio::task::JoinSet::new();
    for (i, item) in items.iter().enumerate() {
        let (inbox, id) = (inbox.clone(), item.id);
        tasks.spawn(async move {
            if i % 2 == 0 {
                inbox.mark_processed(id, None).await
            } else {
                inbox.release(id, at(2_000), "order not registered").await
            }
        });
    }
    for n in 0..100 {
        let inbox = inbox.clone();
        tasks.spawn(async move {
            let outcome = inbox.record(&event(&format!("t-{n}")), at(1_500)).await?;
            assert!(matches!(outcome, RecordOutcome::Recorded(_)), "{outcome:?}");
            Ok(())
        });
    }
    let early = {
        let inbox = inbox.clone();
        tokio::spawn(async move { inbox.claim("w2", 500, at(1_600), at(61_600)).await })
    };
    while let Some(result) = tasks.join_next().await {
        result.expect("task").expect("every call answered Ok");
    }
    // What the early claim took is the new pushes it saw; none of the 100 settled ones, which
    // were leased to `w` until then.
    let early = early.await.expect("task").expect("claim");
    assert!(
        early
            .iter()
            .all(|item| !items.iter().any(|i| i.id == item.id))
    );
    // The released half comes back at its time with one attempt counted; the processed half
    // never does; the new pushes are there too (the early claim's lease has run out).
    let later = inbox
        .claim("w3", 500, at(70_000), at(130_000))
        .await
        .expect("claim");
    let released: Vec<_> = later
        .iter()
        .filter(|item| items.iter().any(|i| i.id == item.id))
        .collect();
    assert_eq!(released.len(), 50);
    assert!(released.iter().all(|item| item.attempts == 1));
    assert_eq!(later.len() - released.len(), 100);
    // A processed push cannot be released; an unknown one cannot be marked.
    assert!(matches!(
        inbox.release(items[0].id, at(80_000), "late").await,
        Err(RepositoryError::NotFound(_))
    ));
    assert!(matches!(
        inbox.mark_processed(-1, None).await,
        Err(RepositoryError::NotFound(_))
    ));
}

async fn wake_makes_only_waiting_pushes_under_the_keys_due(kind: Kind) {
    let test_db = TestDb::new(kind).await;
    let inbox = SeaOrmEventInbox::new(test_db.db.clone());
    let ids: Vec<i64> = {
        let mut ids = Vec::new();
        for from in ["waiting", "leased", "processed", "other"] {
            match inbox.record(&event(from), at(1_000)).await.expect("record") {
                RecordOutcome::Recorded(id) => ids.push(id),
                other => panic!("{from}: {other:?}"),
            }
        }
        ids
    };
    let key = |from: &str| event(from).dedupe_key();
    // All four claimed; "waiting" and "other" released for a retry much later, "processed"
    // done, "leased" still held.
    let claimed = inbox
        .claim("w1", 10, at(2_000), at(62_000))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 4);
    inbox
        .release(ids[0], at(900_000), "order not registered")
        .await
        .expect("release");
    inbox
        .release(ids[3], at(900_000), "order not registered")
        .await
        .expect("release");
    inbox.mark_processed(ids[2], None).await.expect("processed");

    let woken = inbox
        .wake(
            &[
                key("waiting"),
                key("leased"),
                key("processed"),
                key("absent"),
            ],
            at(3_000),
        )
        .await
        .expect("wake");
    assert_eq!(woken, 1, "only the waiting push under the keys");
    let due: Vec<i64> = inbox
        .claim("w2", 10, at(3_000), at(63_000))
        .await
        .expect("claim")
        .iter()
        .map(|item| item.id)
        .collect();
    assert_eq!(
        due,
        [ids[0]],
        "the other key's push still waits for its retry"
    );
    assert_eq!(
        inbox
            .wake(&[key("waiting")], at(3_000))
            .await
            .expect("wake"),
        0,
        "a claimed push is left to its holder"
    );
}
