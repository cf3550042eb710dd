//! The emulated Weixin: every account's tokens, settings, orders, card templates, media and
//! cards, kept in memory behind one lock.
//!
//! The operations are synchronous methods on [`State`] (split over `tokens`, `merchant` and
//! `platform`) that take the sandbox time as an argument, so they are tested without HTTP and
//! without waiting. They return the answer body or an [`ApiError`]; event pushes they cause
//! are recorded here and delivered by the caller outside the lock.

use std::collections::{HashMap, HashSet};
use std::sync::Arc;

use fapiao_domain::weixin::ReimburseStatus;
use fapiao_domain::{AccountRole, AppId};
use fapiao_weixin::crypto::AesKey;
use fapiao_weixin::wire::{AuthFieldSetting, ContactInfo, PayMchInfo};
use serde::{Deserialize, Serialize};

use crate::config::{AccountConfig, PushMode, PushSettings, SandboxConfig, Timing, Unconfirmed};
use crate::error::{ApiError, SandboxError};
use crate::ids::{self, Minter};
use crate::push::PushRecord;
use crate::wire::{CardTemplateInfo, InvoiceUserData};

/// Configuration that does not change while the sandbox runs.
#[derive(Debug)]
pub(crate) struct Settings {
    pub seed: u64,
    pub public_base_url: String,
    pub timing: Timing,
    pub push: PushSettings,
    pub unconfirmed: Unconfirmed,
}

/// A successful answer: the fields beside `errcode`/`errmsg`, or (the token endpoints) a body
/// without them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Answer {
    /// `{"errcode":0,"errmsg":"ok", …fields}`.
    Ok(serde_json::Value),
    /// Exactly this body.
    Bare(serde_json::Value),
}

impl Answer {
    pub(crate) fn ok() -> Self {
        Answer::Ok(serde_json::Value::Null)
    }
}

pub(crate) type ApiResult = Result<Answer, ApiError>;

/// One of the merchant's accounts and what it has set.
#[derive(Debug)]
pub(crate) struct AccountState {
    pub appid: AppId,
    pub config: AccountConfig,
    pub s_pappid: String,
    pub original_id: String,
    pub contact: Option<ContactInfo>,
    pub auth_field: Option<AuthFieldSetting>,
    pub pay_mch: Option<PayMchInfo>,
    /// `/cgi-bin/token` calls on the sandbox day `.0` (UTC+8).
    pub token_calls: (i64, u32),
}

/// Which endpoint issued a token.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub(crate) enum TokenKind {
    Classic,
    Stable,
}

#[derive(Debug, Clone)]
pub(crate) struct IssuedToken {
    pub appid: String,
    pub expires_at: i64,
    /// When a newer token replaced it; it stays valid for the overlap after this.
    pub superseded_at: Option<i64>,
}

#[derive(Debug, Clone)]
pub(crate) struct IssuedTicket {
    pub appid: String,
    pub kind: String,
    pub expires_at: i64,
}

/// The invoice title a buyer picks on the auth page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerTitle {
    /// Personal or company.
    pub kind: TitleKind,
    /// The name on the invoice.
    pub title: String,
    /// Company taxpayer id.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tax_no: Option<String>,
    /// Phone.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub phone: Option<String>,
    /// E-mail (personal).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub email: Option<String>,
    /// Address (company).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub addr: Option<String>,
    /// Bank name (company).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_type: Option<String>,
    /// Bank account (company).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bank_no: Option<String>,
}

/// Personal (`user_field`) or company (`biz_field`) title.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum TitleKind {
    /// A person.
    Personal,
    /// A company.
    Company,
}

#[derive(Debug, Clone)]
pub(crate) struct Authorization {
    pub at: i64,
    pub openid: String,
    pub title: Option<BuyerTitle>,
}

#[derive(Debug, Clone)]
pub(crate) struct Rejection {
    pub reason: String,
}

/// An invoicing request keyed by `(s_pappid, order_id)` (reference §9).
#[derive(Debug, Clone)]
pub(crate) struct Order {
    pub seq: u64,
    pub s_pappid: String,
    pub order_id: String,
    /// The account whose token obtained the auth URL (`AuthorizeAppId`).
    pub authorize_appid: String,
    pub source: String,
    pub page_type: u8,
    pub money: i64,
    pub redirect_url: Option<String>,
    pub created_at: i64,
    pub auth_key: String,
    pub auth_url_issued_at: i64,
    pub transaction_id: Option<String>,
    pub authorization: Option<Authorization>,
    pub failed: Option<(i64, String)>,
    pub rejection: Option<Rejection>,
    pub card: Option<(String, String)>,
}

