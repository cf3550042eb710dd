//! Weixin concepts as the domain sees them: requests and answers of the ports, pushed events,
//! and the invoice card payload with its pre-flight validation.
//!
//! These are not the wire format (that lives in the Weixin adapter's `wire` module); they carry
//! domain types and are converted by hand at the edge.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, CardCode, CardId, MediaId, OpenId, OrderId, SPappId};
use crate::money::Fen;
use crate::party::{Buyer, PartyName, TaxpayerId};
use crate::scenario::{AuthSource, PageStyle};
use crate::secret::Secret;
use crate::time::Timestamp;

/// Request for an auth page URL (`getauthurl`).
#[derive(Debug, Clone, PartialEq)]
pub struct AuthUrlRequest {
    /// The merchant's own platform id.
    pub s_pappid: SPappId,
    /// The order the buyer authorizes.
    pub order_id: OrderId,
    /// Order amount shown on the auth page.
    pub money: Fen,
    /// Request time.
    pub timestamp: Timestamp,
    /// Where the page is opened from.
    pub source: AuthSource,
    /// Page to open after authorization (H5 only).
    pub redirect_url: Option<String>,
    /// The `wx_card` ticket of the calling account.
    pub ticket: Secret,
    /// Auth page style.
    pub page_style: PageStyle,
}

/// The auth page URL and, for Mini Programs, the appid of Weixin's invoice Mini Program.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthUrl {
    /// The URL (or Mini Program path) of the auth page.
    pub url: String,
    /// Present only for `source = wxa`: the Mini Program to navigate to.
    pub appid: Option<AppId>,
}

/// Authorization status reported by `getauthdata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum AuthStatus {
    /// `auth success`.
    AuthSuccess,
    /// `never auth`.
    NeverAuth,
    /// Any other value, kept verbatim.
    Other(String),
}

/// A personal title filled in on a style-1 auth page (`user_field`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalTitle {
    /// Invoice title (the buyer's name).
    pub title: String,
    /// Phone, if collected.
    pub phone: Option<String>,
    /// E-mail, if collected.
    pub email: Option<String>,
    /// Custom fields `(key, value)`.
    pub custom_fields: Vec<(String, String)>,
}

/// A company title filled in on a style-1 auth page (`biz_field`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyTitle {
    /// Company name.
    pub title: String,
    /// Taxpayer id.
    pub tax_no: Option<String>,
    /// Address.
    pub address: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Bank name.
    pub bank_name: Option<String>,
    /// Bank account.
    pub bank_account: Option<String>,
    /// Custom fields `(key, value)`.
    pub custom_fields: Vec<(String, String)>,
}

/// The answer of `getauthdata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthData {
    /// Authorization status.
    pub status: AuthStatus,
    /// When the buyer authorized.
    pub auth_time: Option<Timestamp>,
    /// The personal title, if the buyer chose one.
    pub personal: Option<PersonalTitle>,
    /// The company title, if the buyer chose one.
    pub company: Option<CompanyTitle>,
}

/// A buyer title from Weixin that cannot become a [`Buyer`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("buyer title from Weixin: {0}")]
pub struct TitleError(pub String);

/// How a title was turned into a buyer.
#[derive(Debug, Clone, PartialEq)]
pub struct TitleBuyer {
    /// The buyer.
    pub buyer: Buyer,
    /// Set when the tax id failed its checksum and was kept as unverified.
    pub warning: Option<String>,
}

