//! Invoicing-platform endpoints: `seturl`, `platform/createcard`, `platform/setpdf`,
//! `platform/getpdf`, `insert`, `platform/updatestatus`.

use serde::{Deserialize, Serialize};

use super::{Endpoint, Method, StatusResponse, WeixinRequest, lenient};

/// `POST /card/invoice/seturl`, body `{}`.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct SetUrlRequest {}

impl WeixinRequest for SetUrlRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "seturl",
        path: "/card/invoice/seturl",
        method: Method::Post,
        action: None,
        idempotent: true,
    };
    type Response = SetUrlResponse;
}

/// Answer of `seturl`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SetUrlResponse {
    /// A URL whose `s_pappid` query parameter is the merchant's platform id.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub invoice_url: String,
}

impl SetUrlResponse {
    /// The `s_pappid` query value, percent-decoded.
    ///
    /// A literal `+` is kept: `s_pappid` is base64 and some real values use the standard
    /// alphabet, so reading `+` as a form-encoded space would corrupt it.
    pub fn s_pappid(&self) -> Option<String> {
        let query = self.invoice_url.split_once('?')?.1;
        let query = query.split('#').next().unwrap_or(query);
        query
            .split('&')
            .filter_map(|pair| pair.split_once('='))
            .find(|(name, _)| *name == "s_pappid")
            .and_then(|(_, value)| percent_decode(value))
            .filter(|value| !value.is_empty())
    }
}

fn percent_decode(value: &str) -> Option<String> {
    let bytes = value.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = value.get(i + 1..i + 3)?;
            out.push(u8::from_str_radix(hex, 16).ok()?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).ok()
}

/// `invoice_info.base_info` of a card template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CardBaseInfo {
    /// Merchant logo URL.
    pub logo_url: String,
    /// Short payee name in the card list (≤ 9 Chinese characters).
    pub title: String,
    /// Custom entry name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_url_name: Option<String>,
    /// Custom entry link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_url: Option<String>,
    /// Custom entry tip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub custom_url_sub_title: Option<String>,
    /// Marketing entry name.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_url_name: Option<String>,
    /// Marketing entry link.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_url: Option<String>,
    /// Marketing entry tip.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub promotion_url_sub_title: Option<String>,
}

/// `invoice_info` of a card template.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InvoiceInfo {
    /// Base info.
    pub base_info: CardBaseInfo,
    /// Invoice type text, e.g. `广东省增值税普通发票`.
    #[serde(rename = "type")]
    pub invoice_type: String,
    /// Payee full name.
    pub payee: String,
    /// Not in the official table; wechatpy sends it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail: Option<String>,
}

/// `POST /card/invoice/platform/createcard`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CreateCardRequest {
    /// The template.
    pub invoice_info: InvoiceInfo,
}

impl WeixinRequest for CreateCardRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "platform.createcard",
        path: "/card/invoice/platform/createcard",
        method: Method::Post,
        action: None,
        // A second call creates a second template.
        idempotent: false,
    };
    type Response = CreateCardResponse;
}

/// Answer of `createcard`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CreateCardResponse {
    /// The template's card id.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub card_id: String,
}

/// `POST /card/invoice/platform/setpdf` is multipart with one file part named `pdf`; this is
/// only its endpoint.
#[derive(Debug, Clone, Copy)]
pub struct SetPdfRequest;

impl SetPdfRequest {
    /// The endpoint. A repeated upload leaves an unused media id that expires in 3 days.
    pub const ENDPOINT: Endpoint = Endpoint {
        name: "platform.setpdf",
        path: "/card/invoice/platform/setpdf",
        method: Method::Post,
        action: None,
        idempotent: true,
    };
    /// The multipart part name.
    pub const PART: &'static str = "pdf";
}

/// Answer of `setpdf`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct SetPdfResponse {
    /// A 64-bit integer, as a string or a number.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub s_media_id: String,
}

/// `POST /card/invoice/platform/getpdf`. `action` goes in the body per the documentation;
/// wechatpy puts it in the query instead, so the client can be told to send either or both.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct GetPdfRequest {
    /// `get_url`, when sent in the body.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub action: Option<&'static str>,
    /// The media id.
    pub s_media_id: String,
}

impl GetPdfRequest {
    /// The only action.
    pub const ACTION: &'static str = "get_url";
}

