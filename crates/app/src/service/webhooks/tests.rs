use std::sync::{Arc, Mutex};

use fapiao_domain::ports::{MockWebhookOutbox, MockWebhookTransport};
use fapiao_domain::testing::ManualClock;
use fapiao_domain::testing::fixtures;
use fapiao_domain::webhook::EventType;

use super::*;

const T0: i64 = 1_780_000_000_000;
const SECRET: &str = "whsec_test_0123456789abcdef";

fn settings(retry_hours: u64) -> WebhookSettings {
    WebhookSettings {
        endpoints: vec![WebhookEndpoint {
            name: "erp".to_owned(),
            url: "https://erp.example.com/hooks/fapiao".to_owned(),
            secret: Secret::new(SECRET),
            events: EventSelection::All,
        }],
        retry_for: Duration::from_secs(retry_hours * 3600),
        initial_backoff: Duration::from_secs(5),
        max_backoff: Duration::from_secs(900),
        concurrency: 8,
        poll: Duration::from_millis(250),
        lease: Duration::from_secs(60),
        worker_id: "w1".to_owned(),
        retention: None,
    }
}

fn delivery(id: i64, sequence: u32, attempts: u32, created_at: i64) -> Delivery {
    Delivery {
        id,
        endpoint: "erp".to_owned(),
        event_id: id + 100,
        event_type: EventType::InvoiceIssued,
        key: fixtures::key("1202933957956"),
        sequence,
        data: format!("{{\"sequence\":{sequence}}}"),
        occurred_at: Timestamp::from_millis(T0),
        attempts,
        created_at: Timestamp::from_millis(created_at),
        lease_until: Timestamp::from_millis(T0 + 60_000),
    }
}

fn service(
    outbox: MockWebhookOutbox,
    transport: MockWebhookTransport,
    clock: Arc<ManualClock>,
    retry_hours: u64,
) -> WebhookService {
    WebhookService::new(
        Arc::new(outbox),
        Arc::new(transport),
        clock,
        settings(retry_hours),
    )
}

