//! The Nuonuo issuer against the emulator over real HTTP on loopback.

#![allow(clippy::unwrap_used)]

use std::sync::Arc;
use std::time::Duration;

use fapiao_domain::IssueKey;
use fapiao_domain::invoice::{InvoiceDraft, InvoiceKind, RedReason};
use fapiao_domain::ports::{
    Clock, InvoiceIssuer, IssueError, IssueOutcome, IssueRequest, ReverseOutcome, ReverseRequest,
};
use fapiao_domain::testing::{InMemoryTokenCache, fixtures};
use fapiao_domain::{Fen, Timestamp};
use fapiao_issuer::nuonuo::sign::{SignParams, sign};
use fapiao_issuer::{NuonuoConfig, NuonuoIssuer};
use serde_json::{Value, json};

use super::*;

struct SystemTime;

impl Clock for SystemTime {
    fn now(&self) -> Timestamp {
        Timestamp::from_millis(now_millis())
    }
}

async fn start(config: NuonuoEmulatorConfig) -> (NuonuoEmulator, String) {
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let emulator = NuonuoEmulator::new(NuonuoEmulatorConfig {
        public_base_url: Some(base.clone()),
        ..config
    })
    .unwrap();
    tokio::spawn(serve_emulator(listener, emulator.clone()));
    (emulator, base)
}

fn issuer(base: &str, cache: Arc<InMemoryTokenCache>) -> NuonuoIssuer {
    let defaults = NuonuoEmulatorConfig::default();
    let config = NuonuoConfig::new(
        &format!("{base}/open/v1/services"),
        &format!("{base}/accessToken"),
        &defaults.app_key,
        defaults.app_secret.clone(),
        "91110000000000000E",
    )
    .unwrap()
    .with_request_timeout(Duration::from_millis(400));
    NuonuoIssuer::new(config, cache, Arc::new(SystemTime)).unwrap()
}

