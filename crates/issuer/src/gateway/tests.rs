use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use fapiao_domain::Timestamp;
use fapiao_domain::ids::ProviderRef;
use fapiao_domain::invoice::{
    InvoiceDraft, InvoiceKind, InvoiceNumber, IssuedInvoice, RedLink, RedReason, Totals,
};
use fapiao_domain::ports::{
    InvoiceIssuer, IssueError, IssueOutcome, IssueRejection, IssueRequest, ReverseOutcome,
    ReverseRequest,
};
use fapiao_domain::testing::{ManualClock, fixtures};
use hmac::{Hmac, KeyInit, Mac};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};
use wiremock::matchers::{method, path};
use wiremock::{Mock, MockServer, Request, Respond, ResponseTemplate};

use super::wire::{self, parse_rfc3339};
use super::*;

const SECRET: &str = "gateway-test-secret-of-more-than-32-characters";
/// 2026-03-17T10:30:00+08:00.
const NOW: i64 = 1_773_714_600;
const DOC: &str = include_str!("../../../../docs/issuers/gateway.md");
const PDF: &[u8] = b"%PDF-1.7\n1 0 obj << >> endobj\ntrailer << >>\n%%EOF\n";

// --- harness -----------------------------------------------------------------------------

fn gateway_at(base_url: &str) -> HttpGatewayIssuer {
    let config = GatewayConfig::new(base_url, SECRET)
        .unwrap()
        .with_connect_timeout(Duration::from_secs(2))
        .with_request_timeout(Duration::from_millis(500));
    let clock = Arc::new(ManualClock::new(Timestamp::from_unix_seconds(NOW)));
    HttpGatewayIssuer::new(config, clock).unwrap()
}

fn gateway(server: &MockServer) -> HttpGatewayIssuer {
    gateway_at(&server.uri())
}

/// HMAC-SHA256 signature written out independently of `canonical` and `hex`.
fn expected_signature(
    secret: &str,
    method_or_status: &str,
    path: &str,
    timestamp: &str,
    nonce: &str,
    body: &[u8],
) -> String {
    let body_hash: String = Sha256::digest(body)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    let message = [method_or_status, path, timestamp, nonce, &body_hash]
        .iter()
        .fold("v1".to_owned(), |text, line| format!("{text}\n{line}"));
    let mut mac = Hmac::<Sha256>::new_from_slice(secret.as_bytes()).unwrap();
    mac.update(message.as_bytes());
    let tag = mac.finalize().into_bytes();
    format!(
        "v1={}",
        tag.iter().map(|b| format!("{b:02x}")).collect::<String>()
    )
}

/// Asserts the request carries a valid signature of `method` over `contract_path`.
fn assert_signed(request: &Request, method: &str, contract_path: &str) {
    let header = |name: &str| {
        request
            .headers
            .get(name)
            .unwrap_or_else(|| panic!("no {name}"))
            .to_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(request.method.as_str(), method);
    let timestamp = header("x-fapiao-timestamp");
    assert_eq!(timestamp, NOW.to_string());
    let nonce = header("x-fapiao-nonce");
    assert!(
        (16..=64).contains(&nonce.len()) && nonce.bytes().all(|b| b.is_ascii_alphanumeric()),
        "{nonce}"
    );
    assert_eq!(
        header("x-fapiao-signature"),
        expected_signature(
            SECRET,
            method,
            contract_path,
            &timestamp,
            &nonce,
            &request.body
        )
    );
}

/// A response signed the way the contract says, with knobs to break it.
#[derive(Clone)]
struct Signed {
    status: u16,
    body: Vec<u8>,
    content_type: &'static str,
    secret: &'static str,
    timestamp: i64,
    signed: bool,
    tamper_body: bool,
    prefix: &'static str,
    delay: Duration,
}

impl Signed {
    fn raw(status: u16, body: &[u8], content_type: &'static str) -> Signed {
        Signed {
            status,
            body: body.to_vec(),
            content_type,
            secret: SECRET,
            timestamp: NOW + 1,
            signed: true,
            tamper_body: false,
            prefix: "",
            delay: Duration::ZERO,
        }
    }

    fn json(status: u16, body: &Value) -> Signed {
        Signed::raw(
            status,
            &serde_json::to_vec(body).unwrap(),
            "application/json",
        )
    }

    fn unsigned(self) -> Signed {
        Signed {
            signed: false,
            ..self
        }
    }
}

impl Respond for Signed {
    fn respond(&self, request: &Request) -> ResponseTemplate {
        let path = request
            .url
            .path()
            .strip_prefix(self.prefix)
            .unwrap()
            .to_owned();
        let nonce = "9b1d0e4c553f9c2a";
        let timestamp = self.timestamp.to_string();
        let mut response = ResponseTemplate::new(self.status)
            .set_body_raw(self.body.clone(), self.content_type)
            .set_delay(self.delay);
        if self.signed {
            let signature = expected_signature(
                self.secret,
                &self.status.to_string(),
                &path,
                &timestamp,
                nonce,
                &self.body,
            );
            response = response
                .insert_header("X-Fapiao-Timestamp", timestamp.as_str())
                .insert_header("X-Fapiao-Nonce", nonce)
                .insert_header("X-Fapiao-Signature", signature.as_str());
        }
        if self.tamper_body {
            let mut body = self.body.clone();
            body.push(b' ');
            response = response.set_body_raw(body, self.content_type);
        }
        response
    }
}

async fn serve(http_method: &str, at: &str, response: Signed) -> MockServer {
    let server = MockServer::start().await;
    Mock::given(method(http_method))
        .and(path(at))
        .respond_with(response)
        .mount(&server)
        .await;
    server
}

async fn single_request(server: &MockServer) -> Request {
    let mut requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 1, "exactly one request");
    requests.remove(0)
}

