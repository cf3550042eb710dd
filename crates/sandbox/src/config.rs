//! The sandbox configuration: accounts, timings, push delivery, the choices made where Weixin's
//! behaviour is unconfirmed, and fault injection.
//!
//! Every struct deserializes with defaults for missing fields, so an empty document (or
//! `SandboxConfig::default()`) gives a sandbox that runs with no configuration at all.

use fapiao_domain::AccountRole;
use serde::{Deserialize, Serialize};

/// The whole sandbox configuration.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct SandboxConfig {
    /// The URL under which clients and browsers reach the sandbox (used in `auth_url`,
    /// `invoice_url`, `pdf_url`). `serve` fills it from the listener address when absent.
    pub public_base_url: Option<String>,
    /// Seed of every generated id and of fault injection, so a run is reproducible.
    pub seed: u64,
    /// What tells this run's minted ids (card codes, card template ids, media ids, tokens)
    /// from every other run's; absent (the default), the start time in Unix milliseconds, so
    /// a sandbox restarted beside a database that holds the last run's cards never hands out
    /// one of their codes again. Set it, with the seed, to reproduce a run's ids exactly.
    pub id_epoch: Option<u64>,
    /// The merchant's Weixin accounts; the first Official Account is the invoicing platform
    /// account of post-payment invoicing.
    pub accounts: Vec<AccountConfig>,
    /// Lifetimes of tokens, tickets, media and URLs.
    pub timing: Timing,
    /// Event push delivery.
    pub push: PushSettings,
    /// Behaviour the reference marks unconfirmed ([U]); each is a choice made configurable.
    pub unconfirmed: Unconfirmed,
    /// Fault injection at start-up (changed at run time by `POST /sandbox/control/faults`).
    pub faults: FaultConfig,
}

impl Default for SandboxConfig {
    fn default() -> Self {
        Self {
            public_base_url: None,
            seed: 20_260_501,
            id_epoch: None,
            accounts: AccountConfig::defaults(),
            timing: Timing::default(),
            push: PushSettings::default(),
            unconfirmed: Unconfirmed::default(),
            faults: FaultConfig::default(),
        }
    }
}

/// How an account's event pushes are secured (set on the Official Account's server settings).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PushMode {
    /// 明文: plaintext XML signed in the URL.
    #[default]
    Plain,
    /// 兼容: plaintext fields and the ciphertext side by side.
    Compatible,
    /// 安全: ciphertext only.
    Safe,
}

impl PushMode {
    /// The configuration name.
    pub fn code(self) -> &'static str {
        match self {
            PushMode::Plain => "plain",
            PushMode::Compatible => "compatible",
            PushMode::Safe => "safe",
        }
    }
}

/// One of the merchant's Weixin accounts.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AccountConfig {
    /// The appid (`wx` + 16 hex digits for real accounts).
    pub appid: String,
    /// The AppSecret the token endpoints check.
    pub secret: String,
    /// Official Account, Mini Program or Open Platform app.
    pub role: AccountRole,
    /// Display name (the merchant shown on the auth page).
    #[serde(default)]
    pub name: String,
    /// The original id (`gh_…`) put in `ToUserName`; derived from the appid when absent.
    #[serde(default)]
    pub original_id: Option<String>,
    /// Where event pushes go; no pushes are delivered without it (they are still recorded).
    #[serde(default)]
    pub callback_url: Option<String>,
    /// The Token of the server settings, for `signature` and `msg_signature`.
    #[serde(default = "default_push_token")]
    pub token: String,
    /// The 43-character EncodingAESKey; required for the compatible and safe modes.
    #[serde(default)]
    pub encoding_aes_key: Option<String>,
    /// The message security mode.
    #[serde(default)]
    pub push_mode: PushMode,
}

fn default_push_token() -> String {
    "sandboxtoken".to_owned()
}

/// The EncodingAESKey of the default accounts (43 characters of `[A-Za-z0-9]`).
pub const DEFAULT_ENCODING_AES_KEY: &str = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG";

