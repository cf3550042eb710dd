//! A sandbox served on 127.0.0.1:0, the Weixin adapter's client pointed at it, a callback
//! server standing in for the merchant, and helpers for the common setup steps.

use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::body::Bytes;
use axum::extract::{RawQuery, State};
use axum::http::StatusCode;
use axum::routing::post;
use fapiao_domain::ports::{WeixinMerchantApi, WeixinPlatformApi};
use fapiao_domain::weixin::{
    AuthFields, AuthUrl, AuthUrlRequest, CardInsertion, CardItem, CardTemplate, Contact,
    InvoiceCardData, WeixinError,
};
use fapiao_domain::{
    AppId, AuthSource, CardId, Fen, MediaId, OrderId, PageStyle, SPappId, Timestamp,
};
use fapiao_sandbox::{Sandbox, SandboxConfig, router};
use fapiao_weixin::wire::{
    CardBaseInfo, CardExt, CreateCardRequest, GetAuthUrlRequest, InsertCardRequest, InvoiceInfo,
    InvoiceItem, InvoiceUserData, UserCard,
};
use fapiao_weixin::{Account, CallError, ReqwestWeixinClient, RetryPolicy, WeixinConfig};
use serde_json::{Value, json};

pub const OA: &str = "wxsandboxofficial01";
pub const OA_SECRET: &str = "sandbox-official-account-secret";
pub const MINI: &str = "wxsandboxminiprog01";
pub const MINI_SECRET: &str = "sandbox-mini-program-secret";
pub const APP: &str = "wxsandboxopenapp01";
pub const APP_SECRET: &str = "sandbox-open-platform-secret";

pub fn appid(value: &str) -> AppId {
    AppId::parse(value).expect("appid")
}

/// A running sandbox.
pub struct TestSandbox {
    pub sandbox: Sandbox,
    pub base: String,
    pub http: reqwest::Client,
}

impl TestSandbox {
    /// A sandbox with the default configuration.
    pub async fn start() -> Self {
        Self::with(|_| {}).await
    }

    /// A sandbox with a changed configuration.
    pub async fn with(change: impl FnOnce(&mut SandboxConfig)) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let base = format!("http://{}", listener.local_addr().expect("addr"));
        let mut config = SandboxConfig::default();
        // Tests must not wait between push attempts.
        config.push.retry_delay_ms = 10;
        change(&mut config);
        config.public_base_url = Some(base.clone());
        let sandbox = Sandbox::new(config).expect("sandbox");
        let app = router(sandbox.clone());
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self {
            sandbox,
            base,
            http: reqwest::Client::new(),
        }
    }

    /// The adapter's client for all three accounts, with no immediate retries.
    pub fn client(&self) -> ReqwestWeixinClient {
        self.client_with(|_| {})
    }

    pub fn client_with(&self, change: impl FnOnce(&mut WeixinConfig)) -> ReqwestWeixinClient {
        let mut config = WeixinConfig::new(Account::new(appid(OA), OA_SECRET))
            .with_account(Account::new(appid(MINI), MINI_SECRET))
            .with_account(Account::new(appid(APP), APP_SECRET))
            .with_base_url(self.base.clone());
        config.retry = RetryPolicy::none();
        change(&mut config);
        ReqwestWeixinClient::new(config).expect("client")
    }

    pub async fn control_post(&self, path: &str, body: Value) -> (u16, Value) {
        let response = self
            .http
            .post(format!("{}{path}", self.base))
            .json(&body)
            .send()
            .await
            .expect("control call");
        let status = response.status().as_u16();
        (status, response.json().await.expect("control json"))
    }

    pub async fn control_ok(&self, path: &str, body: Value) -> Value {
        let (status, value) = self.control_post(path, body).await;
        assert_eq!(status, 200, "{path}: {value}");
        value
    }

    pub async fn control_get(&self, path: &str) -> Value {
        self.http
            .get(format!("{}{path}", self.base))
            .send()
            .await
            .expect("control call")
            .json()
            .await
            .expect("control json")
    }

    /// A classic token fetched by hand.
    pub async fn raw_token(&self, appid: &str, secret: &str) -> String {
        let answer: Value = self
            .http
            .get(format!(
                "{}/cgi-bin/token?grant_type=client_credential&appid={appid}&secret={secret}",
                self.base
            ))
            .send()
            .await
            .expect("token")
            .json()
            .await
            .expect("token json");
        answer["access_token"]
            .as_str()
            .expect("access_token")
            .to_owned()
    }

    /// POSTs a raw body (no Content-Type) to `path_and_query`.
    pub async fn raw_post(&self, path_and_query: &str, body: &'static str) -> Value {
        self.http
            .post(format!("{}{path_and_query}", self.base))
            .body(body)
            .send()
            .await
            .expect("raw call")
            .json()
            .await
            .expect("raw json")
    }

    /// Sets an account's callback URL and mode.
    pub async fn set_callback(&self, appid: &str, url: &str, mode: &str) {
        self.control_ok(
            &format!("/sandbox/control/accounts/{appid}"),
            json!({ "callback_url": url, "push_mode": mode }),
        )
        .await;
    }

    pub async fn authorize(&self, s_pappid: &str, order_id: &str, title: Value) -> Value {
        self.control_ok(
            "/sandbox/control/authorize",
            json!({ "s_pappid": s_pappid, "order_id": order_id, "title": title, "wait": true }),
        )
        .await
    }
}