/// The first ```json block after `marker` in the contract.
fn doc_json(marker: &str) -> Value {
    let start = DOC
        .find(marker)
        .unwrap_or_else(|| panic!("{marker:?} not in the doc"));
    let block = &DOC[start..];
    let block = &block[block.find("```json\n").unwrap() + 8..];
    let block = &block[..block.find("```").unwrap()];
    serde_json::from_str(block).unwrap()
}

fn key(text: &str) -> IssueKey {
    IssueKey::parse(text).unwrap()
}

fn draft() -> InvoiceDraft {
    InvoiceDraft::new(
        InvoiceKind::DigitalOrdinary,
        fixtures::company(),
        fixtures::seller(),
        fixtures::lines("300.00"),
        Some("订单号：A-20260317-0001".to_owned()),
    )
    .unwrap()
}

fn issue_request() -> IssueRequest {
    IssueRequest {
        key: key("K20260317000001"),
        order: fixtures::key("A-20260317-0001"),
        draft: draft(),
    }
}

/// The invoice object of the contract, as the domain has it.
fn issued() -> IssuedInvoice {
    IssuedInvoice {
        number: InvoiceNumber::digital("26412000000911845396").unwrap(),
        kind: InvoiceKind::DigitalOrdinary,
        issued_at: Timestamp::from_unix_seconds(NOW),
        totals: Totals {
            amount_excl: fixtures::fen("283.02"),
            tax: fixtures::fen("16.98"),
            total: fixtures::fen("300.00"),
        },
        qr_payload: Some("01,32,,26412000000911845396,283.02,20260317,,ABCD".to_owned()),
        provider_ref: Some(ProviderRef::parse("platform-serial-123").unwrap()),
        red_of: None,
    }
}

fn red_invoice_json() -> Value {
    json!({
        "number": "26412000000911845397",
        "kind": "digital_ordinary",
        "issued_at": "2026-03-18T09:00:00+08:00",
        "totals": { "amount_excl": "-283.02", "tax": "-16.98", "total": "-300.00" },
        "qr_payload": null,
        "provider_ref": "platform-serial-124",
        "red_of": { "original": "26412000000911845396", "red_form_number": "26412000000800000001", "reason": "01" }
    })
}

fn reverse_request() -> ReverseRequest {
    let blue = draft();
    let red = InvoiceDraft::new(
        blue.kind(),
        blue.buyer().clone(),
        blue.seller().clone(),
        blue.lines().full_reversal(),
        Some("被红冲蓝字数电发票号码：26412000000911845396".to_owned()),
    )
    .unwrap();
    ReverseRequest {
        key: key("K20260318000002"),
        original_key: key("K20260317000001"),
        original: issued(),
        draft: red,
        reason: RedReason::InvoicingError,
    }
}

fn pending() -> Value {
    json!({ "status": "pending", "reference": "platform-serial-123" })
}

// --- signatures --------------------------------------------------------------------------

#[test]
fn signature_vectors_of_the_contract() {
    // Computed here and checked with Python's hmac and hashlib; the same table is in the doc.
    let secret = b"fapiao-gateway-test-vector-secret-0123456789";
    // (method or status, path, timestamp, nonce, body, signature)
    type Vector = (
        &'static str,
        &'static str,
        &'static str,
        &'static str,
        &'static [u8],
        &'static str,
    );
    let vectors: [Vector; 3] = [
        (
            "POST",
            "/v1/invoices",
            "1773714600",
            "3f9c2a7b1d0e4c55",
            br#"{"key":"K20260317000001"}"#,
            "ee566cceec221ebb85c99d2dcc260928d52c9c89689db620e5700884ab2ad6cb",
        ),
        (
            "GET",
            "/v1/invoices/K20260317000001",
            "1773714600",
            "3f9c2a7b1d0e4c56",
            b"",
            "a3d4f157ae38c4a3d0fbfd94c12228bea96efb506498ac9e2b0c6c2d88f16ff9",
        ),
        (
            "200",
            "/v1/invoices/K20260317000001",
            "1773714601",
            "9b1d0e4c553f9c2a",
            br#"{"status":"pending","reference":"platform-serial-123"}"#,
            "e97d78fbdf921da67834efaad4b0b9f2d397afbd20133027b6587544dacdb8b3",
        ),
    ];
    for (first, path, timestamp, nonce, body, signature) in vectors {
        let message = canonical(first, path, timestamp, nonce, body);
        assert_eq!(
            hex::encode(hmac_sha256(secret, &message)),
            signature,
            "{message}"
        );
        assert!(
            DOC.contains(&format!("`v1={signature}`")),
            "{signature} not in the doc"
        );
    }
    assert_eq!(
        canonical("GET", "/v1/invoices/K1", "1", "n", b""),
        "v1\nGET\n/v1/invoices/K1\n1\nn\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
    );
}