impl AuthData {
    /// The buyer the title describes, `None` when the page collected no title (style 0).
    ///
    /// A company title wins over a personal one when both are present. A tax id that fails
    /// its checksum is kept as unverified with a warning rather than blocking the sale (some
    /// issued credit codes do not verify).
    ///
    /// # Errors
    /// [`TitleError`] when the title is unusable (empty name, malformed tax id).
    pub fn buyer(&self) -> Result<Option<TitleBuyer>, TitleError> {
        if let Some(company) = self.company.as_ref().filter(|c| !c.title.trim().is_empty()) {
            let name = PartyName::parse(&company.title).map_err(|e| TitleError(e.to_string()))?;
            let mut warning = None;
            let tax_id = match company.tax_no.as_deref().map(str::trim) {
                None | Some("") => None,
                Some(raw) => Some(match TaxpayerId::parse(raw) {
                    Ok(id) => id,
                    Err(strict) => {
                        let id = TaxpayerId::unverified(raw)
                            .map_err(|e| TitleError(format!("tax_no: {e}")))?;
                        warning = Some(format!("tax_no kept unverified: {strict}"));
                        id
                    }
                }),
            };
            let buyer = Buyer::organization(
                name,
                tax_id,
                company.address.clone(),
                company.phone.clone(),
                company.bank_name.clone(),
                company.bank_account.clone(),
            )
            .map_err(|e| TitleError(e.to_string()))?;
            return Ok(Some(TitleBuyer { buyer, warning }));
        }
        if let Some(personal) = self
            .personal
            .as_ref()
            .filter(|p| !p.title.trim().is_empty())
        {
            let name = PartyName::parse(&personal.title).map_err(|e| TitleError(e.to_string()))?;
            return Ok(Some(TitleBuyer {
                buyer: Buyer::individual(name),
                warning: None,
            }));
        }
        Ok(None)
    }
}

/// Request to refuse invoicing an authorized order (`rejectinsert`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RejectRequest {
    /// Platform id.
    pub s_pappid: SPappId,
    /// The order refused.
    pub order_id: OrderId,
    /// Reason shown to the buyer.
    pub reason: String,
    /// Optional link for the buyer's next step.
    pub url: Option<String>,
}

/// The merchant contact shown on the auth page (`set_contact`); without it `getauthurl`
/// fails with 72063.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Contact {
    /// Contact phone.
    pub phone: String,
    /// Invoicing timeout in seconds (`time_out`).
    pub time_out_seconds: u32,
}

/// A custom field on the style-1 auth page.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomField {
    /// Field name.
    pub key: String,
    /// Whether the buyer must fill it.
    pub required: bool,
    /// Hint text.
    pub notice: Option<String>,
}

/// Which fields the personal-title form shows and requires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PersonalFieldSettings {
    /// Show the title.
    pub show_title: bool,
    /// Show the phone.
    pub show_phone: bool,
    /// Show the e-mail.
    pub show_email: bool,
    /// Require the phone.
    pub require_phone: bool,
    /// Require the e-mail.
    pub require_email: bool,
    /// Custom fields.
    pub custom_fields: Vec<CustomField>,
}

/// Which fields the company-title form shows and requires.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CompanyFieldSettings {
    /// Show the title.
    pub show_title: bool,
    /// Show the tax id.
    pub show_tax_no: bool,
    /// Show the address.
    pub show_address: bool,
    /// Show the phone.
    pub show_phone: bool,
    /// Show the bank name.
    pub show_bank_name: bool,
    /// Show the bank account.
    pub show_bank_account: bool,
    /// Require the tax id.
    pub require_tax_no: bool,
    /// Require the address.
    pub require_address: bool,
    /// Require the phone.
    pub require_phone: bool,
    /// Require the bank name.
    pub require_bank_name: bool,
    /// Require the bank account.
    pub require_bank_account: bool,
    /// Custom fields.
    pub custom_fields: Vec<CustomField>,
}

/// The style-1 auth page fields (`set_auth_field`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFields {
    /// Personal title form.
    pub personal: PersonalFieldSettings,
    /// Company title form.
    pub company: CompanyFieldSettings,
}