/// The errcode of a failed call (panics on anything else), and its errmsg.
pub fn errcode<T: std::fmt::Debug>(result: Result<T, CallError>) -> (i64, String) {
    match result {
        Err(CallError::Api { errcode, errmsg }) => (errcode, errmsg),
        other => panic!("expected a weixin errcode, got {other:?}"),
    }
}

pub fn sample_pdf() -> Vec<u8> {
    b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n".to_vec()
}

pub fn personal(name: &str) -> Value {
    json!({ "kind": "personal", "title": name })
}

pub fn company(name: &str, tax_no: &str) -> Value {
    json!({ "kind": "company", "title": name, "tax_no": tax_no })
}

/// What one-time setup produced.
pub struct Merchant {
    pub s_pappid: String,
    pub card_id: String,
}

pub fn card_template() -> CreateCardRequest {
    CreateCardRequest {
        invoice_info: InvoiceInfo {
            base_info: CardBaseInfo {
                logo_url: "http://mmbiz.qpic.cn/mmbiz/logo/0".to_owned(),
                title: "沙箱咖啡".to_owned(),
                ..CardBaseInfo::default()
            },
            invoice_type: "电子发票（普通发票）".to_owned(),
            payee: "沙箱咖啡有限公司".to_owned(),
            detail: None,
        },
    }
}

/// The card template as the domain describes it.
pub fn template() -> CardTemplate {
    CardTemplate {
        payee: "沙箱餐饮有限公司".to_owned(),
        invoice_type: "电子发票（普通发票）".to_owned(),
        title: "沙箱餐饮".to_owned(),
        logo_url: "https://mmbiz.qpic.cn/sandbox/logo.png".to_owned(),
        custom_url: None,
        promotion_url: None,
    }
}

/// seturl, contact, auth fields and a card template through the adapter's ports.
pub async fn setup(client: &ReqwestWeixinClient) -> Merchant {
    let s_pappid = client.platform_id().await.expect("seturl");
    client
        .set_contact(&Contact {
            phone: "021-88888888".to_owned(),
            time_out_seconds: 7200,
        })
        .await
        .expect("set_contact");
    client
        .set_auth_fields(&AuthFields::standard())
        .await
        .expect("set_auth_field");
    let card_id = client
        .create_card_template(&template())
        .await
        .expect("createcard");
    Merchant {
        s_pappid: s_pappid.to_string(),
        card_id: card_id.to_string(),
    }
}