#[test]
fn hex_round_trips_and_unhex_takes_64_lower_case_digits_only() {
    let bytes: [u8; 32] = std::array::from_fn(|i| u8::try_from(i * 8).unwrap());
    let text = hex::encode(bytes);
    assert_eq!(&text[..8], "00081018");
    assert_eq!(unhex32(&text), Some(bytes));
    assert_eq!(unhex32(&text.to_uppercase()), None);
    assert_eq!(unhex32(&text[..62]), None);
    assert_eq!(unhex32(&format!("{}zz", &text[..62])), None);
    let nonce = new_nonce().unwrap();
    assert!(valid_nonce(&nonce) && nonce.len() == 32);
    assert_ne!(nonce, new_nonce().unwrap());
}

// --- configuration -------------------------------------------------------------------------

#[test]
fn base_url_must_be_https_or_loopback_http() {
    for good in [
        "https://erp.example.com",
        "https://erp.example.com/fapiao/",
        "http://127.0.0.1:8080",
        "http://localhost:9000/gw",
        "http://[::1]:8080",
    ] {
        let config = GatewayConfig::new(good, SECRET).unwrap_or_else(|e| panic!("{good}: {e}"));
        assert!(!config.base_url().ends_with('/'), "{}", config.base_url());
    }
    for (bad, rule) in [
        ("http://erp.example.com", "must be https"),
        ("http://10.0.0.1", "must be https"),
        ("ftp://erp.example.com", "\"ftp\" is not https"),
        ("erp.example.com", "not an absolute URL"),
        ("https://erp.example.com/?a=1", "query"),
        ("https://user:hunter2@erp.example.com", "credentials"),
    ] {
        let error = GatewayConfig::new(bad, SECRET).unwrap_err();
        assert!(matches!(error, GatewayConfigError::BaseUrl(_)), "{bad}");
        let text = error.to_string();
        assert!(
            text.starts_with("base_url: ") && text.contains(rule),
            "{bad}: {text}"
        );
        assert!(!text.contains("hunter2"));
    }
}

#[test]
fn secret_needs_32_characters_and_never_prints() {
    let error = GatewayConfig::new("https://erp.example.com", "short-secret").unwrap_err();
    assert_eq!(
        error.to_string(),
        "secret: must be at least 32 characters, got 12"
    );
    assert!(GatewayConfig::new("https://erp.example.com", "密".repeat(32)).is_ok());
    let issuer = gateway_at("https://erp.example.com");
    let printed = format!("{issuer:?} {:?}", issuer.config());
    assert!(printed.contains("erp.example.com") && printed.contains("[redacted]"));
    assert!(!printed.contains(SECRET), "{printed}");
    assert_eq!(
        issuer.config().request_timeout(),
        Duration::from_millis(500)
    );
    assert_eq!(issuer.config().connect_timeout(), Duration::from_secs(2));
}

#[test]
fn capabilities() {
    let capabilities = gateway_at("https://erp.example.com").capabilities();
    assert_eq!(capabilities.name, "gateway");
    assert!(!capabilities.synchronous && capabilities.full_reversal);
    assert!(!capabilities.partial_reversal);
    assert_eq!(capabilities.max_lines, 2000);
}

// --- issue -----------------------------------------------------------------------------------

#[tokio::test]
async fn issue_posts_the_contract_example_signed_and_reads_the_invoice() {
    let answer = json!({ "status": "issued", "invoice": doc_json("An invoice object:") });
    let server = serve("POST", "/v1/invoices", Signed::json(200, &answer)).await;
    let outcome = gateway(&server).issue(&issue_request()).await.unwrap();
    assert_eq!(outcome, IssueOutcome::Issued(issued()));

    let request = single_request(&server).await;
    assert_signed(&request, "POST", "/v1/invoices");
    assert_eq!(request.url.path(), "/v1/invoices");
    assert_eq!(request.headers["content-type"], "application/json");
    assert_eq!(request.headers["accept"], "application/json");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(body, doc_json("Issue request:"));
}

