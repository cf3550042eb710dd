#![allow(clippy::unwrap_used, clippy::expect_used, clippy::panic)]

use fapiao_domain::order::{Authorization, Input, Order};
use fapiao_domain::ports::{
    AttemptOutcome, DeliveryFilter, DeliveryStatus, OrderRepository, RepositoryError, Subscription,
    WebhookOutbox,
};
use fapiao_domain::testing::fixtures;
use fapiao_domain::webhook::{EventSelection, EventType};
use fapiao_domain::{OpenId, Scenario};
use fapiao_storage::{SeaOrmOrderRepository, SeaOrmWebhookOutbox};

use crate::harness::{Kind, TestDb, at};
use crate::on_both;

on_both!(
    events_are_written_with_their_change_and_only_with_it,
    deliveries_go_out_in_order_per_endpoint_and_order,
    an_undecodable_delivery_is_given_up_and_holds_nothing_back,
);

fn subs() -> Vec<Subscription> {
    vec![
        Subscription {
            endpoint: "all".to_owned(),
            events: EventSelection::All,
        },
        Subscription {
            endpoint: "created-only".to_owned(),
            events: EventSelection::Only(vec![EventType::OrderCreated]),
        },
    ]
}

/// An order three entries long: created, awaiting authorization, authorized.
async fn stored_order(repo: &SeaOrmOrderRepository, order_id: &str) -> Order {
    let mut order = Order::create(
        fixtures::new_order(order_id, Scenario::OfficialAccount),
        at(1_000),
    )
    .expect("valid order");
    repo.insert(&order, &[]).await.expect("insert");
    order.mark_saved();
    order
        .apply(Input::AuthUrlIssued, at(2_000))
        .expect("allowed");
    repo.update(&order, &[]).await.expect("update");
    order.mark_saved();
    order
        .apply(
            Input::BuyerAuthorized(Authorization {
                openid: Some(OpenId::parse("oBuyer0001").expect("openid")),
                appid: None,
                source: None,
                at: at(3_000),
            }),
            at(3_000),
        )
        .expect("allowed");
    repo.update(&order, &[]).await.expect("update");
    order.mark_saved();
    order
}

