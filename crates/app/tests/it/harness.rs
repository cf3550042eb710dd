#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::BTreeMap;
use std::sync::Arc;

use fapiao_app::{
    Accounts, InvoiceService, JobOutcome, Ports, RetryPolicy, SellerSettings, Settings,
    SetupService,
};
use fapiao_domain::ids::{AppId, CardCode, CardId, MediaId, OpenId, OrderId, OrderKey};
use fapiao_domain::invoice::InvoiceKind;
use fapiao_domain::ports::{
    MockPushDecoder, MockWeixinMerchantApi, MockWeixinPlatformApi, SetupState,
};
use fapiao_domain::scenario::{AuthSource, PageStyle, Scenario};
use fapiao_domain::testing::{
    FakeIssuer, FakeIssuerMode, InMemoryConsoleSessions, InMemoryEventInbox,
    InMemoryOrderRepository, InMemorySetupStore, ManualClock, SequentialIds, fixtures,
};
use fapiao_domain::weixin::{
    AuthData, AuthFields, AuthOutcome, AuthStatus, AuthUrl, AuthorizationEvent, CardTemplate,
    CompanyTitle, Contact, InsertedCard, PayMchBinding, WeixinEvent,
};
use fapiao_domain::{Secret, Timestamp};

pub const T0: i64 = 1_780_000_000_000;

pub fn appid(role: &str) -> AppId {
    AppId::parse(match role {
        "mp" => "wxsandboxminiprog01",
        "app" => "wxsandboxopenapp01",
        _ => "wxsandboxofficial01",
    })
    .unwrap()
}

pub fn card_id() -> CardId {
    CardId::parse("pCardSandbox01").unwrap()
}

pub fn settings() -> Settings {
    let template = CardTemplate {
        payee: "沙箱餐饮有限公司".into(),
        invoice_type: "电子发票（普通发票）".into(),
        title: "沙箱餐饮".into(),
        logo_url: "https://sandbox.invalid/logo.png".into(),
        custom_url: None,
        promotion_url: None,
    };
    let mut sellers = BTreeMap::new();
    sellers.insert(
        fixtures::seller_id(),
        SellerSettings {
            seller: fixtures::seller(),
            kind: InvoiceKind::DigitalOrdinary,
            card_template: template,
        },
    );
    Settings {
        accounts: Accounts {
            official_account: appid("oa"),
            mini_program: Some(appid("mp")),
            open_platform_app: Some(appid("app")),
        },
        sellers,
        default_page_style: PageStyle::FillTitle,
        contact: Contact {
            phone: "010-12345678".into(),
            time_out_seconds: 7200,
        },
        auth_fields: AuthFields::standard(),
        pay_mchid: Some("1230000109".into()),
        retry: RetryPolicy {
            max_attempts: 3,
            ..RetryPolicy::default()
        },
        reconcile_after_millis: 600_000,
        lookup_lost_card_codes: true,
        tax_categories: std::sync::Arc::new(fapiao_domain::TaxCategories::embedded()),
    }
}

pub fn setup_done() -> SetupState {
    let mut state = SetupState {
        s_pappid: Some(fixtures::s_pappid()),
        contact: Some(settings().contact),
        auth_fields_set: true,
        ..SetupState::default()
    };
    state
        .card_templates
        .insert(fixtures::seller_id(), card_id());
    state.pay_mch = Some(PayMchBinding {
        mchid: "1230000109".into(),
        s_pappid: fixtures::s_pappid(),
    });
    state
}

pub struct Harness {
    pub ports: Ports,
    pub service: InvoiceService,
    pub setup: SetupService,
    pub orders: Arc<InMemoryOrderRepository>,
    pub inbox: Arc<InMemoryEventInbox>,
    pub issuer: Arc<FakeIssuer>,
    pub clock: Arc<ManualClock>,
}