#[tokio::test]
async fn issue_passes_pending_and_rejected_through() {
    let server = serve("POST", "/v1/invoices", Signed::json(200, &pending())).await;
    assert_eq!(
        gateway(&server).issue(&issue_request()).await.unwrap(),
        IssueOutcome::Pending(Some(ProviderRef::parse("platform-serial-123").unwrap()))
    );

    let rejected = json!({ "status": "rejected", "rejection":
        { "reason": "购买方税号有误", "code": "E9105", "serial_is_dead": true, "extra": 1 } });
    let server = serve("POST", "/v1/invoices", Signed::json(200, &rejected)).await;
    assert_eq!(
        gateway(&server).issue(&issue_request()).await.unwrap(),
        IssueOutcome::Rejected(IssueRejection {
            reason: "购买方税号有误".to_owned(),
            code: Some("E9105".to_owned()),
            serial_is_dead: true,
        })
    );

    let no_reference = json!({ "status": "pending", "reference": null });
    let server = serve("POST", "/v1/invoices", Signed::json(200, &no_reference)).await;
    assert_eq!(
        gateway(&server).issue(&issue_request()).await.unwrap(),
        IssueOutcome::Pending(None)
    );
}

#[tokio::test]
async fn a_repeated_key_sends_the_same_body_with_a_fresh_nonce() {
    // Idempotency is the service's: the client sends the key again and passes on its answer.
    let server = serve("POST", "/v1/invoices", Signed::json(200, &pending())).await;
    let gateway = gateway(&server);
    for _ in 0..2 {
        gateway.issue(&issue_request()).await.unwrap();
    }
    let requests = server.received_requests().await.unwrap();
    assert_eq!(requests.len(), 2);
    assert_eq!(requests[0].body, requests[1].body);
    assert_ne!(
        requests[0].headers["x-fapiao-nonce"],
        requests[1].headers["x-fapiao-nonce"]
    );
}

#[tokio::test]
async fn a_base_path_is_sent_but_not_signed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/gw/v1/invoices"))
        .respond_with(Signed {
            prefix: "/gw",
            ..Signed::json(200, &pending())
        })
        .mount(&server)
        .await;
    let gateway = gateway_at(&format!("{}/gw/", server.uri()));
    gateway.issue(&issue_request()).await.unwrap();
    let request = single_request(&server).await;
    assert_eq!(request.url.path(), "/gw/v1/invoices");
    assert_signed(&request, "POST", "/v1/invoices");
}

// --- query -----------------------------------------------------------------------------------

#[tokio::test]
async fn query_gets_the_key_signed_over_an_empty_body() {
    let answer = json!({ "status": "issued", "invoice": doc_json("An invoice object:") });
    let server = serve(
        "GET",
        "/v1/invoices/K20260317000001",
        Signed::json(200, &answer),
    )
    .await;
    let outcome = gateway(&server)
        .query(&key("K20260317000001"))
        .await
        .unwrap();
    assert_eq!(outcome, Some(IssueOutcome::Issued(issued())));
    let request = single_request(&server).await;
    assert_signed(&request, "GET", "/v1/invoices/K20260317000001");
    assert!(request.body.is_empty());
    assert!(request.headers.get("content-type").is_none());
}

#[tokio::test]
async fn query_404_is_none_only_when_signed() {
    let not_found = json!({ "error": "not_found", "message": "no request with this key" });
    let server = serve("GET", "/v1/invoices/K1", Signed::json(404, &not_found)).await;
    assert_eq!(gateway(&server).query(&key("K1")).await.unwrap(), None);

    // A proxy's 404 must not pass for "never seen", or fapiao would issue again.
    let server = serve(
        "GET",
        "/v1/invoices/K1",
        Signed::json(404, &not_found).unsigned(),
    )
    .await;
    let error = gateway(&server).query(&key("K1")).await.unwrap_err();
    assert!(matches!(error, IssueError::Other(_)), "{error:?}");
}

// --- fetch_pdf -------------------------------------------------------------------------------

#[tokio::test]
async fn fetch_pdf_returns_the_signed_document() {
    let server = serve(
        "GET",
        "/v1/invoices/K1/pdf",
        Signed::raw(200, PDF, "application/pdf"),
    )
    .await;
    let pdf = gateway(&server)
        .fetch_pdf(&key("K1"), &issued())
        .await
        .unwrap();
    assert_eq!(pdf.as_bytes(), PDF);
    let request = single_request(&server).await;
    assert_signed(&request, "GET", "/v1/invoices/K1/pdf");
    assert_eq!(request.headers["accept"], "application/pdf");
}

#[tokio::test]
async fn fetch_pdf_refuses_what_is_not_a_pdf() {
    for (body, content_type, expected) in [
        (
            b"<html>login</html>".as_slice(),
            "application/pdf",
            "%PDF- header",
        ),
        (PDF, "text/html", "expected application/pdf"),
        (b"%PDF-1.7 truncated".as_slice(), "application/pdf", "%%EOF"),
    ] {
        let server = serve(
            "GET",
            "/v1/invoices/K1/pdf",
            Signed::raw(200, body, content_type),
        )
        .await;
        let error = gateway(&server)
            .fetch_pdf(&key("K1"), &issued())
            .await
            .unwrap_err();
        let IssueError::Other(source) = &error else {
            panic!("{error:?}");
        };
        assert!(source.to_string().contains(expected), "{source}");
    }
}

