//! The event inbox's part of the contract.

use super::*;
fn push(from: &str) -> WeixinEvent {
    WeixinEvent::Other {
        msg_type: "event".to_owned(),
        event: Some("subscribe".to_owned()),
        from: from.to_owned(),
        create_time: at(1_700_000_000_000),
    }
}

/// A push is stored once; a claimed push is not handed out again until its lease ends or it
/// is released, and then with the attempt counted.
pub async fn the_inbox_dedupes_and_leases(stores: Stores) {
    let inbox = &stores.inbox;
    let RecordOutcome::Recorded(first) = inbox.record(&push("a"), at(1_000)).await.expect("record")
    else {
        panic!("a new push is recorded");
    };
    assert_eq!(
        inbox.record(&push("a"), at(1_500)).await.expect("record"),
        RecordOutcome::Duplicate
    );
    let RecordOutcome::Recorded(second) =
        inbox.record(&push("b"), at(2_000)).await.expect("record")
    else {
        panic!("another push is recorded");
    };
    assert!(first < second, "ids grow");
    let claimed = inbox
        .claim("w1", 10, at(3_000), at(33_000))
        .await
        .expect("claim");
    assert_eq!(
        claimed.iter().map(|i| i.id).collect::<Vec<_>>(),
        [first, second]
    );
    assert_eq!(claimed[0].event, push("a"));
    assert!(
        inbox
            .claim("w2", 10, at(4_000), at(34_000))
            .await
            .expect("claim")
            .is_empty(),
        "leased"
    );
    inbox
        .release(first, at(10_000), "busy")
        .await
        .expect("release");
    inbox.mark_processed(second, None).await.expect("processed");
    assert!(
        inbox
            .claim("w2", 10, at(9_999), at(34_000))
            .await
            .expect("claim")
            .is_empty(),
        "released until 10 000, the other processed"
    );
    let again = inbox
        .claim("w2", 10, at(10_000), at(40_000))
        .await
        .expect("claim");
    assert_eq!(again.len(), 1);
    assert_eq!(again[0].id, first);
    assert_eq!(again[0].attempts, 1);
}

/// A processed event cannot be released back into the inbox (it would be processed twice),
/// nor can an unknown one.
pub async fn the_inbox_refuses_to_release_a_processed_event(stores: Stores) {
    let inbox = &stores.inbox;
    let RecordOutcome::Recorded(id) = inbox.record(&push("a"), at(1_000)).await.expect("record")
    else {
        panic!("a new push is recorded");
    };
    let claimed = inbox
        .claim("w1", 1, at(1_000), at(31_000))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 1);
    inbox
        .mark_processed(id, Some("done".to_owned()))
        .await
        .expect("processed");
    let refused = inbox.release(id, at(2_000), "late failure").await;
    assert!(
        matches!(refused, Err(RepositoryError::NotFound(_))),
        "{refused:?}"
    );
    assert!(
        inbox
            .claim("w1", 10, at(1_000_000), at(2_000_000))
            .await
            .expect("claim")
            .is_empty(),
        "a processed event is never claimed again"
    );
    let unknown = inbox.release(id + 1_000, at(2_000), "x").await;
    assert!(
        matches!(unknown, Err(RepositoryError::NotFound(_))),
        "{unknown:?}"
    );
}

/// Pushes processed with a note are listed as set aside, by id, past a cursor; each push
/// reports where it stands; a set-aside push processed again without a note is applied.
pub async fn the_inbox_lists_set_aside_pushes_and_reports_status(stores: Stores) {
    let inbox = &stores.inbox;
    let mut ids = Vec::new();
    for from in ["a", "b", "c", "d"] {
        let RecordOutcome::Recorded(id) =
            inbox.record(&push(from), at(1_000)).await.expect("record")
        else {
            panic!("a new push is recorded");
        };
        ids.push(id);
    }
    let [applied, unmatched, pending, later] = ids[..] else {
        panic!("four ids");
    };
    let claimed = inbox
        .claim("w1", 10, at(1_000), at(31_000))
        .await
        .expect("claim");
    assert_eq!(claimed.len(), 4);
    inbox
        .mark_processed(applied, None)
        .await
        .expect("processed");
    inbox
        .mark_processed(unmatched, Some("no order".to_owned()))
        .await
        .expect("processed");
    inbox
        .release(pending, at(50_000), "storage busy")
        .await
        .expect("release");
    inbox
        .mark_processed(later, Some("not yet registered".to_owned()))
        .await
        .expect("processed");

    assert_eq!(
        inbox.status(applied).await.expect("status"),
        Some(InboxStatus::Applied)
    );
    assert_eq!(
        inbox.status(pending).await.expect("status"),
        Some(InboxStatus::Pending)
    );
    assert_eq!(inbox.status(later + 1_000).await.expect("status"), None);
    match inbox.status(unmatched).await.expect("status") {
        Some(InboxStatus::SetAside(set_aside)) => {
            assert_eq!(
                (
                    set_aside.item.id,
                    &set_aside.item.event,
                    set_aside.note.as_str()
                ),
                (unmatched, &push("b"), "no order")
            );
            assert_eq!(set_aside.item.received_at, at(1_000));
        }
        other => panic!("set aside, not {other:?}"),
    }

    let listed = |events: Vec<SetAsideEvent>| -> Vec<(i64, String)> {
        events.into_iter().map(|e| (e.item.id, e.note)).collect()
    };
    assert_eq!(
        listed(inbox.set_aside(None, 10).await.expect("list")),
        [
            (unmatched, "no order".to_owned()),
            (later, "not yet registered".to_owned())
        ]
    );
    assert_eq!(
        listed(inbox.set_aside(None, 0).await.expect("list")),
        [(unmatched, "no order".to_owned())],
        "a limit of 0 means 1"
    );
    assert_eq!(
        listed(inbox.set_aside(Some(unmatched), 10).await.expect("list")),
        [(later, "not yet registered".to_owned())]
    );
    // Replayed and applied: no longer set aside.
    inbox
        .mark_processed(unmatched, None)
        .await
        .expect("processed");
    assert_eq!(
        inbox.status(unmatched).await.expect("status"),
        Some(InboxStatus::Applied)
    );
    assert_eq!(
        listed(inbox.set_aside(None, 10).await.expect("list")),
        [(later, "not yet registered".to_owned())]
    );
}