fn request(key: &str) -> IssueRequest {
    IssueRequest {
        key: IssueKey::parse(key).unwrap(),
        order: fixtures::key("N-0001"),
        draft: InvoiceDraft::new(
            InvoiceKind::DigitalOrdinary,
            fixtures::company(),
            fixtures::seller(),
            fixtures::lines("300.00"),
            None,
        )
        .unwrap(),
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn issue_pends_then_issues_and_serves_a_real_pdf() {
    let (emulator, base) = start(NuonuoEmulatorConfig {
        pending_polls: 2,
        ..NuonuoEmulatorConfig::default()
    })
    .await;
    let issuer = issuer(&base, Arc::default());
    let key = IssueKey::parse("NKEY0001").unwrap();
    let outcome = issuer.issue(&request("NKEY0001")).await.unwrap();
    assert!(
        matches!(outcome, IssueOutcome::Pending(Some(_))),
        "{outcome:?}"
    );
    for _ in 0..2 {
        let outcome = issuer.query(&key).await.unwrap();
        assert!(
            matches!(outcome, Some(IssueOutcome::Pending(_))),
            "{outcome:?}"
        );
    }
    let Some(IssueOutcome::Issued(invoice)) = issuer.query(&key).await.unwrap() else {
        panic!("not issued");
    };
    assert_eq!(invoice.totals.total, Fen::new(30_000));
    assert_eq!(invoice.totals.tax, Fen::new(1_698));
    assert_eq!(invoice.number.billing_no().len(), 20);
    let pdf = issuer.fetch_pdf(&key, &invoice).await.unwrap();
    assert!(pdf.as_bytes().starts_with(b"%PDF-"));
    assert!(
        pdf.as_bytes().len() > 5_000,
        "{} bytes",
        pdf.as_bytes().len()
    );
    // The same key again: E9106, queried, the same invoice.
    let again = issuer.issue(&request("NKEY0001")).await.unwrap();
    assert_eq!(again, IssueOutcome::Issued(invoice.clone()));
    assert_eq!(emulator.invoices().len(), 1);
    assert_eq!(emulator.token_calls(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signature_off_by_one_byte_is_refused() {
    let (emulator, base) = start(NuonuoEmulatorConfig::default()).await;
    let defaults = NuonuoEmulatorConfig::default();
    let http = reqwest::Client::new();
    let token: Value = http
        .post(format!("{base}/accessToken"))
        .header(
            "Content-Type",
            "application/x-www-form-urlencoded;charset=UTF-8",
        )
        .body(format!(
            "client_id={}&client_secret={}&grant_type=client_credentials",
            defaults.app_key, defaults.app_secret
        ))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = token["access_token"].as_str().unwrap().to_owned();
    let timestamp = (now_millis() / 1000).to_string();
    let body = br#"{"orderNos":["NKEY0002"]}"#.to_vec();
    let params = SignParams {
        app_key: &defaults.app_key,
        senid: "0123456789abcdef0123456789abcdef",
        nonce: "12345678",
        timestamp: &timestamp,
    };
    let signature = sign(&defaults.app_secret, &params, &body);
    let send = |body: Vec<u8>| {
        http.post(format!(
            "{base}/open/v1/services?senid=0123456789abcdef0123456789abcdef&nonce=12345678&timestamp={timestamp}&appkey={}",
            defaults.app_key
        ))
        .header("Content-Type", "application/json;charset=utf-8")
        .header("X-Nuonuo-Sign", signature.clone())
        .header("accessToken", token.clone())
        .header("userTax", "91110000000000000E")
        .header("method", "nuonuo.OpeMplatform.queryInvoiceResult")
        .body(body)
        .send()
    };
    let good: Value = send(body.clone()).await.unwrap().json().await.unwrap();
    assert_eq!(good["code"], "E9500", "{good}");
    let mut tampered = body.clone();
    tampered[14] ^= 1;
    let refused: Value = send(tampered).await.unwrap().json().await.unwrap();
    assert_eq!(refused["code"], "070601", "{refused}");
    assert_eq!(emulator.signature_refusals(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_token_budget_is_50_calls_per_30_days() {
    let (emulator, base) = start(NuonuoEmulatorConfig::default()).await;
    let defaults = NuonuoEmulatorConfig::default();
    let http = reqwest::Client::new();
    let call = || async {
        http.post(format!("{base}/accessToken"))
            .header("Content-Type", "application/x-www-form-urlencoded")
            .body(format!(
                "client_id={}&client_secret={}&grant_type=client_credentials",
                defaults.app_key, defaults.app_secret
            ))
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap()
    };
    for _ in 0..50 {
        assert!(call().await["access_token"].is_string());
    }
    assert_eq!(call().await["error"], "070306");
    assert_eq!(emulator.token_calls(), 50);
    let wrong: Value = http
        .post(format!("{base}/accessToken"))
        .header("Content-Type", "application/x-www-form-urlencoded")
        .body("client_id=nuonuoemulator01&client_secret=wrong&grant_type=client_credentials")
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    assert_eq!(wrong["error"], "070305");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_issue_applied_then_timed_out_is_found_by_its_order_number() {
    let (emulator, base) = start(NuonuoEmulatorConfig {
        pending_polls: 0,
        ..NuonuoEmulatorConfig::default()
    })
    .await;
    let issuer = issuer(&base, Arc::default());
    emulator.push_fault(NuonuoFault {
        method: Some("nuonuo.OpeMplatform.requestBillingNew".to_owned()),
        kind: NuonuoFaultKind::AppliedThenTimeout { delay_ms: 1_000 },
    });
    let error = issuer.issue(&request("NKEY0003")).await.unwrap_err();
    assert!(matches!(error, IssueError::OutcomeUnknown(_)), "{error:?}");
    assert_eq!(emulator.invoices().len(), 1);
    // Sent again with the same order number: E9106, queried, issued; still one invoice.
    let outcome = issuer.issue(&request("NKEY0003")).await.unwrap();
    assert!(matches!(outcome, IssueOutcome::Issued(_)), "{outcome:?}");
    assert_eq!(emulator.invoices().len(), 1);
    emulator.push_fault(NuonuoFault {
        method: None,
        kind: NuonuoFaultKind::Error {
            code: "040102".to_owned(),
            describe: "API服务异常，请稍后重试".to_owned(),
        },
    });
    let error = issuer.issue(&request("NKEY0004")).await.unwrap_err();
    assert!(matches!(error, IssueError::NotSent(_)), "{error:?}");
    assert_eq!(emulator.invoices().len(), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_red_confirmation_flow_reverses_in_full() {
    let (emulator, base) = start(NuonuoEmulatorConfig {
        pending_polls: 0,
        red_polls: 2,
        ..NuonuoEmulatorConfig::default()
    })
    .await;
    let issuer = issuer(&base, Arc::default());
    issuer.issue(&request("NKEY0005")).await.unwrap();
    let Some(IssueOutcome::Issued(blue)) = issuer
        .query(&IssueKey::parse("NKEY0005").unwrap())
        .await
        .unwrap()
    else {
        panic!("blue not issued");
    };
    let reverse = ReverseRequest {
        key: IssueKey::parse("RKEY0005").unwrap(),
        original_key: IssueKey::parse("NKEY0005").unwrap(),
        original: blue.clone(),
        draft: InvoiceDraft::new(
            InvoiceKind::DigitalOrdinary,
            fixtures::company(),
            fixtures::seller(),
            fixtures::lines("300.00").full_reversal(),
            None,
        )
        .unwrap(),
        reason: RedReason::ServiceTermination,
    };
    let mut polls = 0;
    let red = loop {
        match issuer.reverse(&reverse).await.unwrap() {
            ReverseOutcome::RedIssued(red) => break red,
            ReverseOutcome::Pending { .. } => polls += 1,
            ReverseOutcome::Rejected(r) => panic!("{r:?}"),
        }
        assert!(polls < 10);
    };
    assert_eq!(polls, 3, "saved, then two polls while the bureau confirms");
    assert_eq!(red.totals.total, Fen::new(-30_000));
    let link = red.red_of.unwrap();
    assert_eq!(link.original, blue.number);
    assert_eq!(link.reason, RedReason::ServiceTermination);
    assert!(link.red_form_number.is_some());
    let invoices = emulator.invoices();
    assert_eq!(invoices.len(), 2);
    let red = invoices.iter().find(|i| i.order_no == "RKEY0005").unwrap();
    assert_eq!(
        red.red_of,
        Some((blue.number.billing_no().to_owned(), "3".to_owned()))
    );
    // Asked again: the same red invoice, no second form.
    assert!(matches!(
        issuer.reverse(&reverse).await.unwrap(),
        ReverseOutcome::RedIssued(_)
    ));
    assert_eq!(emulator.with_state(|s| s.red_forms.len()), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn results_are_pushed_to_the_callback_url() {
    let (callbacks, callback_base) = start_catcher().await;
    let (emulator, base) = start(NuonuoEmulatorConfig {
        complete_after_ms: Some(100),
        pending_polls: 100,
        ..NuonuoEmulatorConfig::default()
    })
    .await;
    let defaults = NuonuoEmulatorConfig::default();
    let config = NuonuoConfig::new(
        &format!("{base}/open/v1/services"),
        &format!("{base}/accessToken"),
        &defaults.app_key,
        defaults.app_secret.clone(),
        "91110000000000000E",
    )
    .unwrap()
    .with_callback_url(Some(format!("{callback_base}/nuonuo/callback")));
    let cache: Arc<InMemoryTokenCache> = Arc::default();
    let issuer = NuonuoIssuer::new(config, cache, Arc::new(SystemTime)).unwrap();
    issuer.issue(&request("NKEY0006")).await.unwrap();
    for _ in 0..50 {
        if !callbacks.lock().unwrap().is_empty() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let received = callbacks.lock().unwrap().clone();
    assert_eq!(received.len(), 1, "{received:?}");
    assert!(received[0].contains("operater=callback"), "{}", received[0]);
    assert!(received[0].contains("orderno=NKEY0006"), "{}", received[0]);
    let Some(IssueOutcome::Issued(_)) = issuer
        .query(&IssueKey::parse("NKEY0006").unwrap())
        .await
        .unwrap()
    else {
        panic!("the callback came before the invoice was issued");
    };
    assert_eq!(emulator.with_state(|s| s.callbacks.len()), 1);
}

async fn start_catcher() -> (Arc<std::sync::Mutex<Vec<String>>>, String) {
    let received: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let log = received.clone();
    let app = axum::Router::new().route(
        "/nuonuo/callback",
        axum::routing::post(move |body: axum::body::Bytes| {
            let log = log.clone();
            async move {
                log.lock()
                    .unwrap()
                    .push(String::from_utf8_lossy(&body).into_owned());
                axum::Json(json!({ "status": "0000", "message": "同步成功" }))
            }
        }),
    );
    let listener = TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    (received, base)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failure_for_the_bureau_login_waits_for_the_operator_then_reinvoices() {
    let (emulator, base) = start(NuonuoEmulatorConfig {
        pending_polls: 0,
        ..NuonuoEmulatorConfig::default()
    })
    .await;
    let issuer = issuer(&base, Arc::default());
    let key = IssueKey::parse("NKEY0007").unwrap();
    issuer.issue(&request("NKEY0007")).await.unwrap();
    assert!(emulator.with_state(|s| s.fail(
        "NKEY0007",
        "22",
        Some("开票员未登录电子税务局".to_owned())
    )));
    let error = issuer.query(&key).await.unwrap_err();
    assert!(
        matches!(&error, IssueError::SessionRequired(m) if m.contains("未登录")),
        "{error:?}"
    );
    // The operator logged in and retried (the workflow queries again): reInvoice.
    assert_eq!(
        issuer.query(&key).await.unwrap(),
        Some(IssueOutcome::Pending(None))
    );
    assert!(matches!(
        issuer.query(&key).await.unwrap(),
        Some(IssueOutcome::Issued(_))
    ));
    let invoices = emulator.invoices();
    assert_eq!(invoices.len(), 1);
    assert_eq!(invoices[0].reinvoices, 1);
}