/// getauthurl through the port, as `caller`, with its own ticket.
pub async fn request_auth_url(
    client: &ReqwestWeixinClient,
    caller: &str,
    s_pappid: &str,
    order_id: &str,
    source: AuthSource,
    page_style: PageStyle,
) -> Result<AuthUrl, WeixinError> {
    let account = appid(caller);
    let ticket = WeixinMerchantApi::wx_card_ticket(client, &account)
        .await
        .expect("ticket");
    client
        .auth_url(
            &account,
            &AuthUrlRequest {
                s_pappid: SPappId::parse(s_pappid).expect("s_pappid"),
                order_id: OrderId::parse(order_id).expect("order_id"),
                money: Fen::new(3800),
                timestamp: Timestamp::from_unix_seconds(1_714_000_000),
                source,
                redirect_url: Some("https://merchant.example/done".to_owned()),
                ticket,
                page_style,
            },
        )
        .await
}

/// Uploads the sample PDF through the port.
pub async fn upload(client: &ReqwestWeixinClient) -> MediaId {
    WeixinPlatformApi::upload_pdf(client, &sample_pdf())
        .await
        .expect("setpdf")
}

/// What the port's insert takes, for a 数电 invoice (20-digit number, no code).
pub fn insertion(
    order_id: &str,
    card_id: &str,
    caller: &str,
    media: &MediaId,
    billing_no: &str,
) -> CardInsertion {
    CardInsertion {
        order_id: OrderId::parse(order_id).expect("order_id"),
        card_id: CardId::parse(card_id).expect("card_id"),
        appid: appid(caller),
        nonce: "n0nce".to_owned(),
        data: InvoiceCardData {
            fee: Fen::new(3800),
            title: "张三".to_owned(),
            billing_time: Timestamp::from_unix_seconds(1_714_000_100),
            billing_no: billing_no.to_owned(),
            billing_code: String::new(),
            info: vec![CardItem {
                name: "*餐饮服务*咖啡".to_owned(),
                num: Some(2),
                unit: Some("杯".to_owned()),
                price: Fen::new(1900),
            }],
            fee_without_tax: Fen::new(3585),
            tax: Fen::new(215),
            pdf_media_id: media.clone(),
            trip_pdf_media_id: None,
            check_code: String::new(),
            buyer_number: None,
            buyer_address_and_phone: None,
            buyer_bank_account: None,
            seller_number: None,
            seller_address_and_phone: None,
            seller_bank_account: None,
            remarks: None,
            cashier: None,
            maker: None,
        },
    }
}

/// The errcode of a failed port call.
pub fn port_errcode<T: std::fmt::Debug>(result: Result<T, WeixinError>) -> i64 {
    match result {
        Err(WeixinError::Api { errcode, .. }) => errcode,
        other => panic!("expected a weixin errcode, got {other:?}"),
    }
}

pub async fn auth_url_request(
    client: &ReqwestWeixinClient,
    caller: &str,
    s_pappid: &str,
    order_id: &str,
    source: &str,
    page_type: u8,
) -> GetAuthUrlRequest {
    let ticket = client.wx_card_ticket(&appid(caller)).await.expect("ticket");
    GetAuthUrlRequest {
        s_pappid: s_pappid.to_owned(),
        order_id: order_id.to_owned(),
        money: 3800,
        timestamp: 1_714_000_000,
        source: source.to_owned(),
        redirect_url: Some("https://merchant.example/done".to_owned()),
        ticket,
        page_type,
    }
}

/// getauthurl (as the Official Account, page style 1) and the buyer's authorization.
pub async fn authorized_order(
    sandbox: &TestSandbox,
    client: &ReqwestWeixinClient,
    merchant: &Merchant,
    order_id: &str,
    title: Value,
) {
    request_auth_url(
        client,
        OA,
        &merchant.s_pappid,
        order_id,
        AuthSource::Web,
        PageStyle::FillTitle,
    )
    .await
    .expect("getauthurl");
    sandbox.authorize(&merchant.s_pappid, order_id, title).await;
}