impl AuthFields {
    /// A sensible default: title on both forms, tax id required for companies.
    pub fn standard() -> Self {
        AuthFields {
            personal: PersonalFieldSettings {
                show_title: true,
                ..PersonalFieldSettings::default()
            },
            company: CompanyFieldSettings {
                show_title: true,
                show_tax_no: true,
                require_tax_no: true,
                show_address: true,
                show_phone: true,
                show_bank_name: true,
                show_bank_account: true,
                ..CompanyFieldSettings::default()
            },
        }
    }
}

/// WeChat Pay merchant id bound to the platform id (`set_pay_mch`), needed for post-payment.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayMchBinding {
    /// WeChat Pay merchant id.
    pub mchid: String,
    /// The platform id it is bound to.
    pub s_pappid: SPappId,
}

/// An invoice card template (`createcard`); one per invoicing entity.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardTemplate {
    /// Payee full name shown in the invoice details.
    pub payee: String,
    /// Invoice type text, e.g. `电子发票（普通发票）`.
    pub invoice_type: String,
    /// Short payee name in the card list (≤ 9 Chinese characters).
    pub title: String,
    /// Merchant logo URL.
    pub logo_url: String,
    /// Optional custom entry: name, URL, subtitle.
    pub custom_url: Option<(String, String, Option<String>)>,
    /// Optional promotion entry: name, URL, subtitle.
    pub promotion_url: Option<(String, String, Option<String>)>,
}

impl CardTemplate {
    /// Checks the template before it is sent.
    ///
    /// # Errors
    /// A [`CardDataError`] naming the field.
    pub fn validate(&self) -> Result<(), CardDataError> {
        require_text("invoice_info.payee", &self.payee)?;
        require_text("invoice_info.type", &self.invoice_type)?;
        require_text("invoice_info.base_info.title", &self.title)?;
        require_text("invoice_info.base_info.logo_url", &self.logo_url)?;
        if self.title.chars().count() > 9 {
            return Err(CardDataError {
                field: "invoice_info.base_info.title",
                rule: format!(
                    "at most 9 characters (use the short name), got {}",
                    self.title.chars().count()
                ),
            });
        }
        Ok(())
    }
}

/// A temporary URL of an uploaded PDF (`getpdf`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct PdfUrl {
    /// The URL.
    pub url: String,
    /// Seconds until it expires.
    pub expires_in_seconds: u32,
}

/// One line shown on the invoice card (`info[]`); display data, not tax data.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CardItem {
    /// Item name.
    pub name: String,
    /// Quantity, only when it is a whole number.
    pub num: Option<i64>,
    /// Unit.
    pub unit: Option<String>,
    /// Unit price in fen.
    pub price: Fen,
}

/// The invoice data put on the card (`card_ext.user_card.invoice_user_data`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceCardData {
    /// Amount including tax.
    pub fee: Fen,
    /// Invoice title (buyer name).
    pub title: String,
    /// Issue time.
    pub billing_time: Timestamp,
    /// Invoice number (20 digits for 数电).
    pub billing_no: String,
    /// Invoice code (empty for 数电).
    pub billing_code: String,
    /// Lines.
    pub info: Vec<CardItem>,
    /// Amount excluding tax.
    pub fee_without_tax: Fen,
    /// Tax.
    pub tax: Fen,
    /// The uploaded invoice PDF.
    pub pdf_media_id: MediaId,
    /// Another voucher PDF (itinerary, receipt), if any.
    pub trip_pdf_media_id: Option<MediaId>,
    /// Check code (empty for 数电).
    pub check_code: String,
    /// Buyer taxpayer id.
    pub buyer_number: Option<String>,
    /// Buyer address and phone.
    pub buyer_address_and_phone: Option<String>,
    /// Buyer bank and account.
    pub buyer_bank_account: Option<String>,
    /// Seller taxpayer id.
    pub seller_number: Option<String>,
    /// Seller address and phone.
    pub seller_address_and_phone: Option<String>,
    /// Seller bank and account.
    pub seller_bank_account: Option<String>,
    /// Remarks.
    pub remarks: Option<String>,
    /// Payee person.
    pub cashier: Option<String>,
    /// Drawer.
    pub maker: Option<String>,
}

