//! No order is ever stuck: lost answers are asked again, stale workers save nothing, early
//! pushes wait for their order, and every way out of needs-attention works.

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use fapiao_app::{AppError, EventOutcome, JobOutcome};
use fapiao_domain::ids::{CardCode, MediaId, OpenId};
use fapiao_domain::invoice::RedReason;
use fapiao_domain::order::{AttentionReason, OrderState, Step};
use fapiao_domain::ports::{MockWeixinPlatformApi, WeixinPlatformApi};
use fapiao_domain::scenario::Scenario;
use fapiao_domain::testing::FakeIssuerMode;
use fapiao_domain::weixin::{
    InsertedCard, InvoiceStatusEvent, ReimburseStatus, WeixinError, WeixinEvent,
};
use fapiao_domain::{CardId, Timestamp};

use crate::harness::*;

trait ParseOrder {
    fn parse_order(&self) -> fapiao_domain::OrderId;
}

impl ParseOrder for &str {
    fn parse_order(&self) -> fapiao_domain::OrderId {
        fapiao_domain::OrderId::parse(self).unwrap()
    }
}

fn status_push(code: &str, status: ReimburseStatus, at: i64) -> WeixinEvent {
    WeixinEvent::InvoiceStatus(InvoiceStatusEvent {
        openid: OpenId::parse("oBuyer0001").unwrap(),
        create_time: Timestamp::from_unix_seconds(at),
        status,
        card_id: card_id(),
        code: CardCode::parse(code).unwrap(),
    })
}