impl AccountConfig {
    /// The default merchant: an Official Account (the platform account), a Mini Program and
    /// an Open Platform app, in safe mode and with the appids, secrets, Token and
    /// EncodingAESKey of the `fapiao` service's sandbox profile; none has a callback URL
    /// (set one in the configuration or with `POST /sandbox/control/accounts/{appid}`).
    pub fn defaults() -> Vec<AccountConfig> {
        let account = |appid: &str, secret: &str, role, name: &str| AccountConfig {
            appid: appid.to_owned(),
            secret: secret.to_owned(),
            role,
            name: name.to_owned(),
            original_id: None,
            callback_url: None,
            token: default_push_token(),
            encoding_aes_key: Some(DEFAULT_ENCODING_AES_KEY.to_owned()),
            push_mode: PushMode::Safe,
        };
        vec![
            account(
                "wxsandboxofficial01",
                "sandbox-official-account-secret",
                AccountRole::OfficialAccount,
                "沙箱餐饮 Sandbox Dining",
            ),
            account(
                "wxsandboxminiprog01",
                "sandbox-mini-program-secret",
                AccountRole::MiniProgram,
                "沙箱餐饮小程序 Sandbox Dining Mini Program",
            ),
            account(
                "wxsandboxopenapp01",
                "sandbox-open-platform-secret",
                AccountRole::OpenPlatformApp,
                "沙箱餐饮 App Sandbox Dining App",
            ),
        ]
    }
}

/// Lifetimes, in seconds of the sandbox clock.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Timing {
    /// `expires_in` of access tokens (7200).
    pub token_ttl_secs: i64,
    /// How long a superseded token stays valid after a refresh (300).
    pub token_overlap_secs: i64,
    /// `stable_token` starts returning the next token when less than this is left (300).
    pub stable_token_renew_secs: i64,
    /// `expires_in` of tickets (7200).
    pub ticket_ttl_secs: i64,
    /// Uploaded PDFs not attached to a card are deleted after this (3 days).
    pub media_ttl_secs: i64,
    /// `pdf_url_expire_time` of `getpdf` (7200).
    pub pdf_url_ttl_secs: i64,
}

impl Default for Timing {
    fn default() -> Self {
        Self {
            token_ttl_secs: 7200,
            token_overlap_secs: 300,
            stable_token_renew_secs: 300,
            ticket_ttl_secs: 7200,
            media_ttl_secs: 3 * 24 * 3600,
            pdf_url_ttl_secs: 7200,
        }
    }
}

/// Event push delivery: Weixin waits 5 s and makes 3 attempts in total.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct PushSettings {
    /// How long one attempt may take, response body included (5000).
    pub timeout_ms: u64,
    /// Attempts in total (3).
    pub attempts: u32,
    /// Pause between attempts (not documented; 500).
    pub retry_delay_ms: u64,
}

impl Default for PushSettings {
    fn default() -> Self {
        Self {
            timeout_ms: 5000,
            attempts: 3,
            retry_delay_ms: 500,
        }
    }
}

/// The element naming the authorizing appid in `user_authorize_invoice`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AppIdElement {
    /// `<AuthorizeAppId>` (documentation table, captured production payload).
    #[default]
    AuthorizeAppId,
    /// `<AppId>` (documentation XML sample, wechatpy).
    AppId,
    /// Both elements.
    Both,
}

/// What `user_auth_info` of `getauthdata` carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthInfoFields {
    /// Only the title the buyer chose (`user_field` or `biz_field`).
    #[default]
    Chosen,
    /// Both, the one not chosen with empty values (the documentation sample shows both).
    Both,
}

/// Which accounts' access tokens `getauthurl` accepts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum AuthUrlCaller {
    /// Any of the merchant's accounts (Official Account, Mini Program, app).
    #[default]
    AnyAccount,
    /// Only the account owning the `s_pappid`.
    PlatformOnly,
}

/// Which WeChat Pay identifier becomes the order id of a post-payment authorization.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PostPaymentOrderId {
    /// The WeChat Pay `transaction_id`.
    #[default]
    TransactionId,
    /// The merchant's `out_trade_no`.
    OutTradeNo,
}