/// A card payload field broke a rule; checked before sending so Weixin's bare 72031 never
/// reaches an operator without a field name.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct CardDataError {
    /// The wire field, e.g. `invoice_user_data.fee`.
    pub field: &'static str,
    /// The rule it broke.
    pub rule: String,
}

fn require_text(field: &'static str, value: &str) -> Result<(), CardDataError> {
    if value.trim().is_empty() {
        return Err(CardDataError {
            field,
            rule: "must not be empty".to_owned(),
        });
    }
    Ok(())
}

fn all_digits(value: &str) -> bool {
    value.bytes().all(|b| b.is_ascii_digit())
}

impl InvoiceCardData {
    /// Checks the payload the way `SPEC.md` §12 asks: fee = fee_without_tax + tax, a title,
    /// a 20-digit 数电 number with empty code and check code (or a complete legacy triple),
    /// positive amounts, item names and prices.
    ///
    /// # Errors
    /// The first [`CardDataError`] found, naming the field.
    pub fn validate(&self) -> Result<(), CardDataError> {
        require_text("invoice_user_data.title", &self.title)?;
        if self.fee_without_tax.checked_add(self.tax) != Some(self.fee) {
            return Err(CardDataError {
                field: "invoice_user_data.fee",
                rule: format!(
                    "must equal fee_without_tax + tax ({} + {} fen), got {} fen",
                    self.fee_without_tax.get(),
                    self.tax.get(),
                    self.fee.get()
                ),
            });
        }
        if !self.fee.is_positive() {
            return Err(CardDataError {
                field: "invoice_user_data.fee",
                rule: format!("must be positive, got {} fen", self.fee.get()),
            });
        }
        if self.billing_time.unix_seconds() <= 0 {
            return Err(CardDataError {
                field: "invoice_user_data.billing_time",
                rule: "must be a 10-digit Unix timestamp".to_owned(),
            });
        }
        let no = &self.billing_no;
        if self.billing_code.is_empty() {
            if no.len() != 20 || !all_digits(no) {
                return Err(CardDataError {
                    field: "invoice_user_data.billing_no",
                    rule: format!(
                        "a 数电 invoice (empty billing_code) needs a 20-digit number, got {no:?}"
                    ),
                });
            }
            if !self.check_code.is_empty() {
                return Err(CardDataError {
                    field: "invoice_user_data.check_code",
                    rule: "must be empty for a 数电 invoice".to_owned(),
                });
            }
        } else {
            if !matches!(self.billing_code.len(), 10 | 12) || !all_digits(&self.billing_code) {
                return Err(CardDataError {
                    field: "invoice_user_data.billing_code",
                    rule: format!(
                        "a legacy invoice code has 10 or 12 digits, got {:?}",
                        self.billing_code
                    ),
                });
            }
            if no.len() != 8 || !all_digits(no) {
                return Err(CardDataError {
                    field: "invoice_user_data.billing_no",
                    rule: format!("a legacy invoice number has 8 digits, got {no:?}"),
                });
            }
            if self.check_code.len() != 20 || !all_digits(&self.check_code) {
                return Err(CardDataError {
                    field: "invoice_user_data.check_code",
                    rule: "a legacy invoice needs its 20-digit check code".to_owned(),
                });
            }
        }
        for item in &self.info {
            if item.name.trim().is_empty() {
                return Err(CardDataError {
                    field: "invoice_user_data.info[].name",
                    rule: "must not be empty".to_owned(),
                });
            }
            if item.price.is_negative() {
                return Err(CardDataError {
                    field: "invoice_user_data.info[].price",
                    rule: format!("must not be negative, got {} fen", item.price.get()),
                });
            }
        }
        Ok(())
    }
}