#[tokio::test]
async fn fetch_pdf_404_is_not_found() {
    let server = serve(
        "GET",
        "/v1/invoices/K1/pdf",
        Signed::json(
            404,
            &json!({ "error": "not_found", "message": "not rendered yet" }),
        ),
    )
    .await;
    let error = gateway(&server)
        .fetch_pdf(&key("K1"), &issued())
        .await
        .unwrap_err();
    let IssueError::NotFound(message) = error else {
        panic!("{error:?}");
    };
    assert_eq!(
        message,
        "gateway fetch_pdf: HTTP 404: not_found: not rendered yet"
    );
}

// --- reverse ---------------------------------------------------------------------------------

#[tokio::test]
async fn reverse_posts_the_reversal_and_reads_the_red_invoice() {
    let answer = json!({ "status": "issued", "invoice": red_invoice_json() });
    let server = serve("POST", "/v1/reversals", Signed::json(200, &answer)).await;
    let outcome = gateway(&server).reverse(&reverse_request()).await.unwrap();
    let ReverseOutcome::RedIssued(red) = outcome else {
        panic!("{outcome:?}");
    };
    assert_eq!(red.totals.total, fixtures::fen("-300.00"));
    assert_eq!(
        red.red_of,
        Some(RedLink {
            original: InvoiceNumber::digital("26412000000911845396").unwrap(),
            red_form_number: Some("26412000000800000001".to_owned()),
            reason: RedReason::InvoicingError,
        })
    );

    let request = single_request(&server).await;
    assert_signed(&request, "POST", "/v1/reversals");
    let body: Value = serde_json::from_slice(&request.body).unwrap();
    assert_eq!(
        body,
        json!({
            "key": "K20260318000002",
            "original_key": "K20260317000001",
            "original": doc_json("An invoice object:"),
            "reason": "01",
            "lines": [
                { "kind": "normal", "name": "餐费", "tax_code": "3070401000000000000", "short_name": "餐饮服务",
                  "spec": null, "unit": "份", "quantity": "-1", "unit_price_excl": "283.02",
                  "amount_excl": "-283.02", "tax": "-16.98", "rate": "0.06" }
            ],
            "totals": { "amount_excl": "-283.02", "tax": "-16.98", "total": "-300.00" },
            "remark": "被红冲蓝字数电发票号码：26412000000911845396"
        })
    );
}

#[tokio::test]
async fn reverse_passes_pending_and_rejected_through() {
    let server = serve("POST", "/v1/reversals", Signed::json(200, &pending())).await;
    assert_eq!(
        gateway(&server).reverse(&reverse_request()).await.unwrap(),
        ReverseOutcome::Pending {
            reference: Some("platform-serial-123".to_owned())
        }
    );
    let rejected = json!({ "status": "rejected", "rejection":
        { "reason": "原发票已红冲", "code": null, "serial_is_dead": false } });
    let server = serve("POST", "/v1/reversals", Signed::json(200, &rejected)).await;
    assert_eq!(
        gateway(&server).reverse(&reverse_request()).await.unwrap(),
        ReverseOutcome::Rejected(IssueRejection {
            reason: "原发票已红冲".to_owned(),
            code: None,
            serial_is_dead: false,
        })
    );
}

#[tokio::test]
async fn reverse_of_a_red_invoice_without_red_of_is_a_bad_body() {
    let mut invoice = red_invoice_json();
    invoice["red_of"] = Value::Null;
    let answer = json!({ "status": "issued", "invoice": invoice });
    let server = serve("POST", "/v1/reversals", Signed::json(200, &answer)).await;
    let error = gateway(&server)
        .reverse(&reverse_request())
        .await
        .unwrap_err();
    let IssueError::OutcomeUnknown(message) = error else {
        panic!("{error:?}");
    };
    assert!(
        message.contains("invoice.red_of: required on a red invoice"),
        "{message}"
    );
}

#[tokio::test]
async fn reverse_of_a_legacy_invoice_is_not_sent() {
    let server = MockServer::start().await;
    let mut request = reverse_request();
    request.original.number =
        InvoiceNumber::legacy("044031900111", "00012345", "12345678901234567890").unwrap();
    let error = gateway(&server).reverse(&request).await.unwrap_err();
    let IssueError::Other(source) = &error else {
        panic!("{error:?}");
    };
    assert!(
        source.to_string().contains("original.number: a legacy"),
        "{source}"
    );
    assert!(server.received_requests().await.unwrap().is_empty());
}

// --- failures --------------------------------------------------------------------------------

