#![allow(clippy::unwrap_used, clippy::expect_used)]

use fapiao_app::{AppError, EventOutcome, FrontendAction, JobOutcome};
use fapiao_domain::Timestamp;
use fapiao_domain::ids::{CardCode, OpenId, QrToken};
use fapiao_domain::order::{AttentionReason, OrderState, Step};
use fapiao_domain::ports::{MockWeixinMerchantApi, MockWeixinPlatformApi, OrderRepository};
use fapiao_domain::scenario::Scenario;
use fapiao_domain::testing::FakeIssuerMode;
use fapiao_domain::weixin::{InvoiceStatusEvent, ReimburseStatus, WeixinError, WeixinEvent};

use crate::harness::*;

async fn deliver(scenario: Scenario, caller: &str, wxa: bool) {
    let order_id = format!("ORDER-{}", scenario.code());
    let url_calls = usize::from(scenario != Scenario::PostPayment);
    let h = harness(
        merchant_reading_titles(url_calls, appid(caller), wxa, 1),
        platform(appid(caller)),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let started = h
        .service
        .start(start_request(scenario, &order_id))
        .await
        .unwrap();
    match (&started.action, scenario) {
        (FrontendAction::Redirect { auth_url }, Scenario::OfficialAccount) => {
            assert!(auth_url.contains("money=10000"), "{auth_url}")
        }
        (FrontendAction::AppSdk { auth_url }, Scenario::App) => {
            assert!(auth_url.starts_with("https://"))
        }
        (FrontendAction::MiniProgram { app_id, path }, Scenario::MiniProgram) => {
            assert_eq!(app_id.as_str(), "wxinvoiceminiapp01");
            assert!(path.contains(&order_id));
        }
        (FrontendAction::QrCode { token }, Scenario::ScanQr) => {
            let url = h.service.scan_qr(token).await.unwrap();
            assert!(url.contains(&order_id));
        }
        (FrontendAction::PayRequestFlag { field, value }, Scenario::PostPayment) => {
            assert_eq!((*field, *value), ("receipt", "Y"));
        }
        (action, scenario) => panic!("{scenario}: unexpected front-end action {action:?}"),
    }
    let expected = if scenario == Scenario::PostPayment {
        OrderState::Created
    } else {
        OrderState::AwaitingAuthorization
    };
    assert_eq!(h.order(&order_id).await.state(), expected, "{scenario}");

    h.push(authorization(
        &order_id,
        true,
        Some(appid(caller)),
        1_780_000_010,
    ))
    .await;
    let outcomes = h.drain(10).await;
    assert!(
        outcomes.iter().all(|o| *o == JobOutcome::Completed),
        "{scenario}: {outcomes:?}"
    );

    let order = h.order(&order_id).await;
    assert_eq!(
        order.state(),
        OrderState::Delivered,
        "{scenario}: {:#?}",
        order.history()
    );
    assert_eq!(order.insert_appid(), &appid(caller));
    assert_eq!(
        order
            .card()
            .and_then(|c| c.code.as_ref())
            .map(|c| c.as_str()),
        Some("682000000001")
    );
    assert_eq!(h.issuer.invoices_issued(), 1);
    let states: Vec<&str> = order.history().iter().map(|e| e.to.code()).collect();
    let mut expected_states = vec!["created"];
    if scenario != Scenario::PostPayment {
        expected_states.push("awaiting_authorization");
    }
    expected_states.extend([
        "authorized",
        "issuing",
        "issued",
        "pdf_uploaded",
        "delivered",
    ]);
    assert_eq!(states, expected_states, "{scenario}");
}

#[tokio::test]
async fn official_account_h5_reaches_delivered() {
    deliver(Scenario::OfficialAccount, "oa", false).await;
}

#[tokio::test]
async fn receipt_qr_code_reaches_delivered() {
    deliver(Scenario::ScanQr, "oa", false).await;
}

#[tokio::test]
async fn app_reaches_delivered_with_the_open_platform_appid() {
    deliver(Scenario::App, "app", false).await;
}

#[tokio::test]
async fn mini_program_reaches_delivered_with_its_appid() {
    deliver(Scenario::MiniProgram, "mp", true).await;
}

#[tokio::test]
async fn post_payment_reaches_delivered_from_the_receipt() {
    deliver(Scenario::PostPayment, "oa", false).await;
}

#[tokio::test]
async fn failed_authorization_ends_the_order() {
    let h = harness(
        merchant(1, appid("oa"), false),
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "F1"))
        .await
        .unwrap();
    h.push(authorization("F1", false, None, 1_780_000_010))
        .await;
    assert!(h.drain(5).await.is_empty());
    assert_eq!(h.order("F1").await.state(), OrderState::AuthorizationFailed);
    assert_eq!(h.issuer.issue_calls(), 0);
}