pub fn harness(
    merchant: MockWeixinMerchantApi,
    platform: MockWeixinPlatformApi,
    mode: FakeIssuerMode,
    setup: SetupState,
) -> Harness {
    let orders = Arc::new(InMemoryOrderRepository::new());
    let inbox = Arc::new(InMemoryEventInbox::new());
    let issuer = Arc::new(FakeIssuer::new(mode, Timestamp::from_millis(T0)));
    let clock = Arc::new(ManualClock::new(Timestamp::from_millis(T0)));
    let ports = Ports {
        merchant: Arc::new(merchant),
        platform: Arc::new(platform),
        // Pushes reach the service through `handle_event` here; the HTTP tests plug in a
        // decoder of their own.
        decoder: Arc::new(MockPushDecoder::new()),
        issuer: issuer.clone(),
        orders: orders.clone(),
        jobs: orders.clone(),
        inbox: inbox.clone(),
        setup: Arc::new(InMemorySetupStore::with(setup)),
        console_sessions: Arc::new(InMemoryConsoleSessions::default()),
        clock: clock.clone(),
        ids: Arc::new(SequentialIds::default()),
    };
    Harness {
        ports: ports.clone(),
        service: InvoiceService::new(ports.clone(), settings()),
        setup: SetupService::new(ports, settings()),
        orders,
        inbox,
        issuer,
        clock,
    }
}

impl Harness {
    pub fn service_ports(&self) -> Ports {
        self.ports.clone()
    }

    /// Runs due jobs until none are left (moving the clock past retry delays), at most `rounds`.
    pub async fn drain(&self, rounds: usize) -> Vec<JobOutcome> {
        let mut all = Vec::new();
        for _ in 0..rounds {
            let outcomes = self
                .service
                .run_due_jobs("worker-1", 16, 60_000)
                .await
                .unwrap();
            if outcomes.is_empty() {
                if self.orders.live_jobs().is_empty() {
                    break;
                }
                self.clock.advance_millis(600_000);
                continue;
            }
            all.extend(outcomes);
        }
        all
    }

    pub async fn push(&self, event: WeixinEvent) {
        use fapiao_domain::ports::EventInbox;
        self.inbox.record(&event, self.clock_now()).await.unwrap();
        self.service.process_inbox("worker-1", 16).await.unwrap();
    }

    /// Starts an Official Account order, authorizes it and runs the pipeline.
    pub async fn deliver(&self, order_id: &str) -> fapiao_domain::order::Order {
        self.service
            .start(start_request(Scenario::OfficialAccount, order_id))
            .await
            .unwrap();
        self.push(authorization(order_id, true, None, 1_780_000_010))
            .await;
        self.drain(20).await;
        self.order(order_id).await
    }

    pub fn clock_now(&self) -> Timestamp {
        use fapiao_domain::ports::Clock;
        self.clock.now()
    }

    pub async fn order(&self, order_id: &str) -> fapiao_domain::order::Order {
        self.service
            .order(&OrderId::parse(order_id).unwrap())
            .await
            .unwrap()
    }
}

pub fn authorization(
    order_id: &str,
    succeeded: bool,
    appid: Option<AppId>,
    create_time: i64,
) -> WeixinEvent {
    let order = OrderId::parse(order_id).unwrap();
    WeixinEvent::Authorization(AuthorizationEvent {
        openid: OpenId::parse("oBuyer0001").unwrap(),
        create_time: Timestamp::from_unix_seconds(create_time),
        outcome: if succeeded {
            AuthOutcome::Succeeded(order)
        } else {
            AuthOutcome::Failed(order)
        },
        authorize_appid: appid,
        source: Some(AuthSource::Web),
        s_pappid: None,
    })
}

pub fn company_auth_data() -> AuthData {
    AuthData {
        status: AuthStatus::AuthSuccess,
        auth_time: Some(Timestamp::from_unix_seconds(1_780_000_010)),
        personal: None,
        company: Some(CompanyTitle {
            title: "深圳市腾讯计算机系统有限公司".into(),
            tax_no: Some("91440300708461136T".into()),
            ..CompanyTitle::default()
        }),
    }
}