/// Everything `insert` needs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CardInsertion {
    /// The authorized order.
    pub order_id: OrderId,
    /// The seller's card template.
    pub card_id: CardId,
    /// The appid that authorized the order.
    pub appid: AppId,
    /// Anti-replay nonce.
    pub nonce: String,
    /// The invoice data.
    pub data: InvoiceCardData,
}

/// The card Weixin put into the buyer's Cards & Offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InsertedCard {
    /// The card's code (needed by `updatestatus`).
    pub code: CardCode,
    /// The receiving buyer.
    pub openid: OpenId,
    /// The buyer's unionid, when the account is bound to an Open Platform account.
    pub unionid: Option<String>,
}

/// Reimbursement status of an invoice card.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ReimburseStatus {
    /// `INVOICE_REIMBURSE_INIT`: can be submitted for reimbursement.
    Init,
    /// `INVOICE_REIMBURSE_LOCK`: in a reimbursement flow.
    Lock,
    /// `INVOICE_REIMBURSE_CLOSURE`: reimbursed, removed from Cards & Offers (final).
    Closure,
    /// `INVOICE_REIMBURSE_CANCEL`: reversed (final).
    Cancel,
}

impl ReimburseStatus {
    /// The wire value.
    pub fn code(self) -> &'static str {
        match self {
            ReimburseStatus::Init => "INVOICE_REIMBURSE_INIT",
            ReimburseStatus::Lock => "INVOICE_REIMBURSE_LOCK",
            ReimburseStatus::Closure => "INVOICE_REIMBURSE_CLOSURE",
            ReimburseStatus::Cancel => "INVOICE_REIMBURSE_CANCEL",
        }
    }

    /// Parses the wire value.
    pub fn parse(value: &str) -> Option<Self> {
        match value {
            "INVOICE_REIMBURSE_INIT" => Some(ReimburseStatus::Init),
            "INVOICE_REIMBURSE_LOCK" => Some(ReimburseStatus::Lock),
            "INVOICE_REIMBURSE_CLOSURE" => Some(ReimburseStatus::Closure),
            "INVOICE_REIMBURSE_CANCEL" => Some(ReimburseStatus::Cancel),
            _ => None,
        }
    }

    /// Whether no further change is possible.
    pub fn is_final(self) -> bool {
        matches!(self, ReimburseStatus::Closure | ReimburseStatus::Cancel)
    }
}

impl fmt::Display for ReimburseStatus {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

/// Which order an authorization event is about, and whether the buyer succeeded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "outcome", content = "order_id")]
pub enum AuthOutcome {
    /// `SuccOrderId`.
    Succeeded(OrderId),
    /// `FailOrderId`.
    Failed(OrderId),
}

impl AuthOutcome {
    /// The order the event is about.
    pub fn order_id(&self) -> &OrderId {
        match self {
            AuthOutcome::Succeeded(id) | AuthOutcome::Failed(id) => id,
        }
    }
}

/// `user_authorize_invoice`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthorizationEvent {
    /// The buyer (`FromUserName`).
    pub openid: OpenId,
    /// `CreateTime`.
    pub create_time: Timestamp,
    /// Which order, succeeded or failed.
    pub outcome: AuthOutcome,
    /// `AuthorizeAppId` (or `AppId`): the account that obtained the auth URL.
    pub authorize_appid: Option<AppId>,
    /// `Source`.
    pub source: Option<AuthSource>,
    /// `SPAppId`, undocumented but seen in production pushes.
    pub s_pappid: Option<SPappId>,
}

/// `update_invoice_status`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvoiceStatusEvent {
    /// The buyer (`FromUserName`).
    pub openid: OpenId,
    /// `CreateTime`.
    pub create_time: Timestamp,
    /// `Status`.
    pub status: ReimburseStatus,
    /// `CardId`.
    pub card_id: CardId,
    /// `Code`.
    pub code: CardCode,
}