#[tokio::test]
async fn a_timeout_after_sending_leaves_writes_unknown_and_reads_retryable() {
    let slow = |response: Signed| Signed {
        delay: Duration::from_secs(3),
        ..response
    };
    let server = MockServer::start().await;
    for (http_method, at) in [
        ("POST", "/v1/invoices"),
        ("POST", "/v1/reversals"),
        ("GET", "/v1/invoices/K1"),
        ("GET", "/v1/invoices/K1/pdf"),
    ] {
        Mock::given(method(http_method))
            .and(path(at))
            .respond_with(slow(Signed::json(200, &pending())))
            .mount(&server)
            .await;
    }
    let gateway = gateway(&server);
    let error = gateway.issue(&issue_request()).await.unwrap_err();
    assert!(matches!(error, IssueError::OutcomeUnknown(_)), "{error:?}");
    assert!(error.to_string().contains("after sending"), "{error}");
    let error = gateway.reverse(&reverse_request()).await.unwrap_err();
    assert!(matches!(error, IssueError::OutcomeUnknown(_)), "{error:?}");
    let error = gateway.query(&key("K1")).await.unwrap_err();
    let IssueError::Other(source) = &error else {
        panic!("{error:?}");
    };
    assert!(matches!(
        source.downcast_ref::<GatewayError>(),
        Some(GatewayError::Transport { call: "query", .. })
    ));
    let error = gateway.fetch_pdf(&key("K1"), &issued()).await.unwrap_err();
    assert!(matches!(error, IssueError::Other(_)), "{error:?}");
}

#[tokio::test]
async fn a_refused_connection_is_not_sent() {
    let port = {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        listener.local_addr().unwrap().port()
    };
    let gateway = gateway_at(&format!("http://127.0.0.1:{port}"));
    let errors = [
        gateway.issue(&issue_request()).await.unwrap_err(),
        gateway.query(&key("K1")).await.unwrap_err(),
        gateway.fetch_pdf(&key("K1"), &issued()).await.unwrap_err(),
        gateway.reverse(&reverse_request()).await.unwrap_err(),
    ];
    for error in errors {
        assert!(matches!(error, IssueError::NotSent(_)), "{error:?}");
    }
}

#[tokio::test]
async fn a_failed_tls_handshake_or_dns_lookup_is_not_sent() {
    // An HTTP server cannot complete a TLS handshake: nothing is written.
    let server = MockServer::start().await;
    let tls = gateway_at(&server.uri().replace("http://", "https://"));
    let error = tls.issue(&issue_request()).await.unwrap_err();
    assert!(matches!(error, IssueError::NotSent(_)), "{error:?}");
    assert!(server.received_requests().await.unwrap().is_empty());
    // `.invalid` never resolves (RFC 6761).
    let dns = gateway_at("https://fapiao-gateway.invalid");
    let error = dns.reverse(&reverse_request()).await.unwrap_err();
    assert!(matches!(error, IssueError::NotSent(_)), "{error:?}");
}

#[tokio::test]
async fn an_answer_without_a_valid_signature_counts_as_not_received() {
    let good = || Signed::json(200, &pending());
    let cases = [
        (good().unsigned(), "no X-Fapiao-Timestamp header"),
        (
            Signed {
                secret: "another-secret-of-more-than-32-characters!",
                ..good()
            },
            "does not match",
        ),
        (
            Signed {
                timestamp: NOW - 301,
                ..good()
            },
            "301 s away from the local clock",
        ),
        (
            Signed {
                tamper_body: true,
                ..good()
            },
            "does not match",
        ),
        (
            Signed {
                prefix: "/v1",
                ..good()
            },
            "does not match",
        ),
    ];
    for (response, reason) in cases {
        let server = MockServer::start().await;
        Mock::given(method("POST"))
            .and(path("/v1/invoices"))
            .respond_with(response.clone())
            .mount(&server)
            .await;
        Mock::given(method("GET"))
            .and(path("/v1/invoices/K1"))
            .respond_with(response)
            .mount(&server)
            .await;
        let gateway = gateway(&server);
        let error = gateway.issue(&issue_request()).await.unwrap_err();
        let IssueError::OutcomeUnknown(message) = &error else {
            panic!("{error:?}");
        };
        assert!(message.contains(reason), "{message}");
        let error = gateway.query(&key("K1")).await.unwrap_err();
        let IssueError::Other(source) = &error else {
            panic!("{error:?}");
        };
        assert!(
            matches!(
                source.downcast_ref::<GatewayError>(),
                Some(GatewayError::Signature { status: 200, .. })
            ),
            "{source}"
        );
    }
    // Within the window either way.
    let server = serve(
        "POST",
        "/v1/invoices",
        Signed {
            timestamp: NOW - 300,
            ..good()
        },
    )
    .await;
    gateway(&server).issue(&issue_request()).await.unwrap();
}