/// Which reimbursement status changes `updatestatus` and the reimburser may make.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum StatusTransitions {
    /// Any change.
    #[default]
    Any,
    /// CLOSURE and CANCEL are final (72060/72061), CLOSURE needs LOCK first (72039).
    Strict,
}

/// Choices where the reference marks Weixin's behaviour unconfirmed ([U]).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Unconfirmed {
    /// §10.1: element carrying the authorizing appid.
    pub event_appid_element: AppIdElement,
    /// §10.1: emit the undocumented `SPAppId` element.
    pub event_sp_appid: bool,
    /// §10.2: `invoice_status` of an order whose authorization failed.
    pub failed_invoice_status: String,
    /// §10.3: the titles in `user_auth_info`.
    pub user_auth_info: AuthInfoFields,
    /// §10.5: lifetime of an auth URL; `None` never expires.
    pub auth_url_ttl_secs: Option<i64>,
    /// §10.6: which tokens `getauthurl` accepts.
    pub getauthurl_caller: AuthUrlCaller,
    /// §10.6: the appid returned for `source = wxa` (Weixin's invoice Mini Program).
    pub invoice_wxa_appid: String,
    /// §10.7: the order id of a post-payment authorization.
    pub post_payment_order_id: PostPaymentOrderId,
    /// §10.7: `Source` of a post-payment authorization event.
    pub post_payment_source: String,
    /// §4.1: whether a `wx_card` ticket stays valid when the account's token is refreshed.
    pub ticket_survives_token_refresh: bool,
    /// §10.11: allowed reimbursement status changes.
    pub status_transitions: StatusTransitions,
    /// §4.14: errcode of a second `insert` for the same order (72056 or 72018).
    pub duplicate_insert_errcode: i64,
    /// §9: errcode of `insert`/`getpdf` naming an unknown `s_media_id` (72031 or 72040).
    pub unknown_media_errcode: i64,
    /// §9: errcode of `insert`/`getpdf` naming an expired `s_media_id` (72031 or 72040).
    pub expired_media_errcode: i64,
    /// §10.14: `insert` checks fee = fee_without_tax + tax (72031).
    pub check_fee_sum: bool,
    /// §3.2: `insert` checks invoice code/number lengths (72043) and the check code of a
    /// legacy invoice (72045).
    pub check_billing_format: bool,
    /// §4.12: `setpdf` refuses a file that is not a PDF (72040) instead of `insert`.
    pub validate_pdf_on_upload: bool,
    /// §10.14: largest PDF accepted by `setpdf`.
    pub max_pdf_bytes: usize,
    /// §10.13: daily quota of `/cgi-bin/token` per account (45009 beyond); `None` = no quota.
    pub token_daily_quota: Option<u32>,
    /// §3.1 (40078): seconds after `createcard` before the card can be inserted.
    pub card_ready_after_secs: i64,
    /// §4.14.1: whether `card/user/getcardlist` lists invoice cards (else it answers an empty
    /// list for them).
    pub getcardlist_lists_invoice_cards: bool,
}

impl Default for Unconfirmed {
    fn default() -> Self {
        Self {
            event_appid_element: AppIdElement::AuthorizeAppId,
            event_sp_appid: true,
            failed_invoice_status: "never auth".to_owned(),
            user_auth_info: AuthInfoFields::Chosen,
            auth_url_ttl_secs: Some(7200),
            getauthurl_caller: AuthUrlCaller::AnyAccount,
            invoice_wxa_appid: "wxinvoicesandbox00".to_owned(),
            post_payment_order_id: PostPaymentOrderId::TransactionId,
            post_payment_source: "web".to_owned(),
            ticket_survives_token_refresh: true,
            status_transitions: StatusTransitions::Any,
            duplicate_insert_errcode: 72056,
            unknown_media_errcode: 72031,
            expired_media_errcode: 72040,
            check_fee_sum: true,
            check_billing_format: true,
            validate_pdf_on_upload: true,
            max_pdf_bytes: 10 * 1024 * 1024,
            token_daily_quota: Some(2000),
            card_ready_after_secs: 0,
            getcardlist_lists_invoice_cards: true,
        }
    }
}