#[tokio::test]
async fn duplicate_authorization_push_changes_nothing() {
    let h = harness(
        merchant(1, appid("oa"), false),
        platform(appid("oa")),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "D1"))
        .await
        .unwrap();
    let event = authorization("D1", true, None, 1_780_000_010);
    h.push(event.clone()).await;
    // Weixin's retry (same CreateTime) and a re-push seconds later are both the same authorization.
    h.push(event).await;
    h.push(authorization("D1", true, None, 1_780_000_015)).await;
    assert_eq!(h.inbox.entries().len(), 1);
    // Even handled directly (bypassing the inbox), a repeat changes nothing.
    let order = h.order("D1").await;
    let outcome = h
        .service
        .handle_event(&authorization("D1", true, None, 1_780_000_020))
        .await
        .unwrap();
    assert_eq!(outcome, EventOutcome::NoChange(key("D1")));
    assert_eq!(h.order("D1").await, order);
    h.drain(10).await;
    assert_eq!(h.order("D1").await.state(), OrderState::Delivered);
    assert_eq!(h.issuer.invoices_issued(), 1);
}

#[tokio::test]
async fn issuer_rejection_sends_rejectinsert_with_the_reason() {
    let mut merchant = merchant(1, appid("oa"), false);
    merchant
        .expect_reject_insert()
        .withf(|r| r.order_id.as_str() == "R1" && r.reason == "开票失败：购买方税号与名称不符")
        .times(1)
        .returning(|_| Ok(()));
    let h = harness(
        merchant,
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Reject("购买方税号与名称不符".into()),
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "R1"))
        .await
        .unwrap();
    h.push(authorization("R1", true, None, 1_780_000_010)).await;
    h.drain(10).await;
    let order = h.order("R1").await;
    assert_eq!(order.state(), OrderState::Rejected);
    assert_eq!(order.rejection(), Some("开票失败：购买方税号与名称不符"));
    assert!(
        order
            .history()
            .last()
            .is_some_and(|e| e.cause.contains("rejectinsert"))
    );
}

#[tokio::test]
async fn ambiguous_issue_timeout_queries_with_the_same_key_and_issues_once() {
    let h = harness(
        merchant(1, appid("oa"), false),
        platform(appid("oa")),
        FakeIssuerMode::ApplyThenTimeout,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "A1"))
        .await
        .unwrap();
    h.push(authorization("A1", true, None, 1_780_000_010)).await;
    h.drain(10).await;
    let order = h.order("A1").await;
    assert_eq!(order.state(), OrderState::Delivered);
    assert_eq!(
        h.issuer.issue_calls(),
        1,
        "a query, not a second issue, resolved the timeout"
    );
    assert_eq!(h.issuer.invoices_issued(), 1);
    let causes: Vec<&str> = order.history().iter().map(|e| e.cause.as_str()).collect();
    assert!(
        causes.iter().any(|c| c.contains("outcome unknown")),
        "{causes:?}"
    );
}

#[tokio::test]
async fn pending_issue_is_polled_until_issued() {
    let h = harness(
        merchant(1, appid("oa"), false),
        platform(appid("oa")),
        FakeIssuerMode::PendingPolls(2),
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "P1"))
        .await
        .unwrap();
    h.push(authorization("P1", true, None, 1_780_000_010)).await;
    let outcomes = h.drain(20).await;
    assert!(
        outcomes
            .iter()
            .any(|o| matches!(o, JobOutcome::Retried { .. }))
    );
    assert_eq!(h.order("P1").await.state(), OrderState::Delivered);
    assert_eq!(h.issuer.issue_calls(), 1);
}

