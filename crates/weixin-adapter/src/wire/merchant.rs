//! Merchant endpoints: `setbizattr` (six actions), `getauthurl`, `getauthdata`,
//! `rejectinsert`.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use super::{Endpoint, Method, StatusResponse, WeixinRequest, lenient};

const fn setbizattr(name: &'static str, action: &'static str, idempotent: bool) -> Endpoint {
    Endpoint {
        name,
        path: "/card/invoice/setbizattr",
        method: Method::Post,
        action: Some(action),
        idempotent,
    }
}

/// The merchant contact (`contact`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ContactInfo {
    /// Contact phone.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub phone: String,
    /// Invoicing timeout, seconds. The wire name is `time_out` (not `timeout`).
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub time_out: i64,
}

/// `setbizattr?action=set_contact`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetContactRequest {
    /// The contact.
    pub contact: ContactInfo,
}

impl WeixinRequest for SetContactRequest {
    const ENDPOINT: Endpoint = setbizattr("setbizattr.set_contact", "set_contact", true);
    type Response = StatusResponse;
}

/// `setbizattr?action=get_contact`, body `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GetContactRequest {}

impl WeixinRequest for GetContactRequest {
    const ENDPOINT: Endpoint = setbizattr("setbizattr.get_contact", "get_contact", true);
    type Response = GetContactResponse;
}

/// Answer of `get_contact`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GetContactResponse {
    /// Absent when never set.
    #[serde(default)]
    pub contact: Option<ContactInfo>,
}

/// A custom field of the auth page (`custom_field[]`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct CustomFieldSetting {
    /// Field name.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub key: String,
    /// 0 or 1.
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub is_require: i64,
    /// Hint text.
    #[serde(
        default,
        skip_serializing_if = "Option::is_none",
        deserialize_with = "lenient::opt_nonempty_string"
    )]
    pub notice: Option<String>,
}

/// `user_field` of `auth_field`: the personal-title form. Flags are 0 or 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct UserFieldSetting {
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub show_title: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub show_phone: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub show_email: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub require_phone: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub require_email: i64,
    #[serde(default)]
    pub custom_field: Vec<CustomFieldSetting>,
}

/// `biz_field` of `auth_field`: the company-title form. Flags are 0 or 1.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[allow(missing_docs)]
pub struct BizFieldSetting {
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub show_title: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub show_tax_no: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub show_addr: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub show_phone: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub show_bank_type: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub show_bank_no: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub require_tax_no: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub require_addr: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub require_phone: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub require_bank_type: i64,
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub require_bank_no: i64,
    #[serde(default)]
    pub custom_field: Vec<CustomFieldSetting>,
}

/// `auth_field`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuthFieldSetting {
    /// Personal-title form.
    #[serde(default)]
    pub user_field: UserFieldSetting,
    /// Company-title form.
    #[serde(default)]
    pub biz_field: BizFieldSetting,
}

/// `setbizattr?action=set_auth_field`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetAuthFieldRequest {
    /// The fields.
    pub auth_field: AuthFieldSetting,
}

impl WeixinRequest for SetAuthFieldRequest {
    const ENDPOINT: Endpoint = setbizattr("setbizattr.set_auth_field", "set_auth_field", true);
    type Response = StatusResponse;
}

/// `setbizattr?action=get_auth_field`, body `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GetAuthFieldRequest {}

impl WeixinRequest for GetAuthFieldRequest {
    const ENDPOINT: Endpoint = setbizattr("setbizattr.get_auth_field", "get_auth_field", true);
    type Response = GetAuthFieldResponse;
}

/// Answer of `get_auth_field`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GetAuthFieldResponse {
    /// Absent when never set.
    #[serde(default)]
    pub auth_field: Option<AuthFieldSetting>,
}

/// `paymch_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PayMchInfo {
    /// WeChat Pay merchant id.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub mchid: String,
    /// Platform id.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub s_pappid: String,
}

/// `setbizattr?action=set_pay_mch`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct SetPayMchRequest {
    /// The binding.
    pub paymch_info: PayMchInfo,
}

impl WeixinRequest for SetPayMchRequest {
    const ENDPOINT: Endpoint = setbizattr("setbizattr.set_pay_mch", "set_pay_mch", true);
    type Response = StatusResponse;
}

/// `setbizattr?action=get_pay_mch`, body `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct GetPayMchRequest {}