/// An insert request for a 数电 invoice (20-digit number, no code).
pub fn insert_request(
    order_id: &str,
    card_id: &str,
    caller: &str,
    media_id: &str,
    billing_no: &str,
) -> InsertCardRequest {
    InsertCardRequest {
        order_id: order_id.to_owned(),
        card_id: card_id.to_owned(),
        appid: caller.to_owned(),
        card_ext: CardExt {
            nonce_str: "n0nce".to_owned(),
            user_card: UserCard {
                invoice_user_data: InvoiceUserData {
                    fee: 3800,
                    title: "张三".to_owned(),
                    billing_time: 1_714_000_100,
                    billing_no: billing_no.to_owned(),
                    billing_code: String::new(),
                    info: vec![InvoiceItem {
                        name: "*餐饮服务*咖啡".to_owned(),
                        num: Some(2),
                        unit: Some("杯".to_owned()),
                        price: 1900,
                    }],
                    fee_without_tax: 3585,
                    tax: 215,
                    s_pdf_media_id: media_id.to_owned(),
                    check_code: String::new(),
                    ..InvoiceUserData::default()
                },
            },
        },
    }
}

/// How the stand-in merchant answers pushes.
#[derive(Debug, Clone, Copy)]
pub enum Behaviour {
    /// `success` at once.
    Succeed,
    /// HTTP 500 for the first `n` pushes, then `success`.
    FailFirst(usize),
    /// Never answers within `Duration`.
    Hang(Duration),
}

/// A push as the merchant received it.
#[derive(Debug, Clone)]
pub struct Received {
    pub query: String,
    pub body: String,
}

#[derive(Clone)]
struct CallbackState {
    behaviour: Behaviour,
    received: Arc<Mutex<Vec<Received>>>,
}

/// The merchant's callback endpoint.
pub struct Callback {
    pub url: String,
    received: Arc<Mutex<Vec<Received>>>,
}

impl Callback {
    pub async fn start(behaviour: Behaviour) -> Self {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind");
        let url = format!(
            "http://{}/weixin/callback",
            listener.local_addr().expect("addr")
        );
        let received = Arc::new(Mutex::new(Vec::new()));
        let state = CallbackState {
            behaviour,
            received: Arc::clone(&received),
        };
        let app = Router::new()
            .route("/weixin/callback", post(receive))
            .with_state(state);
        tokio::spawn(async move { axum::serve(listener, app).await });
        Self { url, received }
    }

    pub fn received(&self) -> Vec<Received> {
        self.received.lock().expect("lock").clone()
    }
}

async fn receive(
    State(state): State<CallbackState>,
    RawQuery(query): RawQuery,
    body: Bytes,
) -> (StatusCode, &'static str) {
    let count = {
        let mut received = state.received.lock().expect("lock");
        received.push(Received {
            query: query.unwrap_or_default(),
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        received.len()
    };
    match state.behaviour {
        Behaviour::Succeed => (StatusCode::OK, "success"),
        Behaviour::FailFirst(n) if count <= n => (StatusCode::INTERNAL_SERVER_ERROR, "busy"),
        Behaviour::FailFirst(_) => (StatusCode::OK, "success"),
        Behaviour::Hang(duration) => {
            tokio::time::sleep(duration).await;
            (StatusCode::OK, "success")
        }
    }
}

/// POSTs `pairs` as an HTML form would.
pub async fn post_form(
    sandbox: &TestSandbox,
    path: &str,
    pairs: &[(&str, &str)],
) -> reqwest::Response {
    let encode = |value: &str| {
        value
            .bytes()
            .map(|b| {
                if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~') {
                    char::from(b).to_string()
                } else {
                    format!("%{b:02X}")
                }
            })
            .collect::<String>()
    };
    let body = pairs
        .iter()
        .map(|(k, v)| format!("{}={}", encode(k), encode(v)))
        .collect::<Vec<_>>()
        .join("&");
    sandbox
        .http
        .post(format!("{}{path}", sandbox.base))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(body)
        .send()
        .await
        .expect("form post")
}