async fn business_error_on_insert(errcode: i64, errmsg: &str) {
    let mut platform = MockWeixinPlatformApi::new();
    platform
        .expect_upload_pdf()
        .returning(|_| Ok(fapiao_domain::ids::MediaId::parse("1").unwrap()));
    let message = errmsg.to_owned();
    platform.expect_insert_card().times(1).returning(move |_| {
        Err(WeixinError::Api {
            errcode,
            errmsg: message.clone(),
        })
    });
    let h = harness(
        merchant(1, appid("oa"), false),
        platform,
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "B1"))
        .await
        .unwrap();
    h.push(authorization("B1", true, None, 1_780_000_010)).await;
    h.drain(10).await;
    let order = h.order("B1").await;
    assert_eq!(order.state(), OrderState::NeedsAttention);
    let attention = order.attention_details().unwrap();
    assert_eq!(attention.resume, OrderState::PdfUploaded);
    assert_eq!(
        attention.reason,
        AttentionReason::WeixinBusiness {
            step: Step::InsertCard,
            errcode,
            errmsg: errmsg.to_owned()
        }
    );
    assert!(
        order
            .history()
            .last()
            .unwrap()
            .cause
            .contains(&errcode.to_string())
    );
}

#[tokio::test]
async fn weixin_72035_lands_in_needs_attention_with_the_reason() {
    business_error_on_insert(72035, "biz reject insert").await;
}

#[tokio::test]
async fn weixin_72042_lands_in_needs_attention_with_the_reason() {
    business_error_on_insert(72042, "billing_code and billing_no repeated").await;
}

#[tokio::test]
async fn transient_weixin_errors_retry_then_give_up_into_needs_attention() {
    let mut platform = MockWeixinPlatformApi::new();
    // max_attempts is 3 in the harness settings.
    platform.expect_upload_pdf().times(3).returning(|_| {
        Err(WeixinError::Api {
            errcode: -1,
            errmsg: "system error".into(),
        })
    });
    let h = harness(
        merchant(1, appid("oa"), false),
        platform,
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "T1"))
        .await
        .unwrap();
    h.push(authorization("T1", true, None, 1_780_000_010)).await;
    let outcomes = h.drain(20).await;
    assert_eq!(
        outcomes
            .iter()
            .filter(|o| matches!(o, JobOutcome::Retried { .. }))
            .count(),
        2
    );
    assert!(matches!(outcomes.last(), Some(JobOutcome::Buried(_))));
    let order = h.order("T1").await;
    assert_eq!(order.state(), OrderState::NeedsAttention);
    assert!(matches!(
        order.attention_details().map(|a| &a.reason),
        Some(AttentionReason::RetriesExhausted {
            step: Step::UploadPdf,
            ..
        })
    ));
    // The job ended in the same fenced write that moved the order: nothing is left to run.
    assert!(h.orders.dead_jobs().is_empty());
    assert!(h.orders.live_jobs().is_empty());
}

#[tokio::test]
async fn operator_reject_before_issue_and_refusal_after() {
    let mut merchant = merchant(2, appid("oa"), false);
    merchant
        .expect_reject_insert()
        .times(1)
        .returning(|_| Ok(()));
    let h = harness(
        merchant,
        platform(appid("oa")),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "X1"))
        .await
        .unwrap();
    let order = h
        .service
        .reject(&"X1".parse_order(), "订单已退款", None)
        .await
        .unwrap();
    assert_eq!(order.state(), OrderState::Rejected);
    // Before the buyer authorized, Weixin takes no rejectinsert (72038): it waits for them.
    h.drain(5).await;
    assert!(
        h.order("X1")
            .await
            .history()
            .last()
            .unwrap()
            .cause
            .contains("before the buyer authorized")
    );
    h.push(authorization("X1", true, None, 1_780_000_005)).await;
    h.drain(5).await;
    let order = h.order("X1").await;
    assert_eq!(order.state(), OrderState::Rejected);
    assert!(
        order
            .history()
            .last()
            .unwrap()
            .cause
            .contains("rejectinsert"),
        "{:?}",
        order.history()
    );

    h.service
        .start(start_request(Scenario::OfficialAccount, "X2"))
        .await
        .unwrap();
    h.push(authorization("X2", true, None, 1_780_000_010)).await;
    h.drain(10).await;
    let err = h
        .service
        .reject(&"X2".parse_order(), "订单已退款", None)
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Transition(_)), "{err}");
}