impl WeixinRequest for GetPayMchRequest {
    const ENDPOINT: Endpoint = setbizattr("setbizattr.get_pay_mch", "get_pay_mch", true);
    type Response = GetPayMchResponse;
}

/// Answer of `get_pay_mch`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GetPayMchResponse {
    /// Absent when never set.
    #[serde(default)]
    pub paymch_info: Option<PayMchInfo>,
}

/// `POST /card/invoice/getauthurl`. `Debug` never shows the ticket.
#[derive(Debug, Clone, Serialize)]
pub struct GetAuthUrlRequest {
    /// Platform id.
    pub s_pappid: String,
    /// The merchant's order id.
    pub order_id: String,
    /// Amount in fen.
    pub money: i64,
    /// Unix seconds.
    pub timestamp: i64,
    /// `app`, `web`, `wxa` or `wap`.
    pub source: String,
    /// Page after a successful authorization (H5 sources only).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub redirect_url: Option<String>,
    /// The `wx_card` ticket.
    #[serde(serialize_with = "expose")]
    pub ticket: SecretString,
    /// Auth page style: 0 apply, 1 fill title and apply, 2 receive.
    #[serde(rename = "type")]
    pub page_type: u8,
}

impl WeixinRequest for GetAuthUrlRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "getauthurl",
        path: "/card/invoice/getauthurl",
        method: Method::Post,
        action: None,
        idempotent: true,
    };
    type Response = GetAuthUrlResponse;
}

/// Answer of `getauthurl`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GetAuthUrlResponse {
    /// The auth page URL (a Mini Program path for `wxa`).
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub auth_url: String,
    /// Only for `source = wxa`: the Mini Program to navigate to.
    #[serde(default, deserialize_with = "lenient::opt_nonempty_string")]
    pub appid: Option<String>,
}

/// `POST /card/invoice/getauthdata`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GetAuthDataRequest {
    /// Platform id.
    pub s_pappid: String,
    /// Order id.
    pub order_id: String,
}

impl WeixinRequest for GetAuthDataRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "getauthdata",
        path: "/card/invoice/getauthdata",
        method: Method::Post,
        action: None,
        idempotent: true,
    };
    type Response = GetAuthDataResponse;
}

/// A custom field value in a filled title.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CustomFieldValue {
    /// Field name.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub key: String,
    /// What the buyer entered.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub value: String,
}

/// A personal title (`user_field`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[allow(missing_docs)]
pub struct UserTitle {
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub title: String,
    #[serde(default, deserialize_with = "lenient::opt_nonempty_string")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_nonempty_string")]
    pub email: Option<String>,
    #[serde(default)]
    pub custom_field: Vec<CustomFieldValue>,
}

/// A company title (`biz_field`); `bank_type` is the bank name, `bank_no` the account.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[allow(missing_docs)]
pub struct BizTitle {
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub title: String,
    #[serde(default, deserialize_with = "lenient::opt_nonempty_string")]
    pub tax_no: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_nonempty_string")]
    pub addr: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_nonempty_string")]
    pub phone: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_nonempty_string")]
    pub bank_type: Option<String>,
    #[serde(default, deserialize_with = "lenient::opt_nonempty_string")]
    pub bank_no: Option<String>,
    #[serde(default)]
    pub custom_field: Vec<CustomFieldValue>,
}

/// `user_auth_info` (auth page style 1 only).
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct UserAuthInfo {
    /// Personal title.
    #[serde(default)]
    pub user_field: Option<UserTitle>,
    /// Company title.
    #[serde(default)]
    pub biz_field: Option<BizTitle>,
}

/// Answer of `getauthdata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GetAuthDataResponse {
    /// `auth success`, `never auth`, or an undocumented value.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub invoice_status: String,
    /// Unix seconds.
    #[serde(default, deserialize_with = "lenient::opt_i64_or_string")]
    pub auth_time: Option<i64>,
    /// The title the buyer filled in.
    #[serde(default)]
    pub user_auth_info: Option<UserAuthInfo>,
}

/// `POST /card/invoice/rejectinsert`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RejectInsertRequest {
    /// Platform id.
    pub s_pappid: String,
    /// Order id.
    pub order_id: String,
    /// Reason shown to the buyer.
    pub reason: String,
    /// Link for the buyer's next step.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
}

impl WeixinRequest for RejectInsertRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "rejectinsert",
        path: "/card/invoice/rejectinsert",
        method: Method::Post,
        action: None,
        idempotent: true,
    };
    type Response = StatusResponse;
}

fn expose<S: Serializer>(secret: &SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}