/// The card `code` of the template is cancelled once.
fn expect_cancel_of(platform: &mut MockWeixinPlatformApi, code: &'static str) {
    platform
        .expect_update_card_status()
        .withf(move |card, got, status| {
            *card == card_id() && got.as_str() == code && *status == ReimburseStatus::Cancel
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
}

/// The buyer's card list of the template is asked for once and names `codes`.
fn expect_card_list(platform: &mut MockWeixinPlatformApi, codes: &'static [&'static str]) {
    platform
        .expect_user_card_codes()
        .withf(|openid, card| openid.as_str() == "oBuyer0001" && *card == card_id())
        .times(1)
        .returning(move |_, _| Ok(codes.iter().map(|c| CardCode::parse(c).unwrap()).collect()));
}

/// A platform whose insert was applied but whose answer was lost: the repeat says 72056.
fn platform_losing_the_insert_answer() -> MockWeixinPlatformApi {
    let mut platform = MockWeixinPlatformApi::new();
    platform
        .expect_upload_pdf()
        .times(1)
        .returning(|_| Ok(MediaId::parse("3015806758683707").unwrap()));
    let calls = AtomicU32::new(0);
    platform.expect_insert_card().times(2).returning(move |_| {
        Err(if calls.fetch_add(1, Ordering::SeqCst) == 0 {
            WeixinError::Unavailable("timed out after sending".into())
        } else {
            WeixinError::Api {
                errcode: 72056,
                errmsg: "order_id repeated, please check order_id".into(),
            }
        })
    });
    expect_cancel_of(&mut platform, "682000000077");
    // The buyer holds two cards of the template that no order accounts for: which one is this
    // order's cannot be told, so the code stays unknown.
    expect_card_list(&mut platform, &["682000000077", "682000000078"]);
    platform
}

#[tokio::test]
async fn a_lost_insert_answer_takes_the_one_unaccounted_code_of_the_buyers_card_list() {
    let mut platform = MockWeixinPlatformApi::new();
    platform
        .expect_upload_pdf()
        .times(2)
        .returning(|_| Ok(MediaId::parse("3015806758683707").unwrap()));
    let calls = AtomicU32::new(0);
    platform.expect_insert_card().times(3).returning(move |_| {
        match calls.fetch_add(1, Ordering::SeqCst) {
            // K0 gets its card and keeps its code.
            0 => Ok(InsertedCard {
                code: CardCode::parse("682000000076").unwrap(),
                openid: OpenId::parse("oBuyer0001").unwrap(),
                unionid: None,
            }),
            // K1's insert is applied, its answer lost; the repeat says order_id repeated.
            1 => Err(WeixinError::Unavailable("timed out after sending".into())),
            _ => Err(WeixinError::Api {
                errcode: 72056,
                errmsg: "order_id repeated, please check order_id".into(),
            }),
        }
    });
    // The buyer holds K0's card and K1's: only K1's is unaccounted for.
    expect_card_list(&mut platform, &["682000000076", "682000000077"]);
    // So a reversal of K1 cancels its card at once, by that code.
    expect_cancel_of(&mut platform, "682000000077");
    let h = harness(
        merchant(2, appid("oa"), false),
        platform,
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.deliver("K0").await;
    h.deliver("K1").await;
    let k0 = h.order("K0").await;
    let k1 = h.order("K1").await;
    assert_eq!(
        k0.card()
            .and_then(|c| c.code.as_ref())
            .map(CardCode::as_str),
        Some("682000000076")
    );
    assert_eq!(k1.state(), OrderState::Delivered, "{:?}", k1.history());
    assert_eq!(
        k1.card()
            .and_then(|c| c.code.as_ref())
            .map(CardCode::as_str),
        Some("682000000077")
    );
    assert!(
        k1.history()
            .last()
            .is_some_and(|h| h.cause.contains("found in the buyer's card list")),
        "{:?}",
        k1.history()
    );
    h.service
        .reverse(&"K1".parse_order(), RedReason::SalesReturn)
        .await
        .unwrap();
    h.drain(10).await;
    let k1 = h.order("K1").await;
    assert_eq!(k1.state(), OrderState::Reversed);
    assert!(k1.reversal().unwrap().card_cancelled);
}

#[tokio::test]
async fn a_lost_insert_answer_is_delivered_and_its_code_learned_from_a_status_push() {
    let h = harness(
        merchant(1, appid("oa"), false),
        platform_losing_the_insert_answer(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.deliver("L1").await;
    let order = h.order("L1").await;
    assert_eq!(
        order.state(),
        OrderState::Delivered,
        "{:?}",
        order.history()
    );
    let card = order.card().unwrap();
    assert_eq!(card.code, None);
    assert_eq!(card.openid.as_ref().map(OpenId::as_str), Some("oBuyer0001"));

    // A reversal goes through; the card cancel waits for the code.
    h.service
        .reverse(&"L1".parse_order(), RedReason::SalesReturn)
        .await
        .unwrap();
    h.drain(10).await;
    let order = h.order("L1").await;
    assert_eq!(order.state(), OrderState::Reversed);
    assert!(order.reversal().unwrap().red_invoice.is_some());
    assert!(!order.reversal().unwrap().card_cancelled);

    // The reimburser's status push names the card: the code is learned, the push applied, and
    // the pending cancel sent with the code.
    h.push(status_push(
        "682000000077",
        ReimburseStatus::Lock,
        1_780_000_100,
    ))
    .await;
    let order = h.order("L1").await;
    let card = order.card().unwrap();
    assert_eq!(
        card.code.as_ref().map(CardCode::as_str),
        Some("682000000077")
    );
    assert_eq!(card.reimbursement, ReimburseStatus::Lock);
    h.drain(10).await;
    let order = h.order("L1").await;
    assert!(order.reversal().unwrap().card_cancelled);
    assert_eq!(
        order.card().map(|c| c.reimbursement),
        Some(ReimburseStatus::Cancel)
    );
    // A later push for that card now matches by its code.
    let outcome = h
        .service
        .handle_event(&status_push(
            "682000000077",
            ReimburseStatus::Lock,
            1_780_000_200,
        ))
        .await
        .unwrap();
    assert!(matches!(outcome, EventOutcome::Ignored(_)), "{outcome:?}");
}

#[tokio::test]
async fn a_worker_whose_lease_passed_saves_nothing() {
    let h = harness(
        merchant(1, appid("oa"), false),
        platform(appid("oa")),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "F1"))
        .await
        .unwrap();
    h.push(authorization("F1", true, None, 1_780_000_010)).await;
    // Worker A claims the getauthdata job with a 10-second lease and stalls.
    let stale = h.service.claim_jobs("worker-a", 1, 10_000).await.unwrap();
    assert_eq!(stale.len(), 1);
    // The lease runs out; worker B claims the job and does the whole pipeline.
    h.clock.advance_millis(11_000);
    let outcomes = h.service.run_due_jobs("worker-b", 1, 10_000).await.unwrap();
    assert_eq!(outcomes, vec![JobOutcome::Completed]);
    h.drain(20).await;
    let delivered = h.order("F1").await;
    assert_eq!(delivered.state(), OrderState::Delivered);
    // A comes back: its answer is not saved, over B's work or anywhere.
    let outcome = h.service.run_job(&stale[0], "worker-a").await.unwrap();
    assert!(
        matches!(&outcome, JobOutcome::Skipped(reason) if reason.contains("lease") || reason.contains("no longer applies")),
        "{outcome:?}"
    );
    assert_eq!(h.order("F1").await, delivered);
    // The fence holds for a step that still applies, too: a stale StepFailed never lands.
    let fenced = h
        .ports
        .jobs
        .retry(&stale[0], "worker-a", h.clock_now(), "late")
        .await;
    assert!(fenced.is_err());
    assert_eq!(h.issuer.invoices_issued(), 1);
}

/// A platform whose PDF upload takes `upload` (in real time); inserts succeed.
struct SlowUpload {
    upload: Duration,
}

#[async_trait::async_trait]
impl WeixinPlatformApi for SlowUpload {
    async fn platform_id(&self) -> Result<fapiao_domain::SPappId, WeixinError> {
        Err(WeixinError::Rejected("not used".into()))
    }
    async fn create_card_template(
        &self,
        _: &fapiao_domain::weixin::CardTemplate,
    ) -> Result<CardId, WeixinError> {
        Err(WeixinError::Rejected("not used".into()))
    }
    async fn upload_pdf(&self, _: &[u8]) -> Result<MediaId, WeixinError> {
        tokio::time::sleep(self.upload).await;
        Ok(MediaId::parse("3015806758683707").unwrap())
    }
    async fn pdf_url(&self, _: &MediaId) -> Result<fapiao_domain::weixin::PdfUrl, WeixinError> {
        Err(WeixinError::Rejected("not used".into()))
    }
    async fn insert_card(
        &self,
        _: &fapiao_domain::weixin::CardInsertion,
    ) -> Result<InsertedCard, WeixinError> {
        Ok(InsertedCard {
            code: CardCode::parse("682000000001").unwrap(),
            openid: OpenId::parse("oBuyer0001").unwrap(),
            unionid: None,
        })
    }
    async fn update_card_status(
        &self,
        _: &CardId,
        _: &CardCode,
        _: ReimburseStatus,
    ) -> Result<(), WeixinError> {
        Err(WeixinError::Rejected("not used".into()))
    }
    async fn user_card_codes(&self, _: &OpenId, _: &CardId) -> Result<Vec<CardCode>, WeixinError> {
        Err(WeixinError::Rejected("not used".into()))
    }
}

#[tokio::test]
async fn a_slow_step_renews_its_lease_so_nobody_takes_it_over() {
    let mut h = harness(
        merchant(1, appid("oa"), false),
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.ports.platform = Arc::new(SlowUpload {
        upload: Duration::from_millis(700),
    });
    h.service = fapiao_app::InvoiceService::new(h.ports.clone(), settings());
    let h = Arc::new(h);
    h.service
        .start(start_request(Scenario::OfficialAccount, "S1"))
        .await
        .unwrap();
    h.push(authorization("S1", true, None, 1_780_000_010)).await;
    // Run getauthdata and the issue; stop at the upload job.
    for _ in 0..2 {
        h.service.run_due_jobs("worker-a", 1, 60_000).await.unwrap();
    }
    assert_eq!(h.order("S1").await.state(), OrderState::Issued);
    // Worker A takes the upload with a 900 ms lease: the heartbeat renews it every 300 ms.
    let job = h.service.claim_jobs("worker-a", 1, 900).await.unwrap();
    assert_eq!(job.len(), 1);
    let runner = {
        let h = h.clone();
        let job = job[0].clone();
        tokio::spawn(async move { h.service.run_job(&job, "worker-a").await })
    };
    // The step's time passes on the service's clock too.
    tokio::time::sleep(Duration::from_millis(150)).await;
    h.clock.advance_millis(600);
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Past the first lease, but renewed: nobody else can take the job.
    h.clock.advance_millis(600);
    let taken = h.service.claim_jobs("worker-b", 1, 900).await.unwrap();
    assert!(taken.is_empty(), "the renewed lease holds");
    let outcome = runner.await.unwrap().unwrap();
    assert_eq!(outcome, JobOutcome::Completed);
    assert_eq!(h.order("S1").await.state(), OrderState::PdfUploaded);
}

#[tokio::test]
async fn an_issue_that_never_arrives_is_sent_again_with_backoff_within_the_attempt_limit() {
    let h = harness(
        merchant(1, appid("oa"), false),
        platform(appid("oa")),
        FakeIssuerMode::LostBeforeArriving,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "P1"))
        .await
        .unwrap();
    h.push(authorization("P1", true, None, 1_780_000_010)).await;
    let outcomes = h.drain(60).await;
    let retried: Vec<i64> = outcomes
        .iter()
        .filter_map(|o| match o {
            JobOutcome::Retried { after_millis, .. } => Some(*after_millis),
            _ => None,
        })
        .collect();
    let max_attempts = settings().retry.max_attempts;
    assert_eq!(retried.len() as u32, max_attempts - 1, "{outcomes:?}");
    assert!(
        retried.windows(2).all(|w| w[1] >= w[0]),
        "backoff grows: {retried:?}"
    );
    // One first issue, then one re-issue per query attempt: bounded, never a tight loop.
    assert_eq!(h.issuer.issue_calls(), 1 + max_attempts);
    let order = h.order("P1").await;
    assert_eq!(order.state(), OrderState::NeedsAttention);
    assert!(matches!(
        order.attention_details().map(|a| &a.reason),
        Some(AttentionReason::RetriesExhausted {
            step: Step::QueryIssue,
            ..
        })
    ));
    // The platform is back: retry queries with the same key and the order is delivered once.
    h.issuer.set_mode(FakeIssuerMode::Synchronous);
    h.service.retry(&"P1".parse_order()).await.unwrap();
    h.drain(20).await;
    assert_eq!(h.order("P1").await.state(), OrderState::Delivered);
    assert_eq!(h.issuer.invoices_issued(), 1);
}

#[tokio::test]
async fn a_card_cancel_whose_answer_was_lost_is_done_when_weixin_says_cancelled() {
    let mut platform = platform(appid("oa"));
    let calls = AtomicU32::new(0);
    platform
        .expect_update_card_status()
        .times(2)
        .returning(move |_, _, _| {
            Err(if calls.fetch_add(1, Ordering::SeqCst) == 0 {
                WeixinError::Unavailable("connection reset after sending".into())
            } else {
                WeixinError::Api {
                    errcode: 72060,
                    errmsg: "this invoice has been cancelled, check the reimburse_status please"
                        .into(),
                }
            })
        });
    let h = harness(
        merchant(1, appid("oa"), false),
        platform,
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.deliver("C1").await;
    h.service
        .reverse(&"C1".parse_order(), RedReason::SalesReturn)
        .await
        .unwrap();
    h.drain(10).await;
    let order = h.order("C1").await;
    assert_eq!(order.state(), OrderState::Reversed, "{:?}", order.history());
    assert!(order.reversal().unwrap().card_cancelled);
}

#[tokio::test]
async fn a_rejected_reversal_is_retried_as_a_new_request() {
    let mut platform = platform(appid("oa"));
    platform
        .expect_update_card_status()
        .times(1)
        .returning(|_, _, _| Ok(()));
    let h = harness(
        merchant(1, appid("oa"), false),
        platform,
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.deliver("V9").await;
    h.issuer
        .set_mode(FakeIssuerMode::Reject("红字确认单信息有误".into()));
    h.service
        .reverse(&"V9".parse_order(), RedReason::SalesReturn)
        .await
        .unwrap();
    h.drain(10).await;
    let order = h.order("V9").await;
    assert_eq!(order.state(), OrderState::NeedsAttention);
    let first_key = order.reversal().unwrap().key.clone();
    // The operator corrects the cause and retries: a new request under a new key.
    h.issuer.set_mode(FakeIssuerMode::Synchronous);
    let order = h.service.retry(&"V9".parse_order()).await.unwrap();
    assert_eq!(order.state(), OrderState::Reversing);
    assert_ne!(order.reversal().unwrap().key, first_key);
    h.drain(10).await;
    let order = h.order("V9").await;
    assert_eq!(order.state(), OrderState::Reversed);
    assert!(order.reversal().unwrap().card_cancelled);
}

#[tokio::test]
async fn an_authorization_before_the_order_is_registered_is_kept_and_matched() {
    let h = harness(
        merchant(0, appid("oa"), false),
        platform(appid("oa")),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    // The buyer taps the receipt before the merchant's backend registers the payment.
    h.push(authorization("4200000001", true, None, 1_780_000_010))
        .await;
    assert!(
        h.inbox.entries().iter().all(|(_, processed, _)| !processed),
        "kept, not set aside"
    );
    h.service
        .start(start_request(Scenario::PostPayment, "4200000001"))
        .await
        .unwrap();
    // The kept push comes round again after its backoff and is applied.
    h.clock.advance_millis(60_000);
    h.service.process_inbox("worker-1", 16).await.unwrap();
    h.drain(20).await;
    assert_eq!(h.order("4200000001").await.state(), OrderState::Delivered);
}

#[tokio::test]
async fn a_remark_the_platform_would_refuse_is_refused_at_the_request() {
    let h = harness(
        merchant(0, appid("oa"), false),
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let mut request = start_request(Scenario::OfficialAccount, "R1");
    request.remark = Some("备注".repeat(101));
    let err = h.service.start(request).await.unwrap_err();
    assert!(
        matches!(&err, AppError::Invalid { field, rule } if field == "remark" && rule.contains("202 characters")),
        "{err:?}"
    );
    assert!(
        h.service.order(&"R1".parse_order()).await.is_err(),
        "nothing stored"
    );
}

#[tokio::test]
async fn reconciliation_goes_round_the_oldest_first_and_past_errors() {
    let mut merchant = fapiao_domain::ports::MockWeixinMerchantApi::new();
    merchant
        .expect_wx_card_ticket()
        .returning(|_| Ok(fapiao_domain::Secret::new("ticket-1")));
    merchant.expect_auth_url().returning(|_, request| {
        Ok(fapiao_domain::weixin::AuthUrl {
            url: format!("https://sandbox.invalid/auth?order_id={}", request.order_id),
            appid: None,
        })
    });
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = asked.clone();
    merchant.expect_auth_data().returning(move |_, order_id| {
        log.lock().unwrap().push(order_id.to_string());
        match order_id.as_str() {
            "A1" => Err(WeixinError::Unavailable("timeout".into())),
            "A2" => Ok(company_auth_data()),
            _ => Ok(fapiao_domain::weixin::AuthData {
                status: fapiao_domain::weixin::AuthStatus::NeverAuth,
                ..company_auth_data()
            }),
        }
    });
    let h = harness(
        merchant,
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    for (i, id) in ["A1", "A2", "A3", "A4"].iter().enumerate() {
        h.service
            .start(start_request(Scenario::OfficialAccount, id))
            .await
            .unwrap();
        h.clock.advance_millis(1_000 + i as i64);
    }
    // A created post-payment order waits for the buyer's tap: reconciled too.
    h.service
        .start(start_request(Scenario::PostPayment, "A5"))
        .await
        .unwrap();
    h.clock
        .advance_millis(h.service.settings().reconcile_after_millis + 1);
    // Two a round: the oldest two, then the next two, then the last, then from the start.
    assert_eq!(h.service.reconcile_awaiting(2).await.unwrap(), 1);
    assert_eq!(h.order("A2").await.state(), OrderState::Authorized);
    assert_eq!(h.service.reconcile_awaiting(2).await.unwrap(), 0);
    assert_eq!(h.service.reconcile_awaiting(2).await.unwrap(), 0);
    assert_eq!(
        *asked.lock().unwrap(),
        ["A1", "A2", "A3", "A4", "A5"],
        "no order starved, an error stopped nothing"
    );
    h.service.reconcile_awaiting(2).await.unwrap();
    assert_eq!(
        asked.lock().unwrap()[5],
        "A1",
        "round again from the oldest"
    );
}

#[tokio::test]
async fn reconciliation_pages_orders_updated_at_the_same_instant_without_skipping_any() {
    let mut merchant = fapiao_domain::ports::MockWeixinMerchantApi::new();
    merchant
        .expect_wx_card_ticket()
        .returning(|_| Ok(fapiao_domain::Secret::new("ticket-1")));
    merchant.expect_auth_url().returning(|_, request| {
        Ok(fapiao_domain::weixin::AuthUrl {
            url: format!("https://sandbox.invalid/auth?order_id={}", request.order_id),
            appid: None,
        })
    });
    let asked = Arc::new(std::sync::Mutex::new(Vec::new()));
    let log = asked.clone();
    merchant.expect_auth_data().returning(move |_, order_id| {
        log.lock().unwrap().push(order_id.to_string());
        Ok(fapiao_domain::weixin::AuthData {
            status: fapiao_domain::weixin::AuthStatus::NeverAuth,
            ..company_auth_data()
        })
    });
    let h = harness(
        merchant,
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    // Three orders saved in the same millisecond (a burst), asked about two a round.
    for id in ["T1", "T2", "T3"] {
        h.service
            .start(start_request(Scenario::OfficialAccount, id))
            .await
            .unwrap();
    }
    h.clock
        .advance_millis(h.service.settings().reconcile_after_millis + 1);
    h.service.reconcile_awaiting(2).await.unwrap();
    h.service.reconcile_awaiting(2).await.unwrap();
    assert_eq!(
        *asked.lock().unwrap(),
        ["T1", "T2", "T3"],
        "the page boundary falls between orders of one instant: the third is asked next"
    );
}

#[tokio::test]
async fn an_authorization_set_aside_after_its_retries_is_replayed_once_the_order_exists() {
    let h = harness(
        merchant(0, appid("oa"), false),
        platform(appid("oa")),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.push(authorization("4200000002", true, None, 1_780_000_010))
        .await;
    // The merchant never registers it while the push is tried again (30 times): set aside.
    for _ in 0..=30 {
        h.clock.advance_millis(24 * 3_600_000);
        h.service.process_inbox("worker-1", 16).await.unwrap();
    }
    let set_aside = h.service.unmatched_events(None, 10).await.unwrap();
    assert_eq!(set_aside.len(), 1, "{set_aside:?}");
    let id = set_aside[0].item.id;
    assert!(
        set_aside[0].note.contains("4200000002"),
        "{}",
        set_aside[0].note
    );
    // Still no order: the replay keeps it set aside.
    assert!(matches!(
        h.service.replay_event(id).await.unwrap(),
        EventOutcome::Early(_)
    ));
    assert_eq!(h.service.unmatched_events(None, 10).await.unwrap().len(), 1);

    h.service
        .start(start_request(Scenario::PostPayment, "4200000002"))
        .await
        .unwrap();
    let outcome = h.service.replay_event(id).await.unwrap();
    assert!(
        matches!(&outcome, EventOutcome::Applied(key) if key.order_id.as_str() == "4200000002"),
        "{outcome:?}"
    );
    assert!(
        h.service
            .unmatched_events(None, 10)
            .await
            .unwrap()
            .is_empty()
    );
    h.drain(20).await;
    assert_eq!(h.order("4200000002").await.state(), OrderState::Delivered);
    // Applied once: a second replay is refused, an unknown id is not found.
    assert!(matches!(
        h.service.replay_event(id).await,
        Err(AppError::Conflict(_))
    ));
    assert!(matches!(
        h.service.replay_event(id + 100).await,
        Err(AppError::NotFound(_))
    ));
}

#[tokio::test]
async fn an_authorization_kept_for_its_order_is_handled_as_soon_as_the_order_is_registered() {
    let h = harness(
        merchant(0, appid("oa"), false),
        platform(appid("oa")),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    // Stored and handled once: its order is not registered yet.
    h.push(authorization("4200000003", true, None, 1_780_000_010))
        .await;
    assert_eq!(
        h.service.process_inbox("worker-1", 16).await.unwrap(),
        0,
        "kept for a retry later"
    );
    let started = h
        .service
        .start(start_request(Scenario::PostPayment, "4200000003"))
        .await
        .unwrap();
    assert_eq!(started.woken_pushes, 1);
    // Due at once: the clock has not moved.
    assert_eq!(h.service.process_inbox("worker-1", 16).await.unwrap(), 1);
    assert_ne!(
        h.order("4200000003").await.state(),
        OrderState::AwaitingAuthorization
    );
    h.drain(20).await;
    assert_eq!(h.order("4200000003").await.state(), OrderState::Delivered);
    // An order registered with no push waiting wakes nothing.
    let started = h
        .service
        .start(start_request(Scenario::PostPayment, "4200000004"))
        .await
        .unwrap();
    assert_eq!(started.woken_pushes, 0);
}