/// A push from Weixin after verification and decryption.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "type")]
pub enum WeixinEvent {
    /// The buyer authorized (or failed to).
    Authorization(AuthorizationEvent),
    /// A reimburser changed a card's status.
    InvoiceStatus(InvoiceStatusEvent),
    /// Any other event or message, kept so it is acknowledged and visible.
    Other {
        /// `MsgType`.
        msg_type: String,
        /// `Event`, when it is an event.
        event: Option<String>,
        /// `FromUserName`.
        from: String,
        /// `CreateTime`.
        create_time: Timestamp,
    },
}

/// Weixin's errcode families, for deciding what to do with a failed call.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// 40001, 40014, 42001, 41001: the access token; refresh once and retry once.
    Token,
    /// -1, 45009, 72036, 72054, network and 5xx: retry later with backoff.
    Transient,
    /// Everything else (72xxx, permissions): surfaced to the workflow unchanged.
    Business,
}

/// Classifies a Weixin errcode. Decisions are taken on the errcode, never on `errmsg`.
pub fn classify_errcode(errcode: i64) -> ErrorClass {
    match errcode {
        40001 | 40014 | 42001 | 41001 => ErrorClass::Token,
        -1 | 45009 | 72036 | 72054 | 72059 => ErrorClass::Transient,
        _ => ErrorClass::Business,
    }
}

/// What an operator should know about an errcode that lands an order in needs-attention.
pub fn errcode_hint(errcode: i64) -> Option<&'static str> {
    Some(match errcode {
        72035 => {
            "the order was rejected with rejectinsert and can never get a card; reverse the invoice or reissue under a new order id"
        }
        72042 => "this invoice number is already on a card (another order or buyer)",
        72038 => {
            "Weixin has no authorization for this order_id, appid and s_pappid; check that they come from setup"
        }
        72056 | 72018 => {
            "a card was already inserted for this order_id; a reissue needs a new order id and a new authorization"
        }
        72063 => "the merchant contact is not set; run setup",
        72029 => "the auth page fields are not set; run setup",
        72028 => "the WeChat Pay merchant id is not bound; run setup",
        72015 | 48001 => "the account lacks the e-invoice permission for this call",
        72040 => "Weixin rejected the PDF",
        40078 => {
            "the card template is not usable yet (card capability, or too soon after createcard)"
        }
        72039 | 72060 | 72061 => "the card is locked, closed or cancelled by a reimburser",
        _ => return None,
    })
}

/// A failed Weixin call.
#[derive(Debug, thiserror::Error)]
pub enum WeixinError {
    /// Weixin answered with a non-zero errcode (after the adapter's own token retry).
    #[error("weixin errcode {errcode}: {errmsg}")]
    Api {
        /// `errcode`.
        errcode: i64,
        /// `errmsg`, verbatim.
        errmsg: String,
    },
    /// Weixin could not be reached or answered 5xx; the request may or may not have been applied.
    #[error("weixin unavailable: {0}")]
    Unavailable(String),
    /// Weixin answered something that is not the documented shape.
    #[error("weixin answered an unexpected response: {0}")]
    InvalidResponse(String),
    /// The request could not be built (unknown account, invalid payload); nothing was sent.
    #[error("weixin request refused before sending: {0}")]
    Rejected(String),
    /// Anything else.
    #[error("weixin call failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

impl WeixinError {
    /// The errcode family; transport failures count as transient.
    pub fn class(&self) -> ErrorClass {
        match self {
            WeixinError::Api { errcode, .. } => classify_errcode(*errcode),
            WeixinError::Unavailable(_) => ErrorClass::Transient,
            WeixinError::InvalidResponse(_) | WeixinError::Rejected(_) | WeixinError::Other(_) => {
                ErrorClass::Business
            }
        }
    }

    /// The errcode, when Weixin answered one.
    pub fn errcode(&self) -> Option<i64> {
        match self {
            WeixinError::Api { errcode, .. } => Some(*errcode),
            _ => None,
        }
    }
}

mod dedupe;
#[cfg(test)]
mod tests;