#[test]
fn the_signature_is_hmac_sha256_over_timestamp_dot_body_in_hex() {
    // Computed independently: Python's hmac.new(secret, b'1780000000.{"id":"evt_1"}', sha256).
    assert_eq!(
        signature(SECRET, 1_780_000_000, r#"{"id":"evt_1"}"#),
        "t=1780000000,v1=bcd911deffd93ab4b14800ae88c85a96d70e60a4ff1e37c4cfb7bbaaf9fd9011"
    );
    assert_ne!(
        signature(SECRET, 1_780_000_001, r#"{"id":"evt_1"}"#),
        signature(SECRET, 1_780_000_000, r#"{"id":"evt_1"}"#)
    );
}

#[test]
fn the_envelope_is_json_with_the_stable_id_type_time_and_data() {
    let body = envelope(&delivery(7, 3, 0, T0));
    let value: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(value["id"], "evt_107");
    assert_eq!(value["type"], "invoice.issued");
    assert_eq!(value["data"]["sequence"], 3);
    assert_eq!(
        value["created_at"],
        Timestamp::from_millis(T0).to_string().as_str()
    );
    assert_eq!(
        body,
        envelope(&delivery(7, 3, 0, T0)),
        "same bytes every time"
    );
}

#[tokio::test]
async fn a_round_posts_signed_events_and_records_each_outcome() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
    let mut outbox = MockWebhookOutbox::new();
    outbox.expect_fan_out().returning(|subs, _, _| {
        assert_eq!(subs.len(), 1);
        assert_eq!(subs[0].endpoint, "erp");
        Ok(2)
    });
    outbox.expect_claim().returning(|worker, limit, _, lease| {
        assert_eq!((worker, limit), ("w1", 8));
        assert_eq!(lease.millis(), T0 + 60_000);
        Ok(vec![delivery(1, 1, 0, T0), delivery(2, 1, 2, T0)])
    });
    let recorded: Arc<Mutex<Vec<(i64, AttemptOutcome)>>> = Arc::default();
    let sink = recorded.clone();
    outbox.expect_record().returning(move |d, worker, outcome| {
        assert_eq!(worker, "w1");
        sink.lock().unwrap().push((d.id, outcome.clone()));
        Ok(())
    });
    let mut transport = MockWebhookTransport::new();
    transport.expect_post().returning(|request| {
        assert_eq!(request.url, "https://erp.example.com/hooks/fapiao");
        let header = |name: &str| {
            request
                .headers
                .iter()
                .find(|(k, _)| k == name)
                .map(|(_, v)| v.clone())
                .unwrap()
        };
        // The receiver's check, written from the documented format.
        let sig = header(SIGNATURE_HEADER);
        let (t, v1) = sig.split_once(',').unwrap();
        let t: i64 = t.strip_prefix("t=").unwrap().parse().unwrap();
        assert_eq!(t, T0 / 1000);
        assert_eq!(format!("t={t},{v1}"), signature(SECRET, t, &request.body));
        let value: serde_json::Value = serde_json::from_str(&request.body).unwrap();
        assert_eq!(value["id"].as_str().unwrap(), header(EVENT_ID_HEADER));
        assert_eq!(header(EVENT_TYPE_HEADER), "invoice.issued");
        Ok(if value["id"] == "evt_101" { 204 } else { 503 })
    });
    let report = service(outbox, transport, clock, 72)
        .run_once()
        .await
        .unwrap();
    assert_eq!(
        report,
        RoundReport {
            spread: 2,
            attempted: 2,
            delivered: 1
        }
    );
    let mut recorded = recorded.lock().unwrap().clone();
    recorded.sort_by_key(|(id, _)| *id);
    assert_eq!(
        recorded[0],
        (
            1,
            AttemptOutcome::Delivered {
                status: 204,
                at: Timestamp::from_millis(T0)
            }
        )
    );
    // Third attempt failed: 5 s doubled twice, plus the id's spread (2/1000 of a fifth).
    let AttemptOutcome::Failed {
        status,
        next_attempt_at: Some(next),
        ..
    } = &recorded[1].1
    else {
        panic!("{:?}", recorded[1]);
    };
    assert_eq!(*status, Some(503));
    assert_eq!(next.millis(), T0 + 20_000 + 8);
}

#[tokio::test]
async fn a_delivery_is_retried_for_the_whole_span_then_given_up() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
    let svc = service(
        MockWebhookOutbox::new(),
        MockWebhookTransport::new(),
        clock.clone(),
        24,
    );
    let created = T0 - 23 * 3_600_000;
    // Late in the span: the backoff is capped at 15 minutes and the next attempt at the span's end.
    let AttemptOutcome::Failed {
        next_attempt_at: Some(next),
        ..
    } = svc.failure(&delivery(1000, 1, 30, created), None, "refused".into())
    else {
        panic!("retried");
    };
    assert_eq!(next.millis(), T0 + 900_000);
    clock.advance_millis(3_600_000 - 1000);
    let AttemptOutcome::Failed {
        next_attempt_at: Some(next),
        ..
    } = svc.failure(&delivery(1000, 1, 31, created), None, "refused".into())
    else {
        panic!("retried");
    };
    assert_eq!(
        next.millis(),
        created + 24 * 3_600_000,
        "the last attempt at the span's end"
    );
    clock.advance_millis(1000);
    assert!(matches!(
        svc.failure(
            &delivery(1000, 1, 32, created),
            Some(500),
            "HTTP 500".into()
        ),
        AttemptOutcome::Failed {
            next_attempt_at: None,
            status: Some(500),
            ..
        }
    ));
}

#[tokio::test]
async fn a_delivery_for_an_endpoint_no_longer_configured_is_given_up() {
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
    let svc = service(
        MockWebhookOutbox::new(),
        MockWebhookTransport::new(),
        clock,
        72,
    );
    let mut gone = delivery(1, 1, 0, T0);
    gone.endpoint = "old".to_owned();
    let AttemptOutcome::Failed {
        error,
        next_attempt_at,
        ..
    } = svc.attempt(&gone).await
    else {
        panic!("not delivered");
    };
    assert!(error.contains("\"old\""), "{error}");
    assert_eq!(next_attempt_at, None);
}

#[test]
fn the_secret_stays_out_of_debug_output() {
    let text = format!("{:?}", settings(72));
    assert!(!text.contains(SECRET), "{text}");
}