/// An injected failure.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum FaultKind {
    /// `{"errcode":-1,"errmsg":"system error"}`, nothing applied.
    SystemError,
    /// `{"errcode":45009,…}` (daily quota), nothing applied.
    QuotaExceeded,
    /// An HTTP 5xx without a Weixin body, nothing applied.
    #[serde(rename = "http_5xx")]
    Http5xx,
    /// The request is applied, then the answer is held back past the client's timeout.
    ApplyThenTimeout,
    /// The request is applied, then the connection is dropped before the body.
    ApplyThenDrop,
}

impl FaultKind {
    /// The configuration name.
    pub fn code(self) -> &'static str {
        match self {
            FaultKind::SystemError => "system_error",
            FaultKind::QuotaExceeded => "quota_exceeded",
            FaultKind::Http5xx => "http_5xx",
            FaultKind::ApplyThenTimeout => "apply_then_timeout",
            FaultKind::ApplyThenDrop => "apply_then_drop",
        }
    }
}

/// Rates and latency for the endpoints a rule matches.
///
/// `endpoint` is an endpoint name as the Weixin adapter names them (`token`, `stable_token`,
/// `getticket`, `seturl`, `setbizattr.set_contact`, `getauthurl`, `getauthdata`,
/// `rejectinsert`, `platform.createcard`, `platform.setpdf`, `platform.getpdf`, `insert`,
/// `platform.updatestatus`), a family (`setbizattr`, `platform`), or `*`. The most specific
/// matching rule applies.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultRule {
    /// Which endpoints.
    pub endpoint: String,
    /// Probability of errcode -1.
    pub system_error_rate: f64,
    /// Probability of errcode 45009.
    pub quota_error_rate: f64,
    /// Probability of an HTTP 5xx.
    pub http_error_rate: f64,
    /// The 5xx status (503).
    pub http_status: u16,
    /// Probability that the request is applied and its answer delayed by `timeout_delay_ms`.
    pub apply_then_timeout_rate: f64,
    /// Probability that the request is applied and the connection dropped.
    pub apply_then_drop_rate: f64,
    /// Added to every matching call.
    pub latency_ms: u64,
    /// How long an `apply_then_timeout` answer is held (30 000, past the adapter's 15 s).
    pub timeout_delay_ms: u64,
}

impl Default for FaultRule {
    fn default() -> Self {
        Self {
            endpoint: "*".to_owned(),
            system_error_rate: 0.0,
            quota_error_rate: 0.0,
            http_error_rate: 0.0,
            http_status: 503,
            apply_then_timeout_rate: 0.0,
            apply_then_drop_rate: 0.0,
            latency_ms: 0,
            timeout_delay_ms: 30_000,
        }
    }
}

/// A one-shot fault for the next call to a matching endpoint; scripted faults are used in
/// order before any rate is drawn.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedFault {
    /// Endpoint name, family or `*`, as in [`FaultRule`].
    pub endpoint: String,
    /// What happens.
    pub fault: FaultKind,
    /// The 5xx status for `http_5xx` (503).
    #[serde(default)]
    pub http_status: Option<u16>,
    /// The hold time for `apply_then_timeout` (30 000).
    #[serde(default)]
    pub delay_ms: Option<u64>,
}

/// Fault injection.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct FaultConfig {
    /// Seed of the fault draws; the sandbox seed when absent.
    pub seed: Option<u64>,
    /// Per-endpoint rates.
    pub rules: Vec<FaultRule>,
    /// One-shot faults.
    pub script: Vec<ScriptedFault>,
    /// Probability that an event push is delivered twice.
    pub duplicate_push_rate: f64,
    /// Probability that an event push (each copy of a duplicate drawn on its own) waits
    /// `push_delay_ms` before its first attempt, as Weixin's queue sometimes does.
    pub delayed_push_rate: f64,
    /// How long a delayed push waits, in milliseconds.
    pub push_delay_ms: u64,
}