#[tokio::test]
async fn reversal_and_reimbursement_status() {
    let mut platform = platform(appid("oa"));
    platform
        .expect_update_card_status()
        .withf(|_, code, status| {
            code.as_str() == "682000000001" && *status == ReimburseStatus::Cancel
        })
        .times(1)
        .returning(|_, _, _| Ok(()));
    let h = harness(
        merchant(1, appid("oa"), false),
        platform,
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "V1"))
        .await
        .unwrap();
    h.push(authorization("V1", true, None, 1_780_000_010)).await;
    h.drain(10).await;

    let status = |s, t| {
        WeixinEvent::InvoiceStatus(InvoiceStatusEvent {
            openid: OpenId::parse("oBuyer0001").unwrap(),
            create_time: Timestamp::from_unix_seconds(t),
            status: s,
            card_id: card_id(),
            code: CardCode::parse("682000000001").unwrap(),
        })
    };
    h.push(status(ReimburseStatus::Lock, 1_780_000_100)).await;
    assert_eq!(
        h.order("V1").await.card().unwrap().reimbursement,
        ReimburseStatus::Lock
    );
    h.push(status(ReimburseStatus::Init, 1_780_000_200)).await;

    let order = h
        .service
        .reverse(
            &"V1".parse_order(),
            fapiao_domain::invoice::RedReason::SalesReturn,
        )
        .await
        .unwrap();
    assert_eq!(order.state(), OrderState::Reversing);
    h.drain(10).await;
    let order = h.order("V1").await;
    assert_eq!(order.state(), OrderState::Reversed);
    assert_eq!(order.card().unwrap().reimbursement, ReimburseStatus::Cancel);
    let red = order
        .reversal()
        .and_then(|r| r.red_invoice.as_ref())
        .unwrap();
    assert_eq!(red.totals.total.get(), -10_000);
}

/// An operator re-sends the card status: refused until there is one to set (a reversed order's
/// card), then one more `updatestatus` to cancelled.
#[tokio::test]
async fn the_card_status_is_sent_again_on_demand_after_a_reversal() {
    let mut platform = platform(appid("oa"));
    platform
        .expect_update_card_status()
        .withf(|_, _, status| *status == ReimburseStatus::Cancel)
        .times(2)
        .returning(|_, _, _| Ok(()));
    let h = harness(
        merchant(1, appid("oa"), false),
        platform,
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "R1"))
        .await
        .unwrap();
    h.push(authorization("R1", true, None, 1_780_000_010)).await;
    h.drain(10).await;
    assert_eq!(h.order("R1").await.state(), OrderState::Delivered);
    let err = h
        .service
        .resend_card_status(&"R1".parse_order())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::Invalid { .. }), "{err}");
    assert!(h.orders.live_jobs().is_empty(), "nothing enqueued");

    h.service
        .reverse(
            &"R1".parse_order(),
            fapiao_domain::invoice::RedReason::SalesReturn,
        )
        .await
        .unwrap();
    h.drain(10).await;
    assert_eq!(h.order("R1").await.state(), OrderState::Reversed);
    let order = h
        .service
        .resend_card_status(&"R1".parse_order())
        .await
        .unwrap();
    assert_eq!(order.state(), OrderState::Reversed);
    assert_eq!(h.orders.live_jobs().len(), 1);
    h.drain(10).await;
    assert!(h.orders.live_jobs().is_empty());
    assert_eq!(
        h.order("R1").await.card().unwrap().reimbursement,
        ReimburseStatus::Cancel
    );
}