impl WeixinRequest for GetPdfRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "platform.getpdf",
        path: "/card/invoice/platform/getpdf",
        method: Method::Post,
        action: None,
        idempotent: true,
    };
    type Response = GetPdfResponse;
}

/// Answer of `getpdf`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GetPdfResponse {
    /// Temporary URL.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub pdf_url: String,
    /// Seconds until it expires (7200).
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub pdf_url_expire_time: i64,
}

/// One line of `info[]`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InvoiceItem {
    /// Item name.
    pub name: String,
    /// Quantity.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub num: Option<i64>,
    /// Unit.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unit: Option<String>,
    /// Unit price, fen.
    pub price: i64,
}

/// `card_ext.user_card.invoice_user_data`. Amounts in fen, `billing_time` in Unix seconds;
/// `billing_no` is the invoice number and `billing_code` the invoice code.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
#[allow(missing_docs)]
pub struct InvoiceUserData {
    pub fee: i64,
    pub title: String,
    pub billing_time: i64,
    pub billing_no: String,
    pub billing_code: String,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub info: Vec<InvoiceItem>,
    pub fee_without_tax: i64,
    pub tax: i64,
    pub s_pdf_media_id: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub s_trip_pdf_media_id: Option<String>,
    pub check_code: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_address_and_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub buyer_bank_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_number: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_address_and_phone: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub seller_bank_account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remarks: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cashier: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub maker: Option<String>,
}

/// `card_ext.user_card`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UserCard {
    /// The invoice data.
    pub invoice_user_data: InvoiceUserData,
}

/// `card_ext`: a JSON object, not a string.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct CardExt {
    /// Anti-replay nonce.
    pub nonce_str: String,
    /// Wrapper.
    pub user_card: UserCard,
}

/// `POST /card/invoice/insert`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct InsertCardRequest {
    /// The authorized order.
    pub order_id: String,
    /// Template card id.
    pub card_id: String,
    /// Appid the order was authorized with.
    pub appid: String,
    /// Invoice content.
    pub card_ext: CardExt,
}

impl WeixinRequest for InsertCardRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "insert",
        path: "/card/invoice/insert",
        method: Method::Post,
        action: None,
        // A repeat fails with 72018/72056 rather than inserting twice, but the first
        // outcome is then lost: the workflow, not the transport, decides.
        idempotent: false,
    };
    type Response = InsertCardResponse;
}

/// Answer of `insert`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct InsertCardResponse {
    /// The card code (for `updatestatus`); not the tax invoice number.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub code: String,
    /// The receiving buyer.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub openid: String,
    /// Only when the account is bound to an Open Platform account.
    #[serde(default, deserialize_with = "lenient::opt_nonempty_string")]
    pub unionid: Option<String>,
}

/// `POST /card/invoice/platform/updatestatus`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct UpdateStatusRequest {
    /// Template card id.
    pub card_id: String,
    /// Card code from `insert`.
    pub code: String,
    /// `INVOICE_REIMBURSE_INIT`, `_LOCK`, `_CLOSURE` or `_CANCEL`.
    pub reimburse_status: String,
}

impl WeixinRequest for UpdateStatusRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "platform.updatestatus",
        path: "/card/invoice/platform/updatestatus",
        method: Method::Post,
        action: None,
        idempotent: true,
    };
    type Response = StatusResponse;
}

/// `POST /card/user/getcardlist` (reference §4.14.1, unconfirmed for invoice cards): the codes
/// a user holds of one card template. Used only to learn the code of a card whose `insert`
/// answer was lost.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub struct GetCardListRequest {
    /// The buyer.
    pub openid: String,
    /// The seller's invoice card template.
    pub card_id: String,
}

impl WeixinRequest for GetCardListRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "card.user.getcardlist",
        path: "/card/user/getcardlist",
        method: Method::Post,
        action: None,
        idempotent: true,
    };
    type Response = GetCardListResponse;
}

/// Answer of `card/user/getcardlist`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct GetCardListResponse {
    /// The user's cards of the template.
    #[serde(default)]
    pub card_list: Vec<CardListEntry>,
}

/// One card of `card_list`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct CardListEntry {
    /// The card's code.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub code: String,
    /// Its template.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub card_id: String,
}