/// A merchant mock answering the ticket and auth URL once per call (`url_calls` times) and
/// `getauthdata` with a company title.
pub fn merchant(url_calls: usize, caller: AppId, wxa: bool) -> MockWeixinMerchantApi {
    merchant_reading_titles(url_calls, caller, wxa, 0..)
}

/// [`merchant`] that expects `getauthdata` for our platform id `titles` times (a delivery
/// reads the buyer's title once).
pub fn merchant_reading_titles(
    url_calls: usize,
    caller: AppId,
    wxa: bool,
    titles: impl Into<mockall::TimesRange>,
) -> MockWeixinMerchantApi {
    let mut merchant = MockWeixinMerchantApi::new();
    let ticket_caller = caller.clone();
    merchant
        .expect_wx_card_ticket()
        .withf(move |account| *account == ticket_caller)
        .times(url_calls)
        .returning(|_| Ok(Secret::new("ticket-1")));
    merchant
        .expect_auth_url()
        .withf(move |account, request| *account == caller && request.ticket.expose() == "ticket-1")
        .times(url_calls)
        .returning(move |_, request| {
            Ok(AuthUrl {
                url: format!(
                    "https://sandbox.invalid/auth?order_id={}&money={}",
                    request.order_id,
                    request.money.get()
                ),
                appid: wxa.then(|| AppId::parse("wxinvoiceminiapp01").unwrap()),
            })
        });
    merchant
        .expect_auth_data()
        .withf(|s_pappid, _| *s_pappid == fixtures::s_pappid())
        .times(titles)
        .returning(|_, _| Ok(company_auth_data()));
    merchant
}

/// A platform mock accepting one PDF upload and then one insert for `appid`, of the uploaded
/// PDF.
pub fn platform(appid: AppId) -> MockWeixinPlatformApi {
    let mut platform = MockWeixinPlatformApi::new();
    // The card carries the uploaded PDF, so the upload must come first.
    let mut order = mockall::Sequence::new();
    platform
        .expect_upload_pdf()
        .withf(|pdf| pdf.starts_with(b"%PDF-"))
        .times(1)
        .in_sequence(&mut order)
        .returning(|_| Ok(MediaId::parse("3015806758683707").unwrap()));
    platform
        .expect_insert_card()
        .in_sequence(&mut order)
        .withf(move |insertion| {
            insertion.appid == appid
                && insertion.data.pdf_media_id.as_str() == "3015806758683707"
                && insertion.card_id == card_id()
                && insertion.data.fee.get() == 10_000
                && insertion.data.fee_without_tax.get() == 9_434
                && insertion.data.tax.get() == 566
                && insertion.data.title == "深圳市腾讯计算机系统有限公司"
                && insertion.data.billing_no.len() == 20
                && insertion.data.buyer_number.as_deref() == Some("91440300708461136T")
        })
        .times(1)
        .returning(|_| {
            Ok(InsertedCard {
                code: CardCode::parse("682000000001").unwrap(),
                openid: OpenId::parse("oBuyer0001").unwrap(),
                unionid: None,
            })
        });
    platform
}

pub fn key(order_id: &str) -> OrderKey {
    fixtures::key(order_id)
}

pub fn start_request(scenario: Scenario, order_id: &str) -> fapiao_app::StartRequest {
    fapiao_app::StartRequest {
        scenario,
        order_id: Some(OrderId::parse(order_id).unwrap()),
        seller: fixtures::seller_id(),
        lines: vec![fixtures::line("100.00")],
        buyer: None,
        page_style: None,
        redirect_url: (scenario == Scenario::OfficialAccount)
            .then(|| "https://shop.invalid/done".to_owned()),
        remark: None,
    }
}