#[tokio::test]
async fn a_server_error_leaves_writes_unknown_and_reads_retryable() {
    let server = MockServer::start().await;
    Mock::given(wiremock::matchers::any())
        .respond_with(ResponseTemplate::new(502).set_body_string("bad gateway"))
        .mount(&server)
        .await;
    let gateway = gateway(&server);
    let error = gateway.issue(&issue_request()).await.unwrap_err();
    let IssueError::OutcomeUnknown(message) = error else {
        panic!("{error:?}");
    };
    assert_eq!(message, "gateway issue: HTTP 502");
    let error = gateway.reverse(&reverse_request()).await.unwrap_err();
    assert!(matches!(error, IssueError::OutcomeUnknown(_)), "{error:?}");
    let error = gateway.query(&key("K1")).await.unwrap_err();
    assert!(matches!(error, IssueError::Other(_)), "{error:?}");
    let error = gateway.fetch_pdf(&key("K1"), &issued()).await.unwrap_err();
    assert!(matches!(error, IssueError::Other(_)), "{error:?}");
}

#[tokio::test]
async fn unauthorized_and_forbidden_are_configuration_errors() {
    for status in [401, 403] {
        let refusal = json!({ "error": "bad_signature", "message": "unknown caller" });
        let server = serve(
            "POST",
            "/v1/invoices",
            Signed::json(status, &refusal).unsigned(),
        )
        .await;
        let error = gateway(&server).issue(&issue_request()).await.unwrap_err();
        let IssueError::Configuration(message) = error else {
            panic!("{error:?}");
        };
        assert!(
            message.starts_with(&format!(
                "gateway issue: HTTP {status}: bad_signature: unknown caller"
            )),
            "{message}"
        );
    }
}

#[tokio::test]
async fn session_required_is_its_own_error() {
    let answer =
        json!({ "error": "session_required", "message": "开票员需在电子税务局重新扫脸登录" });
    let server = serve("POST", "/v1/invoices", Signed::json(428, &answer)).await;
    let error = gateway(&server).issue(&issue_request()).await.unwrap_err();
    let IssueError::SessionRequired(message) = error else {
        panic!("{error:?}");
    };
    assert_eq!(message, "gateway issue: 开票员需在电子税务局重新扫脸登录");
}

#[tokio::test]
async fn other_client_errors_need_attention() {
    for status in [409, 400] {
        let answer = json!({ "error": "key_conflict", "message": "K20260317000001 is a reversal" });
        let server = serve("POST", "/v1/invoices", Signed::json(status, &answer)).await;
        let error = gateway(&server).issue(&issue_request()).await.unwrap_err();
        let IssueError::Other(source) = &error else {
            panic!("{error:?}");
        };
        assert_eq!(
            source.to_string(),
            format!("gateway issue: HTTP {status}: key_conflict: K20260317000001 is a reversal")
        );
    }
}

#[tokio::test]
async fn redirects_are_not_followed() {
    let server = MockServer::start().await;
    Mock::given(method("POST"))
        .and(path("/v1/invoices"))
        .respond_with(
            ResponseTemplate::new(307).insert_header("Location", "/elsewhere/v1/invoices"),
        )
        .mount(&server)
        .await;
    let error = gateway(&server).issue(&issue_request()).await.unwrap_err();
    assert!(matches!(error, IssueError::OutcomeUnknown(_)), "{error:?}");
    assert_eq!(server.received_requests().await.unwrap().len(), 1);
}

#[tokio::test]
async fn a_bad_body_names_the_field() {
    let mut invoice = doc_json("An invoice object:");
    invoice["totals"]["tax"] = json!("16.985");
    let answer = json!({ "status": "issued", "invoice": invoice });
    let server = serve("POST", "/v1/invoices", Signed::json(200, &answer)).await;
    let error = gateway(&server).issue(&issue_request()).await.unwrap_err();
    let IssueError::OutcomeUnknown(message) = error else {
        panic!("{error:?}");
    };
    assert_eq!(
        message,
        "gateway issue: answer body: invoice.totals.tax: \"16.985\" is not an amount in yuan with at most two decimals"
    );
}

#[tokio::test]
async fn an_oversized_answer_is_refused() {
    let huge = vec![b' '; MAX_JSON_BYTES + 1];
    let server = serve(
        "POST",
        "/v1/invoices",
        Signed::raw(200, &huge, "application/json"),
    )
    .await;
    let error = gateway(&server).issue(&issue_request()).await.unwrap_err();
    let IssueError::OutcomeUnknown(message) = error else {
        panic!("{error:?}");
    };
    assert!(message.contains("larger than 1048576 bytes"), "{message}");
}

// --- wire ------------------------------------------------------------------------------------