/// Where an order stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderStatus {
    /// Auth URL issued, buyer has not acted.
    Pending,
    /// The buyer authorized.
    Authorized,
    /// The buyer's authorization failed.
    Failed,
    /// The merchant refused to invoice (`rejectinsert`).
    Rejected,
    /// The invoice card is in the buyer's Cards & Offers.
    Inserted,
}

impl Order {
    pub(crate) fn status(&self) -> OrderStatus {
        if self.rejection.is_some() {
            OrderStatus::Rejected
        } else if self.card.is_some() {
            OrderStatus::Inserted
        } else if self.authorization.is_some() {
            OrderStatus::Authorized
        } else if self.failed.is_some() {
            OrderStatus::Failed
        } else {
            OrderStatus::Pending
        }
    }
}

#[derive(Debug, Clone)]
pub(crate) struct CardTemplate {
    pub appid: String,
    pub created_at: i64,
    pub info: CardTemplateInfo,
}

#[derive(Debug, Clone)]
pub(crate) struct Media {
    pub appid: String,
    pub bytes: Arc<[u8]>,
    pub uploaded_at: i64,
    /// Attached to an inserted card, so never deleted.
    pub consumed: bool,
}

/// An invoice card in a buyer's Cards & Offers.
#[derive(Debug, Clone)]
pub(crate) struct Card {
    pub seq: u64,
    pub card_id: String,
    pub code: String,
    /// The account that inserted it.
    pub appid: String,
    pub openid: String,
    pub order_id: String,
    pub s_pappid: String,
    pub status: ReimburseStatus,
    pub inserted_at: i64,
    pub data: InvoiceUserData,
}

/// A simulated WeChat Pay payment.
#[derive(Debug, Clone, Serialize)]
pub struct Payment {
    /// WeChat Pay's id.
    pub transaction_id: String,
    /// The merchant's id.
    pub out_trade_no: String,
    /// The merchant number.
    pub mchid: String,
    /// Amount in fen.
    pub money: i64,
    /// `receipt=Y`: the receipt shows the invoice entry.
    pub receipt: bool,
    /// The authorizable order created for the invoice entry.
    pub order_id: Option<String>,
    /// Unix seconds.
    pub paid_at: i64,
}

/// A message the buyer received (a rejected invoice request).
#[derive(Debug, Clone, Serialize)]
pub struct Notice {
    /// Recipient.
    pub openid: String,
    /// The order.
    pub order_id: String,
    /// The merchant's reason.
    pub reason: String,
    /// The merchant's link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    /// Unix seconds.
    pub at: i64,
}

/// Everything the sandbox knows.
#[derive(Debug)]
pub(crate) struct State {
    pub settings: Arc<Settings>,
    pub minter: Minter,
    pub accounts: Vec<AccountState>,
    pub tokens: HashMap<String, IssuedToken>,
    pub current_tokens: HashMap<(String, TokenKind), String>,
    pub tickets: HashMap<String, IssuedTicket>,
    pub orders: HashMap<(String, String), Order>,
    pub order_seq: u64,
    pub templates: HashMap<String, CardTemplate>,
    pub media: HashMap<String, Media>,
    pub uploads: u64,
    pub cards: HashMap<(String, String), Card>,
    pub card_seq: u64,
    pub billing_numbers: HashSet<(String, String)>,
    pub payments: Vec<Payment>,
    pub notices: Vec<Notice>,
    pub pushes: Vec<PushRecord>,
}

/// Checks an account's push settings: a usable callback URL and, for the encrypted modes, a
/// valid EncodingAESKey.
pub(crate) fn check_account(account: &AccountConfig) -> Result<AppId, String> {
    let appid = AppId::parse(&account.appid).map_err(|e| e.to_string())?;
    if account.secret.is_empty() {
        return Err(format!("account {appid}: secret must not be empty"));
    }
    if let Some(url) = &account.callback_url
        && !(url.starts_with("http://") || url.starts_with("https://"))
    {
        return Err(format!(
            "account {appid}: callback_url must start with http:// or https://"
        ));
    }
    if account.token.is_empty() {
        return Err(format!("account {appid}: token must not be empty"));
    }
    match (&account.encoding_aes_key, account.push_mode) {
        (Some(key), _) => {
            AesKey::from_encoding_aes_key(key).map_err(|e| format!("account {appid}: {e}"))?;
        }
        (None, PushMode::Compatible | PushMode::Safe) => {
            return Err(format!(
                "account {appid}: push_mode {} needs an encoding_aes_key",
                account.push_mode.code()
            ));
        }
        (None, PushMode::Plain) => {}
    }
    Ok(appid)
}