async fn events_are_written_with_their_change_and_only_with_it(kind: Kind) {
    let t = TestDb::new(kind).await;
    let outbox = SeaOrmWebhookOutbox::new(t.db.clone());
    // Without the outbox switched on, a change writes no event.
    let quiet = SeaOrmOrderRepository::new(t.db.clone());
    stored_order(&quiet, "QUIET-1").await;
    assert_eq!(outbox.fan_out(&subs(), at(5_000), 100).await.unwrap(), 0);

    let repo = SeaOrmOrderRepository::new(t.db.clone()).with_webhook_outbox(true);
    let order = stored_order(&repo, "ORDER-1").await;
    // A stale save is refused whole: no event either.
    let mut older = order.clone();
    older
        .apply(
            Input::AuthDataFetched {
                buyer: Some(fixtures::company()),
                note: None,
                issue_key: fapiao_domain::IssueKey::parse("K1").unwrap(),
            },
            at(4_000),
        )
        .unwrap();
    repo.update(&older, &[]).await.expect("first save wins");
    let mut loser = order.clone();
    loser
        .apply(
            Input::AuthDataFetched {
                buyer: None,
                note: None,
                issue_key: fapiao_domain::IssueKey::parse("K2").unwrap(),
            },
            at(4_500),
        )
        .unwrap();
    assert!(matches!(
        repo.update(&loser, &[]).await,
        Err(RepositoryError::StaleVersion { .. })
    ));

    // Four entries were saved: four events, spread once.
    assert_eq!(outbox.fan_out(&subs(), at(5_000), 100).await.unwrap(), 4);
    assert_eq!(outbox.fan_out(&subs(), at(5_000), 100).await.unwrap(), 0);
    let all = outbox
        .list(&DeliveryFilter {
            endpoint: Some("all".to_owned()),
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    let mut seen: Vec<(u32, &str)> = all
        .iter()
        .map(|d| (d.sequence, d.event_type.code()))
        .collect();
    seen.sort_unstable();
    assert_eq!(
        seen,
        [
            (1, "order.created"),
            (2, "order.state_changed"),
            (3, "order.state_changed"),
            (4, "order.state_changed"),
        ]
    );
    assert!(all.iter().all(|d| d.key.order_id.as_str() == "ORDER-1"));
    let created_only = outbox
        .list(&DeliveryFilter {
            endpoint: Some("created-only".to_owned()),
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(created_only.len(), 1);
    assert_eq!(created_only[0].event_type, EventType::OrderCreated);
    // The stored data is the event's snapshot.
    let claimed = outbox.claim("w1", 10, at(5_000), at(65_000)).await.unwrap();
    let first = claimed
        .iter()
        .find(|d| d.endpoint == "all")
        .expect("the first event of the order");
    let data: serde_json::Value = serde_json::from_str(&first.data).unwrap();
    assert_eq!(data["order_id"], "ORDER-1");
    assert_eq!(data["sequence"], 1);
    assert_eq!(data["state"], "created");
    assert_eq!(first.occurred_at, at(1_000));
}

async fn deliveries_go_out_in_order_per_endpoint_and_order(kind: Kind) {
    let t = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(t.db.clone()).with_webhook_outbox(true);
    let outbox = SeaOrmWebhookOutbox::new(t.db.clone());
    stored_order(&repo, "A").await;
    stored_order(&repo, "B").await;
    let only_all = &subs()[..1];
    assert_eq!(outbox.fan_out(only_all, at(5_000), 100).await.unwrap(), 6);

    // Only each order's first event is claimable.
    let first = outbox
        .claim("w1", 100, at(5_000), at(65_000))
        .await
        .unwrap();
    let mut heads: Vec<(String, u32)> = first
        .iter()
        .map(|d| (d.key.order_id.as_str().to_owned(), d.sequence))
        .collect();
    heads.sort();
    assert_eq!(heads, [("A".to_owned(), 1), ("B".to_owned(), 1)]);
    // Leased: nothing more, for anyone.
    assert!(
        outbox
            .claim("w2", 100, at(5_000), at(65_000))
            .await
            .unwrap()
            .is_empty()
    );

    let a1 = first
        .iter()
        .find(|d| d.key.order_id.as_str() == "A")
        .unwrap();
    let b1 = first
        .iter()
        .find(|d| d.key.order_id.as_str() == "B")
        .unwrap();
    // Another worker cannot record it; the holder can.
    assert!(matches!(
        outbox
            .record(
                a1,
                "w2",
                &AttemptOutcome::Delivered {
                    status: 200,
                    at: at(6_000)
                }
            )
            .await,
        Err(RepositoryError::LeaseLost(_))
    ));
    outbox
        .record(
            a1,
            "w1",
            &AttemptOutcome::Delivered {
                status: 200,
                at: at(6_000),
            },
        )
        .await
        .unwrap();
    // B's first failed: retried at 20 s; B's second waits behind it.
    outbox
        .record(
            b1,
            "w1",
            &AttemptOutcome::Failed {
                status: Some(503),
                error: "answered HTTP 503".to_owned(),
                next_attempt_at: Some(at(20_000)),
            },
        )
        .await
        .unwrap();
    let next = outbox
        .claim("w1", 100, at(7_000), at(67_000))
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!((next[0].key.order_id.as_str(), next[0].sequence), ("A", 2));
    let again = outbox
        .claim("w1", 100, at(20_000), at(80_000))
        .await
        .unwrap();
    assert_eq!(again.len(), 1);
    assert_eq!(
        (again[0].key.order_id.as_str(), again[0].sequence),
        ("B", 1)
    );
    assert_eq!(again[0].attempts, 1);
    // Given up: it no longer holds B's later events back, and shows in the log as failed.
    outbox
        .record(
            &again[0],
            "w1",
            &AttemptOutcome::Failed {
                status: None,
                error: "could not connect".to_owned(),
                next_attempt_at: None,
            },
        )
        .await
        .unwrap();
    let after = outbox
        .claim("w1", 100, at(21_000), at(81_000))
        .await
        .unwrap();
    assert_eq!(after.len(), 1);
    assert_eq!(
        (after[0].key.order_id.as_str(), after[0].sequence),
        ("B", 2)
    );
    let failed = outbox
        .list(&DeliveryFilter {
            status: Some(DeliveryStatus::Failed),
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(failed.len(), 1);
    assert_eq!(failed[0].attempts, 2);
    assert_eq!(failed[0].last_error.as_deref(), Some("could not connect"));
    assert_eq!(failed[0].next_attempt_at, None);
    let mut counts = outbox.count_by_status().await.unwrap();
    counts.sort_by_key(|(s, _)| s.code());
    assert_eq!(
        counts,
        [
            (DeliveryStatus::Delivered, 1),
            (DeliveryStatus::Failed, 1),
            (DeliveryStatus::Pending, 4),
        ]
    );
    // Redelivery makes it pending and due at once, attempts reset.
    assert!(outbox.redeliver(failed[0].id, at(30_000)).await.unwrap());
    assert!(!outbox.redeliver(9_999_999, at(30_000)).await.unwrap());
    let log = outbox
        .list(&DeliveryFilter {
            order: Some(failed[0].key.clone()),
            limit: 10,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    let redone = log.iter().find(|d| d.id == failed[0].id).unwrap();
    assert_eq!(redone.status, DeliveryStatus::Pending);
    assert_eq!(redone.attempts, 0);
    assert_eq!(redone.next_attempt_at, Some(at(30_000)));
    assert_eq!(log.len(), 3, "B's three deliveries");
    assert!(log.windows(2).all(|w| w[0].id > w[1].id), "newest first");

    // The purge takes what ended before the cut, never a pending delivery.
    // Events carry the wall clock's time of their write.
    let now = i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap();
    assert_eq!(
        outbox.purge(at(0)).await.unwrap(),
        0,
        "nothing is older than 0"
    );
    let purged = outbox.purge(at(now + 60_000)).await.unwrap();
    // A's first (delivered): its delivery and its event.
    assert_eq!(purged, 2);
    let left = outbox
        .list(&DeliveryFilter {
            limit: 100,
            ..DeliveryFilter::default()
        })
        .await
        .unwrap();
    assert_eq!(left.len(), 5);
    assert!(left.iter().all(|d| d.status == DeliveryStatus::Pending));
}

async fn an_undecodable_delivery_is_given_up_and_holds_nothing_back(kind: Kind) {
    let t = TestDb::new(kind).await;
    let repo = SeaOrmOrderRepository::new(t.db.clone()).with_webhook_outbox(true);
    let outbox = SeaOrmWebhookOutbox::new(t.db.clone());
    stored_order(&repo, "C").await;
    assert_eq!(
        outbox.fan_out(&subs()[..1], at(5_000), 100).await.unwrap(),
        3
    );
    // The first delivery's type is one this version does not know (a newer one wrote it).
    t.execute("UPDATE webhook_deliveries SET event_type = 'order.vanished' WHERE seq = 1")
        .await;
    let claimed = outbox
        .claim("w1", 100, at(5_000), at(65_000))
        .await
        .unwrap();
    assert!(claimed.is_empty(), "{claimed:?}");
    let rows = t
        .strings(
            "SELECT status, last_error FROM webhook_deliveries WHERE seq = 1",
            2,
        )
        .await;
    assert_eq!(rows[0][0], "failed");
    assert!(rows[0][1].contains("order.vanished"), "{rows:?}");
    // Given up, it no longer holds the order's next event back.
    let next = outbox
        .claim("w1", 100, at(5_000), at(65_000))
        .await
        .unwrap();
    assert_eq!(next.len(), 1);
    assert_eq!((next[0].key.order_id.as_str(), next[0].sequence), ("C", 2));
}
