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
