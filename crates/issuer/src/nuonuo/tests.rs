use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use fapiao_domain::Timestamp;
use fapiao_domain::ids::ProviderRef;
use fapiao_domain::invoice::{InvoiceDraft, InvoiceKind, InvoiceNumber, RedReason, Totals};
use fapiao_domain::ports::{CachedToken, TokenCache};
use fapiao_domain::testing::{InMemoryTokenCache, ManualClock, fixtures};
use serde_json::{Value, json};
use wiremock::matchers::{header, method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::sign::{SignParams, sign, string_to_sign, verify};
use super::*;

const APP_KEY: &str = "testapp01";
const APP_SECRET: &str = "test-app-secret";
const TAX_ID: &str = "339901999999142";
/// 2026-03-17T10:30:00+08:00.
const NOW: i64 = 1_773_714_600;
const NUMBER: &str = "26332000000000000001";

// --- vectors N1–N4 (reference §1.5) ------------------------------------------------------

fn vector(secret: &str, k: &str, i: &str, n: &str, t: &str, body: &str) -> String {
    let params = SignParams {
        app_key: k,
        senid: i,
        nonce: n,
        timestamp: t,
    };
    sign(secret, &params, body.as_bytes())
}

const N4_BODY: &str = r#"{"order":{"buyerName":"个人","salerTaxNum":"339901999999142","orderNo":"ORD-0001","invoiceDate":"2023-11-15 06:13:20","clerk":"张三","pushMode":"-1","invoiceType":"1","invoiceLine":"pc","invoiceDetail":[{"goodsName":"餐饮服务","goodsCode":"3070401000000000000","withTaxFlag":"1","price":"106","num":"1","taxRate":"0.06","taxExcludedAmount":"100.00","tax":"6.00","taxIncludedAmount":"106.00","invoiceLineProperty":"0"}]}}"#;

#[test]
fn vector_n1_official_example_one() {
    let body =
        r#"{"invoiceCode": "11111","invoiceNo": "2222","inTaxAmount": "","exTaxAmount": ""}"#;
    assert_eq!(
        vector(
            "SD886A11B0EE428F",
            "SD58292829",
            "20200918125249803",
            "2124",
            "1600404769",
            body
        ),
        "Cb6YthKcFJ5oXtV6HRllGmAs2g0="
    );
}

#[test]
fn vector_n2_official_example_two_with_chinese() {
    let body = r#"{"taxNo":"91140100586192037X","customerOrderNo":"NN20200922114058tIRje367477953","amount":"2000.0","subject":"扫码支付","returnUrl":"","billingType":"0","sn":"1809CA884901","sellerNote":"zhyw廉生","deptId":"8F0095616A17484DAD2C17925C04B78E","timeExpire":"15","appKey":"nPjzeluO"}"#;
    assert_eq!(
        vector(
            "430367F22509482D",
            "nPjzeluO",
            "44dc89d9e6f0425e8ecabeaf57708459",
            "496648396",
            "1600746050",
            body
        ),
        "A7MIBwspggk6mx+PqbUPiPq0u8U="
    );
}

#[test]
fn vector_n3_synthetic() {
    assert_eq!(
        vector(
            "secret",
            "app",
            &"a".repeat(32),
            "12345678",
            "1700000000",
            r#"{"name":"中文"}"#
        ),
        "4BzcKzrcoqxPis0W/W3X2ae0uIo="
    );
}

#[test]
fn vector_n4_realistic_issue_body() {
    assert_eq!(N4_BODY.len(), 428);
    assert_eq!(
        vector(
            "test-secret",
            "test-app",
            "0123456789abcdef0123456789abcdef",
            "10000001",
            "1700000000",
            N4_BODY
        ),
        "tuGC0S3Qk38UudNOkyilXMAoVlM="
    );
}

#[test]
fn the_string_to_sign_is_the_prefix_the_parameters_and_the_body_bytes() {
    let params = SignParams {
        app_key: "k1",
        senid: "s1",
        nonce: "12345678",
        timestamp: "1700000000",
    };
    assert_eq!(
        string_to_sign(&params, "{\"a\":\"中\"}".as_bytes()),
        "a=services&l=v1&p=open&k=k1&i=s1&n=12345678&t=1700000000&f={\"a\":\"中\"}".as_bytes()
    );
}

#[test]
fn verification_refuses_a_body_or_signature_off_by_one_byte() {
    let params = SignParams {
        app_key: "test-app",
        senid: "0123456789abcdef0123456789abcdef",
        nonce: "10000001",
        timestamp: "1700000000",
    };
    let good = "tuGC0S3Qk38UudNOkyilXMAoVlM=";
    assert!(verify("test-secret", &params, N4_BODY.as_bytes(), good));
    for index in [0, 100, N4_BODY.len() - 1] {
        let mut body = N4_BODY.as_bytes().to_vec();
        body[index] ^= 1;
        assert!(!verify("test-secret", &params, &body, good), "byte {index}");
    }
    let mut signature = good.as_bytes().to_vec();
    signature[3] = if signature[3] == b'A' { b'B' } else { b'A' };
    let signature = String::from_utf8(signature).unwrap();
    assert!(!verify(
        "test-secret",
        &params,
        N4_BODY.as_bytes(),
        &signature
    ));
    assert!(!verify(
        "test-secret",
        &params,
        N4_BODY.as_bytes(),
        "not base64!"
    ));
    assert!(!verify("test-secreT", &params, N4_BODY.as_bytes(), good));
}

// --- harness -----------------------------------------------------------------------------

struct Harness {
    server: MockServer,
    cache: Arc<InMemoryTokenCache>,
    clock: Arc<ManualClock>,
}

impl Harness {
    async fn new() -> Harness {
        Harness {
            server: MockServer::start().await,
            cache: Arc::new(InMemoryTokenCache::default()),
            clock: Arc::new(ManualClock::new(Timestamp::from_unix_seconds(NOW))),
        }
    }

    fn config(&self) -> NuonuoConfig {
        NuonuoConfig::new(
            &format!("{}/open/v1/services", self.server.uri()),
            &format!("{}/accessToken", self.server.uri()),
            APP_KEY,
            APP_SECRET.to_owned(),
            TAX_ID,
        )
        .unwrap()
        .with_request_timeout(Duration::from_millis(500))
    }

    fn issuer(&self) -> NuonuoIssuer {
        self.issuer_with(self.config())
    }

    fn issuer_with(&self, config: NuonuoConfig) -> NuonuoIssuer {
        NuonuoIssuer::new(config, self.cache.clone(), self.clock.clone()).unwrap()
    }

    /// The token endpoint, answering `token-N` for the Nth call.
    async fn token_endpoint(&self) -> Arc<AtomicUsize> {
        let calls = Arc::new(AtomicUsize::new(0));
        let counter = calls.clone();
        Mock::given(method("POST"))
            .and(path("/accessToken"))
            .respond_with(move |request: &Request| {
                let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                let form = String::from_utf8_lossy(&request.body).into_owned();
                assert!(form.contains("grant_type=client_credentials"), "{form}");
                assert!(form.contains(&format!("client_id={APP_KEY}")), "{form}");
                assert!(form.contains("client_secret=test-app-secret"), "{form}");
                ResponseTemplate::new(200).set_body_json(
                    json!({ "access_token": format!("token-{n}"), "expires_in": "86400" }),
                )
            })
            .mount(&self.server)
            .await;
        calls
    }

    async fn answer(&self, method_name: &str, responder: impl Respond + 'static) {
        Mock::given(method("POST"))
            .and(path("/open/v1/services"))
            .and(header("method", method_name))
            .respond_with(responder)
            .mount(&self.server)
            .await;
    }
}

fn ok(result: Value) -> ResponseTemplate {
    ResponseTemplate::new(200)
        .set_body_json(json!({ "code": "E0000", "describe": "成功", "result": result }))
}

fn code(code: &str, describe: &str) -> ResponseTemplate {
    ResponseTemplate::new(200).set_body_json(json!({ "code": code, "describe": describe }))
}

fn draft() -> InvoiceDraft {
    InvoiceDraft::new(
        InvoiceKind::DigitalOrdinary,
        fixtures::company(),
        fixtures::seller(),
        fixtures::lines("300.00"),
        Some("桌号 12".to_owned()),
    )
    .unwrap()
}

fn request(key: &str) -> IssueRequest {
    IssueRequest {
        key: IssueKey::parse(key).unwrap(),
        order: fixtures::key("A-20260317-0001"),
        draft: draft(),
    }
}

fn issued_item(order_no: &str) -> Value {
    json!({
        "serialNo": "20260317103000000001",
        "orderNo": order_no,
        "status": "2",
        "statusMsg": "开票完成",
        "allElectronicInvoiceNumber": NUMBER,
        "invoiceNo": NUMBER,
        "invoiceCode": "",
        "invoiceTime": 1_773_714_660_000_i64,
        "exTaxAmount": "283.02",
        "taxAmount": "16.98",
        "orderAmount": "300.00",
        "invoiceKind": "电子发票(普通发票)",
        "pdfUrl": "",
        "qrCode": "01,32,,26332000000000000001,300.00,20260317,,",
    })
}

fn query_key() -> IssueKey {
    IssueKey::parse("K20260317000000000001")
        .unwrap_or_else(|_| IssueKey::parse("K2026031700000000001").unwrap())
}

// --- the request as sent ------------------------------------------------------------------

#[tokio::test]
async fn issue_sends_a_signed_requestbillingnew_built_from_the_draft() {
    let harness = Harness::new().await;
    harness.token_endpoint().await;
    let seen: Arc<std::sync::Mutex<Vec<Request>>> = Arc::default();
    let log = seen.clone();
    harness
        .answer(Method::Billing.name(), move |request: &Request| {
            log.lock().unwrap().push(request.clone());
            ok(json!({ "invoiceSerialNum": "20260317103000000001" }))
        })
        .await;
    let outcome = harness
        .issuer()
        .issue(&request("K2026031700000000001"))
        .await
        .unwrap();
    assert_eq!(
        outcome,
        IssueOutcome::Pending(Some(ProviderRef::parse("20260317103000000001").unwrap()))
    );
    let requests = seen.lock().unwrap();
    let sent = &requests[0];
    let query: std::collections::HashMap<String, String> =
        sent.url.query_pairs().into_owned().collect();
    assert_eq!(query["appkey"], APP_KEY);
    assert_eq!(query["timestamp"], NOW.to_string());
    assert_eq!(query["senid"].len(), 32);
    assert_eq!(query["nonce"].len(), 8);
    let headers = &sent.headers;
    assert_eq!(headers["accessToken"], "token-1");
    assert_eq!(headers["userTax"], TAX_ID);
    assert_eq!(headers["sdkVer"], "1.0.1");
    assert_eq!(headers["content-type"], "application/json;charset=utf-8");
    let params = SignParams {
        app_key: APP_KEY,
        senid: &query["senid"],
        nonce: &query["nonce"],
        timestamp: &query["timestamp"],
    };
    let signature = headers["X-Nuonuo-Sign"].to_str().unwrap();
    assert_eq!(signature, sign(APP_SECRET, &params, &sent.body));
    let body: Value = serde_json::from_slice(&sent.body).unwrap();
    assert_eq!(
        body,
        json!({ "order": {
            "buyerName": "深圳市腾讯计算机系统有限公司",
            "buyerTaxNum": "91440300708461136T",
            "salerTaxNum": "91110000000000000E",
            "salerTel": "010-12345678",
            "salerAddress": "北京市海淀区沙箱路1号",
            "orderNo": "K2026031700000000001",
            "invoiceDate": "2026-03-17 10:30:00",
            "clerk": "沙箱开票员",
            "pushMode": "-1",
            "invoiceType": "1",
            "invoiceLine": "pc",
            "remark": "桌号 12",
            "invoiceDetail": [{
                "goodsName": "餐费",
                "goodsCode": "3070401000000000000",
                "withTaxFlag": "0",
                "price": "283.02",
                "num": "1",
                "unit": "份",
                "taxRate": "0.06",
                "taxExcludedAmount": "283.02",
                "tax": "16.98",
                "taxIncludedAmount": "300.00",
                "invoiceLineProperty": "0"
            }]
        }})
    );
}

#[test]
fn red_reasons_use_nuonuos_numbering_not_the_sta_codes() {
    assert_eq!(wire::red_reason_code(RedReason::SalesReturn), "1");
    assert_eq!(wire::red_reason_code(RedReason::InvoicingError), "2");
    assert_eq!(wire::red_reason_code(RedReason::ServiceTermination), "3");
    assert_eq!(wire::red_reason_code(RedReason::SalesAllowance), "4");
    for reason in [
        RedReason::SalesReturn,
        RedReason::InvoicingError,
        RedReason::ServiceTermination,
        RedReason::SalesAllowance,
    ] {
        assert_eq!(
            wire::red_reason_from_code(wire::red_reason_code(reason)),
            Some(reason)
        );
    }
    assert_eq!(RedReason::SalesReturn.sta_code(), "02");
}

// --- tokens ---------------------------------------------------------------------------------

#[tokio::test]
async fn instances_on_one_cache_make_one_token_call_and_restarts_none() {
    let harness = Harness::new().await;
    let calls = harness.token_endpoint().await;
    harness
        .answer(Method::Query.name(), code("E9500", "发票不存在"))
        .await;
    let first = Arc::new(harness.issuer());
    let second = Arc::new(harness.issuer());
    let key = query_key();
    let (a, b) = tokio::join!(first.query(&key), second.query(&key));
    assert_eq!((a.unwrap(), b.unwrap()), (None, None));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // A restart: a new issuer over the same cache uses the stored token.
    let restarted = harness.issuer();
    assert_eq!(restarted.query(&key).await.unwrap(), None);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    let budget = restarted.token_budget().await.unwrap();
    assert_eq!(budget.used, 1);
    assert_eq!(budget.limit, 50);
    assert_eq!(budget.spendable(), 44);
    assert_eq!(
        budget.token_expires_at,
        Some(Timestamp::from_unix_seconds(NOW + 86_400))
    );
    // Ahead of expiry (23 h 30 min later) one refresh, counted.
    harness.clock.advance_millis(84_600_000);
    assert_eq!(restarted.query(&key).await.unwrap(), None);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(restarted.token_budget().await.unwrap().used, 2);
}

#[tokio::test]
async fn a_refused_token_is_refreshed_once_then_the_call_is_repeated() {
    let harness = Harness::new().await;
    let calls = harness.token_endpoint().await;
    // A token stored by an earlier run that Nuonuo no longer accepts.
    harness
        .cache
        .put(
            "fapiao:nuonuo:testapp01:access_token",
            &CachedToken {
                value: Secret::new("stale"),
                expires_at: Timestamp::from_unix_seconds(NOW + 80_000),
            },
        )
        .await
        .unwrap();
    harness
        .answer(Method::Query.name(), |request: &Request| {
            if request.headers["accessToken"] == "stale" {
                code("070301", "accessToken与appKey不匹配")
            } else {
                code("E9500", "发票不存在")
            }
        })
        .await;
    let issuer = harness.issuer();
    assert_eq!(issuer.query(&query_key()).await.unwrap(), None);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // Refused again right away: no second token call inside the minimum interval.
    harness
        .answer(
            Method::Billing.name(),
            code("070301", "accessToken与appKey不匹配"),
        )
        .await;
    let error = issuer
        .issue(&request("K2026031700000000002"))
        .await
        .unwrap_err();
    assert!(
        matches!(&error, IssueError::Configuration(m) if m.contains("last token call was 0 s ago")),
        "{error:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn the_adapter_never_spends_the_reserved_token_calls() {
    let harness = Harness::new().await;
    let calls = harness.token_endpoint().await;
    let times: Vec<String> = (0..45)
        .map(|i| (NOW * 1000 - 86_400_000 - i * 1000).to_string())
        .collect();
    harness
        .cache
        .put(
            "fapiao:nuonuo:testapp01:token_calls",
            &CachedToken {
                value: Secret::new(times.join(",")),
                expires_at: Timestamp::from_unix_seconds(NOW + 1000),
            },
        )
        .await
        .unwrap();
    let issuer = harness.issuer();
    let error = issuer.query(&query_key()).await.unwrap_err();
    assert!(
        matches!(&error, IssueError::Configuration(m) if m.contains("45 of 50 token calls")),
        "{error:?}"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 0);
    // Calls older than 30 days fall out of the window.
    harness.clock.advance_millis(BUDGET_WINDOW);
    harness
        .answer(Method::Query.name(), code("E9500", "发票不存在"))
        .await;
    assert_eq!(issuer.query(&query_key()).await.unwrap(), None);
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(issuer.token_budget().await.unwrap().used, 1);
}

const BUDGET_WINDOW: i64 = token::BUDGET_WINDOW_MILLIS;

#[tokio::test]
async fn token_errors_name_the_cause_and_are_configuration_errors() {
    let harness = Harness::new().await;
    Mock::given(method("POST"))
        .and(path("/accessToken"))
        .respond_with(ResponseTemplate::new(200).set_body_json(
            json!({ "error": "070305", "error_description": "Incorrect clientSecret" }),
        ))
        .mount(&harness.server)
        .await;
    let error = harness.issuer().query(&query_key()).await.unwrap_err();
    assert!(
        matches!(&error, IssueError::Configuration(m) if m.contains("070305") && m.contains("app_secret")),
        "{error:?}"
    );
    assert!(!format!("{error:?}").contains(APP_SECRET));
}

// --- classification ----------------------------------------------------------------------

async fn issue_answered(answer: ResponseTemplate) -> Result<IssueOutcome, IssueError> {
    let harness = Harness::new().await;
    harness.token_endpoint().await;
    harness.answer(Method::Billing.name(), answer).await;
    harness
        .issuer()
        .issue(&request("K2026031700000000003"))
        .await
}

#[tokio::test]
async fn issue_errors_are_classified_so_that_exactly_once_holds() {
    let unknown =
        |r: &Result<IssueOutcome, IssueError>| matches!(r, Err(IssueError::OutcomeUnknown(_)));
    let timeout =
        issue_answered(ok(json!({ "invoiceSerialNum": "1" })).set_delay(Duration::from_secs(2)))
            .await;
    assert!(unknown(&timeout), "{timeout:?}");
    let server_error = issue_answered(ResponseTemplate::new(502)).await;
    assert!(unknown(&server_error), "{server_error:?}");
    let garbage = issue_answered(ResponseTemplate::new(200).set_body_string("<html>")).await;
    assert!(unknown(&garbage), "{garbage:?}");
    let no_serial = issue_answered(ok(json!({}))).await;
    assert!(
        matches!(&no_serial, Err(IssueError::OutcomeUnknown(m)) if m.contains("result.invoiceSerialNum: required")),
        "{no_serial:?}"
    );
    let fault = issue_answered(code("0200", "服务异常")).await;
    assert!(unknown(&fault), "{fault:?}");
    let busy = issue_answered(code("040102", "API服务异常，请稍后重试")).await;
    assert!(matches!(busy, Err(IssueError::NotSent(_))), "{busy:?}");
    let signature = issue_answered(code("070601", "签名不匹配")).await;
    assert!(
        matches!(&signature, Err(IssueError::Configuration(m)) if m.contains("NTP")),
        "{signature:?}"
    );
    let mismatch = issue_answered(code("E9302", "税号不一致")).await;
    assert!(
        matches!(mismatch, Err(IssueError::Configuration(_))),
        "{mismatch:?}"
    );
    let invalid = issue_answered(code("E9131", "金额*税率-税额>0.06")).await;
    assert_eq!(
        invalid.unwrap(),
        IssueOutcome::Rejected(IssueRejection {
            reason: "金额*税率-税额>0.06".to_owned(),
            code: Some("E9131".to_owned()),
            serial_is_dead: false,
        })
    );
}

#[tokio::test]
async fn a_refused_connection_is_not_sent() {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    drop(listener);
    let harness = Harness::new().await;
    harness.token_endpoint().await;
    let config = NuonuoConfig::new(
        &format!("http://{addr}/open/v1/services"),
        &format!("{}/accessToken", harness.server.uri()),
        APP_KEY,
        APP_SECRET.to_owned(),
        TAX_ID,
    )
    .unwrap();
    let error = harness
        .issuer_with(config)
        .issue(&request("K2026031700000000004"))
        .await
        .unwrap_err();
    assert!(matches!(error, IssueError::NotSent(_)), "{error:?}");
}

#[tokio::test]
async fn a_duplicate_order_number_is_queried_not_failed() {
    let harness = Harness::new().await;
    harness.token_endpoint().await;
    harness
        .answer(Method::Billing.name(), code("E9106", "订单编号重复"))
        .await;
    harness
        .answer(Method::Query.name(), move |request: &Request| {
            let body: Value = serde_json::from_slice(&request.body).unwrap();
            assert_eq!(body["orderNos"], json!(["K2026031700000000005"]));
            ok(json!([issued_item("K2026031700000000005")]))
        })
        .await;
    let outcome = harness
        .issuer()
        .issue(&request("K2026031700000000005"))
        .await
        .unwrap();
    let IssueOutcome::Issued(invoice) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(invoice.number, InvoiceNumber::digital(NUMBER).unwrap());
    assert_eq!(
        invoice.totals,
        Totals {
            amount_excl: fixtures::fen("283.02"),
            tax: fixtures::fen("16.98"),
            total: fixtures::fen("300.00"),
        }
    );
    assert_eq!(invoice.issued_at, Timestamp::from_millis(1_773_714_660_000));
    assert_eq!(invoice.kind, InvoiceKind::DigitalOrdinary);
    assert!(invoice.red_of.is_none());
}

#[tokio::test]
async fn query_maps_the_statuses() {
    let answer = |item: Value| async move {
        let harness = Harness::new().await;
        harness.token_endpoint().await;
        let reinvoiced = Arc::new(AtomicUsize::new(0));
        let counter = reinvoiced.clone();
        harness
            .answer(Method::ReInvoice.name(), move |_: &Request| {
                counter.fetch_add(1, Ordering::SeqCst);
                ok(json!("开票中（重试中）"))
            })
            .await;
        harness
            .answer(Method::Query.name(), ok(json!([item])))
            .await;
        let outcome = harness
            .issuer()
            .query(&IssueKey::parse("K1").unwrap())
            .await;
        (outcome, reinvoiced.load(Ordering::SeqCst))
    };
    let serial = || Some(ProviderRef::parse("20260317103000000001").unwrap());
    let mut item = issued_item("K1");
    item["status"] = json!(20);
    assert_eq!(
        answer(item.clone()).await.0.unwrap(),
        Some(IssueOutcome::Pending(serial()))
    );
    item["status"] = json!("21");
    assert_eq!(
        answer(item.clone()).await.0.unwrap(),
        Some(IssueOutcome::Pending(serial()))
    );
    item["status"] = json!("24");
    let (outcome, reinvoiced) = answer(item.clone()).await;
    assert_eq!(
        (outcome.unwrap(), reinvoiced),
        (Some(IssueOutcome::Pending(serial())), 1)
    );
    item["status"] = json!("22");
    item["failCause"] = json!("购买方税号校验失败");
    assert_eq!(
        answer(item.clone()).await.0.unwrap(),
        Some(IssueOutcome::Rejected(IssueRejection {
            reason: "购买方税号校验失败".to_owned(),
            code: Some("22".to_owned()),
            serial_is_dead: true,
        }))
    );
    item["failCause"] = json!("开票员未登录电子税务局");
    let (outcome, reinvoiced) = answer(item.clone()).await;
    assert!(
        matches!(outcome, Err(IssueError::SessionRequired(_))),
        "{outcome:?}"
    );
    assert_eq!(reinvoiced, 0);
    item["status"] = json!("9");
    let (outcome, _) = answer(item.clone()).await;
    assert!(
        matches!(&outcome, Err(IssueError::Other(e)) if e.to_string().contains("result[0].status")),
        "{outcome:?}"
    );
    let mut issued = issued_item("K1");
    issued["orderAmount"] = json!("300.01");
    let (outcome, _) = answer(issued).await;
    assert!(
        matches!(&outcome, Err(IssueError::Other(e)) if e.to_string().contains("result[0].orderAmount")),
        "{outcome:?}"
    );
}

#[tokio::test]
async fn an_unknown_order_number_is_none() {
    let harness = Harness::new().await;
    harness.token_endpoint().await;
    harness
        .answer(Method::Query.name(), code("E9500", "发票不存在"))
        .await;
    assert_eq!(harness.issuer().query(&query_key()).await.unwrap(), None);
}

// --- PDF --------------------------------------------------------------------------------------

#[tokio::test]
async fn the_pdf_is_fetched_from_pdf_url_and_checked() {
    let harness = Harness::new().await;
    harness.token_endpoint().await;
    let pdf_url = format!("{}/files/a.pdf", harness.server.uri());
    let bad_url = format!("{}/files/b.pdf", harness.server.uri());
    let mut good = issued_item("K1");
    good["pdfUrl"] = json!(pdf_url);
    let mut bad = issued_item("K2");
    bad["pdfUrl"] = json!(bad_url);
    harness
        .answer(Method::Query.name(), ok(json!([good, bad])))
        .await;
    let pdf = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n".to_vec();
    Mock::given(method("GET"))
        .and(path("/files/a.pdf"))
        .respond_with(ResponseTemplate::new(200).set_body_bytes(pdf.clone()))
        .mount(&harness.server)
        .await;
    Mock::given(method("GET"))
        .and(path("/files/b.pdf"))
        .respond_with(ResponseTemplate::new(200).set_body_string("<html>not a pdf</html>"))
        .mount(&harness.server)
        .await;
    let issuer = harness.issuer();
    let invoice = match wire::queried_invoice(
        &wire::Envelope::parse(
            &serde_json::to_vec(&json!({"code":"E0000","result":[issued_item("K1")]})).unwrap(),
        )
        .unwrap(),
        "K1",
    )
    .unwrap()
    .unwrap()
    .status
    {
        InvoiceStatus::Issued(invoice) => invoice,
        other => panic!("{other:?}"),
    };
    let fetched = issuer
        .fetch_pdf(&IssueKey::parse("K1").unwrap(), &invoice)
        .await
        .unwrap();
    assert_eq!(fetched.as_bytes(), pdf.as_slice());
    let error = issuer
        .fetch_pdf(&IssueKey::parse("K2").unwrap(), &invoice)
        .await
        .unwrap_err();
    assert!(
        error.to_string().contains("call failed") || matches!(error, IssueError::Other(_)),
        "{error:?}"
    );
    assert!(format!("{error:?}").contains("%PDF-"), "{error:?}");
}

// --- red flow -----------------------------------------------------------------------------

fn blue() -> IssuedInvoice {
    IssuedInvoice {
        number: InvoiceNumber::digital(NUMBER).unwrap(),
        kind: InvoiceKind::DigitalOrdinary,
        issued_at: Timestamp::from_unix_seconds(NOW),
        totals: Totals {
            amount_excl: fixtures::fen("283.02"),
            tax: fixtures::fen("16.98"),
            total: fixtures::fen("300.00"),
        },
        qr_payload: None,
        provider_ref: None,
        red_of: None,
    }
}

fn reverse_request() -> ReverseRequest {
    ReverseRequest {
        key: IssueKey::parse("R2026031700000000001").unwrap(),
        original_key: IssueKey::parse("K2026031700000000001").unwrap(),
        original: blue(),
        draft: InvoiceDraft::new(
            InvoiceKind::DigitalOrdinary,
            fixtures::company(),
            fixtures::seller(),
            fixtures::lines("300.00").full_reversal(),
            None,
        )
        .unwrap(),
        reason: RedReason::SalesReturn,
    }
}

#[tokio::test]
async fn reversal_saves_the_red_form_then_polls_it_then_queries_the_red_invoice() {
    let harness = Harness::new().await;
    harness.token_endpoint().await;
    let saved: Arc<std::sync::Mutex<Option<Value>>> = Arc::default();
    let form = saved.clone();
    harness
        .answer(Method::SaveRed.name(), move |request: &Request| {
            *form.lock().unwrap() = Some(serde_json::from_slice(&request.body).unwrap());
            ok(json!("R2026031700000000001"))
        })
        .await;
    let polls = Arc::new(AtomicUsize::new(0));
    let counter = polls.clone();
    let stored = saved.clone();
    harness
        .answer(Method::QueryRed.name(), move |_: &Request| {
            let list = match (stored.lock().unwrap().is_some(), counter.fetch_add(1, Ordering::SeqCst)) {
                (false, _) => json!([]),
                (true, 1) => json!([{ "billId": "R2026031700000000001", "billNo": "44030026031700000001", "billStatus": "15", "openStatus": "0" }]),
                (true, _) => json!([{ "billId": "R2026031700000000001", "billNo": "44030026031700000001", "billStatus": "01", "openStatus": "1" }]),
            };
            ResponseTemplate::new(200).set_body_json(json!({ "code": "0000", "describe": "查询成功", "total": 1, "list": list }))
        })
        .await;
    let mut red = issued_item("R2026031700000000001");
    red["allElectronicInvoiceNumber"] = json!("26332000000000000002");
    red["exTaxAmount"] = json!("-283.02");
    red["taxAmount"] = json!("-16.98");
    red["orderAmount"] = json!("-300.00");
    red["oldEleInvoiceNumber"] = json!(NUMBER);
    red["redReason"] = json!("1");
    harness.answer(Method::Query.name(), ok(json!([red]))).await;
    let issuer = harness.issuer();
    let request = reverse_request();
    assert_eq!(
        issuer.reverse(&request).await.unwrap(),
        ReverseOutcome::Pending {
            reference: Some("R2026031700000000001".to_owned())
        }
    );
    let form = saved.lock().unwrap().clone().unwrap();
    assert_eq!(
        form,
        json!({
            "billId": "R2026031700000000001",
            "blueInvoiceLine": "pc",
            "applySource": "0",
            "blueElecInvoiceNumber": NUMBER,
            "sellerTaxNo": "91110000000000000E",
            "sellerName": "沙箱餐饮有限公司",
            "buyerTaxNo": "91440300708461136T",
            "buyerName": "深圳市腾讯计算机系统有限公司",
            "redReason": "1",
            "orderNo": "R2026031700000000001"
        })
    );
    assert_eq!(
        issuer.reverse(&request).await.unwrap(),
        ReverseOutcome::Pending {
            reference: Some("44030026031700000001".to_owned())
        }
    );
    let ReverseOutcome::RedIssued(red) = issuer.reverse(&request).await.unwrap() else {
        panic!("not issued");
    };
    assert_eq!(
        red.number,
        InvoiceNumber::digital("26332000000000000002").unwrap()
    );
    assert_eq!(red.totals.total, fixtures::fen("-300.00"));
    let link = red.red_of.unwrap();
    assert_eq!(link.original, InvoiceNumber::digital(NUMBER).unwrap());
    assert_eq!(
        link.red_form_number.as_deref(),
        Some("44030026031700000001")
    );
    assert_eq!(link.reason, RedReason::SalesReturn);
}

#[tokio::test]
async fn a_dead_red_form_rejects_the_reversal() {
    let harness = Harness::new().await;
    harness.token_endpoint().await;
    harness
        .answer(
            Method::QueryRed.name(),
            ResponseTemplate::new(200).set_body_json(json!({ "code": "0000", "result": { "total": 1, "list": [{ "billId": "R2026031700000000001", "billStatus": "07" }] } })),
        )
        .await;
    let outcome = harness.issuer().reverse(&reverse_request()).await.unwrap();
    assert!(
        matches!(&outcome, ReverseOutcome::Rejected(r) if r.code.as_deref() == Some("07")),
        "{outcome:?}"
    );
}

// --- configuration -------------------------------------------------------------------------

#[test]
fn settings_are_checked_and_the_secret_never_prints() {
    let new = |services: &str, key: &str, secret: &str, tax: &str| {
        NuonuoConfig::new(services, TOKEN_URL, key, secret.to_owned(), tax)
            .map_err(|e| e.to_string())
    };
    let config = new(
        PRODUCTION_SERVICES_URL,
        "SD58292829",
        "s3cr3t-value",
        TAX_ID,
    )
    .unwrap();
    let config = config
        .with_isv("user-1", "refresh-s3cr3t".to_owned())
        .unwrap();
    let text = format!("{config:?}");
    assert!(!text.contains("s3cr3t"), "{text}");
    assert_eq!(
        new("https://sdk.nuonuo.com/open/v1/services/", "k", "s", TAX_ID).unwrap_err(),
        "services_url: the path must be /open/v1/services (it is part of the signature), got \"/open/v1/services/\""
    );
    assert!(
        new("http://sdk.nuonuo.com/open/v1/services", "k", "s", TAX_ID)
            .unwrap_err()
            .starts_with("services_url: must be https")
    );
    assert_eq!(
        new(SANDBOX_SERVICES_URL, "k y", "s", TAX_ID).unwrap_err(),
        "app_key: must be 1 to 64 ASCII letters and digits"
    );
    assert_eq!(
        new(SANDBOX_SERVICES_URL, "k", " ", TAX_ID).unwrap_err(),
        "app_secret: must not be empty"
    );
    assert!(
        new(SANDBOX_SERVICES_URL, "k", "s", "123")
            .unwrap_err()
            .starts_with("seller_tax_id: ")
    );
}

#[test]
fn the_address_and_phone_are_split_at_the_last_word() {
    let order = wire::BillingRequest::new(
        &draft(),
        &wire::IssueContext {
            order_no: "K1",
            invoice_date: "2026-03-17 10:30:00".to_owned(),
            push_mode: "-1",
            extension_number: Some("8889"),
            callback_url: Some("https://shop.example/nuonuo/callback"),
        },
    );
    let value = serde_json::to_value(&order).unwrap();
    assert_eq!(value["order"]["extensionNumber"], "8889");
    assert_eq!(
        value["order"]["callBackUrl"],
        "https://shop.example/nuonuo/callback"
    );
    assert_eq!(value["order"]["salerTel"], "010-12345678");
}

#[tokio::test]
async fn e9500_right_after_acceptance_is_pending_and_later_never_seen() {
    let harness = Harness::new().await;
    harness.token_endpoint().await;
    harness
        .answer(
            Method::Billing.name(),
            ok(json!({ "invoiceSerialNum": "20260317103000000001" })),
        )
        .await;
    harness
        .answer(Method::Query.name(), code("E9500", "发票不存在"))
        .await;
    let issuer = harness.issuer();
    let key = IssueKey::parse("K2026031700000000009").unwrap();
    issuer.issue(&request(key.as_str())).await.unwrap();
    assert_eq!(
        issuer.query(&key).await.unwrap(),
        Some(IssueOutcome::Pending(None))
    );
    // Another process never saw it accepted: the platform's word stands.
    assert_eq!(harness.issuer().query(&key).await.unwrap(), None);
    harness.clock.advance_millis(UNKNOWN_GRACE_MILLIS);
    assert_eq!(issuer.query(&key).await.unwrap(), None);
}

#[tokio::test]
async fn an_isv_app_refreshes_with_the_user_id_and_keeps_the_new_refresh_token() {
    let harness = Harness::new().await;
    let forms: Arc<std::sync::Mutex<Vec<String>>> = Arc::default();
    let log = forms.clone();
    Mock::given(method("POST"))
        .and(path("/accessToken"))
        .respond_with(move |request: &Request| {
            let mut log = log.lock().unwrap();
            log.push(String::from_utf8_lossy(&request.body).into_owned());
            ResponseTemplate::new(200).set_body_json(json!({
                "access_token": format!("isv-token-{}", log.len()),
                "expires_in": 86400,
                "refresh_token": format!("refresh-{}", log.len() + 1),
                "userId": "merchant-7",
            }))
        })
        .mount(&harness.server)
        .await;
    harness
        .answer(Method::Query.name(), code("E9500", "发票不存在"))
        .await;
    let config = harness
        .config()
        .with_isv("merchant-7", "refresh-1".to_owned())
        .unwrap();
    let issuer = harness.issuer_with(config.clone());
    assert_eq!(issuer.query(&query_key()).await.unwrap(), None);
    harness.clock.advance_millis(84_600_000);
    let restarted = harness.issuer_with(config);
    assert_eq!(restarted.query(&query_key()).await.unwrap(), None);
    let forms = forms.lock().unwrap().clone();
    assert_eq!(
        forms,
        vec![
            "client_id=merchant-7&client_secret=test-app-secret&refresh_token=refresh-1&grant_type=refresh_token".to_owned(),
            "client_id=merchant-7&client_secret=test-app-secret&refresh_token=refresh-2&grant_type=refresh_token".to_owned(),
        ]
    );
}

#[test]
fn a_special_invoice_and_discount_lines_map_to_bs_and_line_properties() {
    use fapiao_domain::invoice::{Direction, InvoiceLines, LineInput};
    use fapiao_domain::tax::LineKind;
    let discounted = LineInput {
        kind: LineKind::Discounted,
        ..fixtures::line("106.00")
    };
    let discount = LineInput {
        kind: LineKind::Discount,
        quantity: None,
        unit_price: None,
        unit: None,
        amount: Some(fixtures::fen("-10.60")),
        ..fixtures::line("106.00")
    };
    let lines = InvoiceLines::compute(vec![discounted, discount], Direction::Blue).unwrap();
    let draft = InvoiceDraft::new(
        InvoiceKind::DigitalSpecial,
        fixtures::company(),
        fixtures::seller(),
        lines,
        None,
    )
    .unwrap();
    let context = wire::IssueContext {
        order_no: "K1",
        invoice_date: "2026-03-17 10:30:00".to_owned(),
        push_mode: "-1",
        extension_number: None,
        callback_url: None,
    };
    let value = serde_json::to_value(wire::BillingRequest::new(&draft, &context)).unwrap();
    let order = &value["order"];
    assert_eq!(order["invoiceLine"], "bs");
    assert_eq!(order["buyerTaxNum"], "91440300708461136T");
    let detail = order["invoiceDetail"].as_array().unwrap();
    assert_eq!(detail.len(), 2);
    assert_eq!(detail[0]["invoiceLineProperty"], "2");
    assert_eq!(detail[0]["taxIncludedAmount"], "106.00");
    assert_eq!(detail[0]["taxExcludedAmount"], "100.00");
    assert_eq!(detail[0]["tax"], "6.00");
    assert_eq!(detail[1]["invoiceLineProperty"], "1");
    assert_eq!(detail[1]["goodsName"], detail[0]["goodsName"]);
    assert_eq!(detail[1]["taxIncludedAmount"], "-10.60");
    assert_eq!(detail[1]["taxExcludedAmount"], "-10.00");
    assert_eq!(detail[1]["tax"], "-0.60");
}

#[test]
fn malformed_answers_name_the_field_and_never_panic() {
    let envelope = |body: &str| wire::Envelope::parse(body.as_bytes());
    for body in [
        "",
        "null",
        "[]",
        "\"x\"",
        "{}",
        "{\"code\":5}",
        "{\"code\":null}",
        "{\"code\":[1]}",
        "{\"code\":\"E0000\",\"result\":{}}",
        "{\"code\":\"E0000\",\"result\":[1,null,\"x\"]}",
        "{\"code\":\"E0000\",\"result\":[{\"status\":{}}]}",
        "{\"code\":\"E0000\",\"result\":[{\"status\":2,\"invoiceTime\":-1}]}",
        "{\"code\":\"E0000\",\"result\":[{\"status\":\"2\",\"allElectronicInvoiceNumber\":\"１２\",\"invoiceTime\":1e400}]}",
        "{\"code\":\"E0000\",\"result\":[{\"status\":\"2\",\"allElectronicInvoiceNumber\":\"26332000000000000001\",\"invoiceTime\":\"99999999999999999999999\",\"exTaxAmount\":\"1e3\"}]}",
        "{\"code\":\"0000\",\"list\":{}}",
        "{\"code\":\"0000\",\"list\":[{\"billStatus\":[]}]}",
        "{\"code\":\"0000\",\"result\":\"x\"}",
    ] {
        if let Ok(envelope) = envelope(body) {
            let _ = wire::queried_invoice(&envelope, "K1");
            let _ = wire::red_form(&envelope, "K1");
            let _ = wire::billing_serial(&envelope);
        }
    }
    assert_eq!(envelope("{}").unwrap_err().to_string(), "code: required");
    assert_eq!(
        envelope("[]").unwrap_err().to_string(),
        "body: expected a JSON object, got an array"
    );
    let bad_time = envelope(
        "{\"code\":\"E0000\",\"result\":[{\"status\":\"2\",\"allElectronicInvoiceNumber\":\"26332000000000000001\",\"invoiceTime\":\"yesterday\"}]}",
    )
    .unwrap();
    assert_eq!(
        wire::queried_invoice(&bad_time, "K1")
            .unwrap_err()
            .to_string(),
        "result[0].invoiceTime: \"yesterday\" is not epoch milliseconds"
    );
    let bad_number = envelope(
        "{\"code\":\"E0000\",\"result\":[{\"status\":\"2\",\"allElectronicInvoiceNumber\":\"2633\"}]}",
    )
    .unwrap();
    assert_eq!(
        wire::queried_invoice(&bad_number, "K1")
            .unwrap_err()
            .to_string(),
        "result[0].allElectronicInvoiceNumber: \"2633\" is not a 20-digit 数电 number"
    );
    // Another order's item is not this order's answer.
    let other =
        envelope("{\"code\":\"E0000\",\"result\":[{\"orderNo\":\"K2\",\"status\":\"20\"}]}")
            .unwrap();
    assert_eq!(wire::queried_invoice(&other, "K1").unwrap(), None);
}