#[tokio::test]
async fn lost_push_is_reconciled_by_polling_getauthdata() {
    let h = harness(
        merchant(1, appid("oa"), false),
        platform(appid("oa")),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    h.service
        .start(start_request(Scenario::OfficialAccount, "L1"))
        .await
        .unwrap();
    assert_eq!(
        h.service.reconcile_awaiting(10).await.unwrap(),
        0,
        "too young to poll"
    );
    h.clock.advance_millis(601_000);
    assert_eq!(h.service.reconcile_awaiting(10).await.unwrap(), 1);
    h.drain(10).await;
    assert_eq!(h.order("L1").await.state(), OrderState::Delivered);
}

#[tokio::test]
async fn bad_input_names_the_field_and_stores_nothing() {
    let h = harness(
        MockWeixinMerchantApi::new(),
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let mut request = start_request(Scenario::OfficialAccount, "E1");
    request.seller = fapiao_domain::ids::SellerId::parse("nope").unwrap();
    let err = h.service.start(request).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("seller: unknown seller \"nope\""),
        "{err}"
    );

    let mut request = start_request(Scenario::OfficialAccount, "E1");
    request.redirect_url = Some("javascript:alert(1)".into());
    let err = h.service.start(request).await.unwrap_err();
    assert!(err.to_string().starts_with("redirect_url:"), "{err}");

    let mut request = start_request(Scenario::OfficialAccount, "E1");
    request.page_style = Some(fapiao_domain::scenario::PageStyle::Apply);
    let err = h.service.start(request).await.unwrap_err();
    assert!(
        err.to_string()
            .starts_with("buyer: required with page style 0"),
        "{err}"
    );
    assert!(h.orders.get(&key("E1")).await.unwrap().is_none());
}

#[tokio::test]
async fn missing_setup_is_named() {
    let mut setup = setup_done();
    setup.pay_mch = None;
    let h = harness(
        MockWeixinMerchantApi::new(),
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup,
    );
    let err = h
        .service
        .start(start_request(Scenario::PostPayment, "S1"))
        .await
        .unwrap_err();
    assert!(
        matches!(err, AppError::SetupIncomplete(ref m) if m.contains("set_pay_mch")),
        "{err}"
    );
}

#[tokio::test]
async fn weixin_error_on_getauthurl_keeps_the_order_created() {
    let mut merchant = MockWeixinMerchantApi::new();
    merchant
        .expect_wx_card_ticket()
        .returning(|_| Ok(fapiao_domain::Secret::new("t")));
    merchant.expect_auth_url().returning(|_, _| {
        Err(WeixinError::Api {
            errcode: 72063,
            errmsg: "biz contact is empty, set contact first please".into(),
        })
    });
    let h = harness(
        merchant,
        MockWeixinPlatformApi::new(),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let err = h
        .service
        .start(start_request(Scenario::OfficialAccount, "C1"))
        .await
        .unwrap_err();
    assert!(
        err.to_string().contains("72063") && err.to_string().contains("run setup"),
        "{err}"
    );
    assert_eq!(h.order("C1").await.state(), OrderState::Created);
}

#[tokio::test]
async fn unknown_qr_token_and_used_qr_code() {
    // Two scans before the buyer authorizes: each gets a fresh auth URL for the same order.
    let h = harness(
        merchant_reading_titles(2, appid("oa"), false, 1),
        platform(appid("oa")),
        FakeIssuerMode::Synchronous,
        setup_done(),
    );
    let err = h
        .service
        .scan_qr(&QrToken::parse("QR99999999999999").unwrap())
        .await
        .unwrap_err();
    assert!(matches!(err, AppError::NotFound(_)), "{err}");

    let started = h
        .service
        .start(start_request(Scenario::ScanQr, "QR-1"))
        .await
        .unwrap();
    let FrontendAction::QrCode { token } = &started.action else {
        panic!("a receipt QR code: {:?}", started.action);
    };
    for _ in 0..2 {
        let url = h.service.scan_qr(token).await.unwrap();
        assert!(url.contains("order_id=QR-1&"), "{url}");
        assert_eq!(
            h.order("QR-1").await.state(),
            OrderState::AwaitingAuthorization
        );
    }
    h.push(authorization(
        "QR-1",
        true,
        Some(appid("oa")),
        1_780_000_010,
    ))
    .await;
    h.drain(10).await;
    assert_eq!(h.order("QR-1").await.state(), OrderState::Delivered);

    // The order is invoiced: its code is used, a scan changes nothing and says so.
    let err = h.service.scan_qr(token).await.unwrap_err();
    assert!(
        matches!(&err, AppError::Conflict(m) if m.contains("already used")),
        "{err}"
    );
    let order = h.order("QR-1").await;
    assert_eq!(order.state(), OrderState::Delivered);
    assert_eq!(h.issuer.invoices_issued(), 1);
}

trait ParseOrder {
    fn parse_order(&self) -> fapiao_domain::ids::OrderId;
}

impl ParseOrder for str {
    fn parse_order(&self) -> fapiao_domain::ids::OrderId {
        fapiao_domain::ids::OrderId::parse(self).unwrap()
    }
}

/// Delegates to the fake issuer but loses the answer of the first reversal (applied, then
/// "outcome unknown"), as a timeout after sending would.
struct LostReversalAnswer {
    inner: std::sync::Arc<fapiao_domain::testing::FakeIssuer>,
    lost: std::sync::atomic::AtomicBool,
}

#[async_trait::async_trait]
impl fapiao_domain::ports::InvoiceIssuer for LostReversalAnswer {
    fn capabilities(&self) -> fapiao_domain::ports::IssuerCapabilities {
        self.inner.capabilities()
    }
    async fn issue(
        &self,
        request: &fapiao_domain::ports::IssueRequest,
    ) -> Result<fapiao_domain::ports::IssueOutcome, fapiao_domain::ports::IssueError> {
        self.inner.issue(request).await
    }
    async fn query(
        &self,
        key: &fapiao_domain::ids::IssueKey,
    ) -> Result<Option<fapiao_domain::ports::IssueOutcome>, fapiao_domain::ports::IssueError> {
        self.inner.query(key).await
    }
    async fn fetch_pdf(
        &self,
        key: &fapiao_domain::ids::IssueKey,
        invoice: &fapiao_domain::invoice::IssuedInvoice,
    ) -> Result<fapiao_domain::ports::PdfDocument, fapiao_domain::ports::IssueError> {
        self.inner.fetch_pdf(key, invoice).await
    }
    async fn reverse(
        &self,
        request: &fapiao_domain::ports::ReverseRequest,
    ) -> Result<fapiao_domain::ports::ReverseOutcome, fapiao_domain::ports::IssueError> {
        let outcome = self.inner.reverse(request).await;
        if !self.lost.swap(true, std::sync::atomic::Ordering::SeqCst) {
            return Err(fapiao_domain::ports::IssueError::OutcomeUnknown(
                "timed out after sending".into(),
            ));
        }
        outcome
    }
}

#[tokio::test]
async fn a_reversal_whose_answer_was_lost_is_repeated_with_the_same_key() {
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
    h.service
        .start(start_request(Scenario::OfficialAccount, "U1"))
        .await
        .unwrap();
    h.push(authorization("U1", true, None, 1_780_000_010)).await;
    h.drain(10).await;
    let mut ports = h.service_ports();
    ports.issuer = std::sync::Arc::new(LostReversalAnswer {
        inner: h.issuer.clone(),
        lost: std::sync::atomic::AtomicBool::new(false),
    });
    let service = fapiao_app::InvoiceService::new(ports, settings());
    service
        .reverse(
            &"U1".parse_order(),
            fapiao_domain::invoice::RedReason::InvoicingError,
        )
        .await
        .unwrap();
    let mut outcomes = Vec::new();
    for _ in 0..10 {
        let round = service.run_due_jobs("worker-1", 16, 60_000).await.unwrap();
        if round.is_empty() && h.orders.live_jobs().is_empty() {
            break;
        }
        outcomes.extend(round);
        h.clock.advance_millis(600_000);
    }
    assert!(
        matches!(outcomes.first(), Some(JobOutcome::Retried { .. })),
        "{outcomes:?}"
    );
    let order = h.order("U1").await;
    assert_eq!(order.state(), OrderState::Reversed);
    // One blue and one red invoice: the repeated reversal found the first one.
    assert_eq!(h.issuer.invoices_issued(), 2);
}