#[test]
fn outcome_errors_name_the_field() {
    let invoice = doc_json("An invoice object:");
    let with = |pointer: &str, value: Value| {
        let mut answer = json!({ "status": "issued", "invoice": invoice.clone() });
        *answer.pointer_mut(pointer).unwrap() = value;
        serde_json::to_vec(&answer).unwrap()
    };
    let cases = [
        (b"[]".to_vec(), "body: expected a JSON object, got an array"),
        (b"{".to_vec(), "body: not JSON"),
        (
            with("/status", json!("done")),
            "status: \"done\" is not issued, pending or rejected",
        ),
        (with("/invoice", Value::Null), "invoice: required"),
        (
            with("/invoice/number", json!("2641200000091184539")),
            "invoice.number: must be 20 digits, got 19",
        ),
        (
            with("/invoice/kind", json!("vat_special")),
            "invoice.kind: \"vat_special\" is not digital_ordinary or digital_special",
        ),
        (
            with("/invoice/issued_at", json!("2026-03-17 10:30:00")),
            "invoice.issued_at: \"2026-03-17 10:30:00\" is not an RFC 3339 date-time",
        ),
        (
            with("/invoice/totals/total", json!("300.01")),
            "invoice.totals.total: 300.01 is not amount_excl + tax = 283.02 + 16.98",
        ),
        (
            with("/invoice/totals/amount_excl", json!(283.02)),
            "invoice.totals.amount_excl: expected a string, got a number",
        ),
        (
            with("/invoice/provider_ref", json!("serial 123")),
            "invoice.provider_ref: character ' ' at position 7 is not allowed",
        ),
        (
            with(
                "/invoice/red_of",
                json!({ "original": "26412000000911845396", "reason": "05" }),
            ),
            "invoice.red_of.reason: \"05\" is not an STA reason code 01 to 04",
        ),
    ];
    for (body, expected) in cases {
        let error = wire::issue_outcome(&body).unwrap_err().to_string();
        assert!(
            error.starts_with(expected),
            "{error}\n  expected {expected}"
        );
    }
    let rejected =
        json!({ "status": "rejected", "rejection": { "reason": "x", "serial_is_dead": "no" } });
    assert_eq!(
        wire::issue_outcome(&serde_json::to_vec(&rejected).unwrap())
            .unwrap_err()
            .to_string(),
        "rejection.serial_is_dead: expected true or false, got a string"
    );
    let pending = json!({ "status": "pending", "reference": "a/b" });
    assert!(
        wire::issue_outcome(&serde_json::to_vec(&pending).unwrap())
            .unwrap_err()
            .to_string()
            .starts_with("reference: ")
    );
}

#[test]
fn optional_fields_may_be_absent_null_or_empty() {
    let answer = json!({ "status": "issued", "invoice": {
        "number": "26412000000911845396", "kind": "digital_special",
        "issued_at": "2026-03-17T02:30:00Z",
        "totals": { "amount_excl": "283.02", "tax": "16.98", "total": "300" },
        "qr_payload": "", "provider_ref": null } });
    let IssueOutcome::Issued(invoice) =
        wire::issue_outcome(&serde_json::to_vec(&answer).unwrap()).unwrap()
    else {
        panic!("issued");
    };
    assert_eq!(invoice.issued_at, Timestamp::from_unix_seconds(NOW));
    assert_eq!(invoice.kind, InvoiceKind::DigitalSpecial);
    assert_eq!(
        (invoice.qr_payload, invoice.provider_ref, invoice.red_of),
        (None, None, None)
    );
}

#[test]
fn rfc3339_date_times() {
    let at = |text: &str| parse_rfc3339(text).map(Timestamp::millis);
    let now = NOW * 1000;
    assert_eq!(at("2026-03-17T10:30:00+08:00"), Some(now));
    assert_eq!(at("2026-03-17T02:30:00Z"), Some(now));
    assert_eq!(at("2026-03-17t02:30:00z"), Some(now));
    assert_eq!(at("2026-03-16T21:00:00-05:30"), Some(now));
    assert_eq!(at("2026-03-17T10:30:00.5+08:00"), Some(now + 500));
    assert_eq!(at("2026-03-17T10:30:00.123456789+08:00"), Some(now + 123));
    assert_eq!(at("1970-01-01T00:00:00Z"), Some(0));
    assert_eq!(at("2024-02-29T00:00:00Z"), Some(1_709_164_800_000));
    for bad in [
        "2026-03-17T10:30:00",
        "2026-03-17 10:30:00+08:00",
        "2026-02-29T00:00:00Z",
        "2026-13-01T00:00:00Z",
        "2026-03-17T24:00:00Z",
        "2026-03-17T10:30:00.+08:00",
        "2026-03-17T10:30:00+0800",
        "2026-03-17T10:30:00+08:60",
        "２026-03-17T10:30:00Z",
    ] {
        assert_eq!(at(bad), None, "{bad}");
    }
    // What fapiao sends reads back.
    let issued_at = issued().issued_at;
    assert_eq!(parse_rfc3339(&issued_at.to_string()), Some(issued_at));
}

#[test]
fn error_bodies_are_read_leniently() {
    let body = wire::ErrorBody::parse(br#"{"error":"session_required","message":"login"}"#);
    assert_eq!(body.detail(), ": session_required: login");
    assert_eq!(wire::ErrorBody::parse(b"<html>").detail(), "");
    assert_eq!(
        wire::ErrorBody::parse(br#"{"message":"only words","error":7}"#).detail(),
        ": only words"
    );
}