impl State {
    pub(crate) fn new(
        config: &SandboxConfig,
        settings: Arc<Settings>,
    ) -> Result<Self, SandboxError> {
        if config.accounts.is_empty() {
            return Err(SandboxError::Config(
                "at least one account is needed".to_owned(),
            ));
        }
        let mut accounts = Vec::with_capacity(config.accounts.len());
        for account in &config.accounts {
            let appid = check_account(account).map_err(SandboxError::Config)?;
            if accounts.iter().any(|a: &AccountState| a.appid == appid) {
                return Err(SandboxError::Config(format!(
                    "account {appid} appears twice"
                )));
            }
            accounts.push(AccountState {
                s_pappid: ids::s_pappid(config.seed, appid.as_str()),
                original_id: account
                    .original_id
                    .clone()
                    .unwrap_or_else(|| ids::original_id(appid.as_str())),
                appid,
                config: account.clone(),
                contact: None,
                auth_field: None,
                pay_mch: None,
                token_calls: (0, 0),
            });
        }
        if !accounts
            .iter()
            .any(|a| a.config.role == AccountRole::OfficialAccount)
        {
            return Err(SandboxError::Config(
                "one account must be an official_account".to_owned(),
            ));
        }
        Ok(Self {
            minter: Minter::new(config.seed, config.id_epoch.unwrap_or_else(ids::next_epoch)),
            settings,
            accounts,
            tokens: HashMap::new(),
            current_tokens: HashMap::new(),
            tickets: HashMap::new(),
            orders: HashMap::new(),
            order_seq: 0,
            templates: HashMap::new(),
            media: HashMap::new(),
            uploads: 0,
            cards: HashMap::new(),
            card_seq: 0,
            billing_numbers: HashSet::new(),
            payments: Vec::new(),
            notices: Vec::new(),
            pushes: Vec::new(),
        })
    }

    pub(crate) fn account(&self, appid: &str) -> Option<&AccountState> {
        self.accounts.iter().find(|a| a.appid.as_str() == appid)
    }

    pub(crate) fn account_mut(&mut self, appid: &str) -> Option<&mut AccountState> {
        self.accounts.iter_mut().find(|a| a.appid.as_str() == appid)
    }

    pub(crate) fn account_by_s_pappid(&self, s_pappid: &str) -> Option<&AccountState> {
        self.accounts.iter().find(|a| a.s_pappid == s_pappid)
    }

    /// The invoicing platform account of post-payment invoicing: the first Official Account.
    pub(crate) fn platform_account(&self) -> Option<&AccountState> {
        self.accounts
            .iter()
            .find(|a| a.config.role == AccountRole::OfficialAccount)
    }

    /// The buyer's openid under the account receiving pushes for `s_pappid`.
    pub(crate) fn default_openid(&self, s_pappid: &str) -> String {
        let appid = self
            .account_by_s_pappid(s_pappid)
            .map_or("", |a| a.appid.as_str());
        ids::openid(self.settings.seed, appid, "buyer")
    }

    /// The URL of the auth page for an order.
    pub(crate) fn auth_url(&self, order: &Order) -> String {
        format!(
            "{}/sandbox/auth?s_pappid={}&order_id={}&k={}",
            self.settings.public_base_url,
            percent_encode(&order.s_pappid),
            percent_encode(&order.order_id),
            order.auth_key
        )
    }

    /// The URL serving an uploaded PDF.
    pub(crate) fn pdf_url(&self, media_id: &str) -> String {
        format!(
            "{}/sandbox/pdf/{}",
            self.settings.public_base_url,
            percent_encode(media_id)
        )
    }
}

/// Percent-encodes everything but the unreserved characters of RFC 3986.
pub(crate) fn percent_encode(value: &str) -> String {
    use std::fmt::Write as _;
    let mut out = String::with_capacity(value.len());
    for byte in value.bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'_' | b'.' | b'~') {
            out.push(char::from(byte));
        } else {
            // Writing to a String cannot fail.
            let _ = write!(out, "%{byte:02X}");
        }
    }
    out
}

/// A state built from `config`, for unit tests.
#[cfg(test)]
pub(crate) fn test_state(config: &SandboxConfig) -> State {
    let settings = Arc::new(Settings {
        seed: config.seed,
        public_base_url: "http://sandbox.test".to_owned(),
        timing: config.timing.clone(),
        push: config.push.clone(),
        unconfirmed: config.unconfirmed.clone(),
    });
    match State::new(config, settings) {
        Ok(state) => state,
        Err(error) => panic!("test state: {error}"),
    }
}
