//! The server side of Weixin's wire format.
//!
//! The Weixin adapter's `wire` structs are built for a client: requests only serialize,
//! answers only deserialize (its lenient deserializers, `wire::lenient`, are shared). The sandbox
//! needs the opposite directions, so this module holds small server-side mirrors of the
//! request bodies (parsed as leniently as Weixin parses them: numbers in strings, `null` for
//! absent, unknown fields ignored) and of the answers that carry more than a few fields.
//! Where an adapter type already works both ways (`ContactInfo`, `AuthFieldSetting`,
//! `PayMchInfo`) it is used as is. Paths and endpoint names come from the adapter's
//! `Endpoint` constants.

use fapiao_weixin::wire::{AuthFieldSetting, ContactInfo, PayMchInfo};
use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

use crate::error::ApiError;

pub(crate) mod lenient {
    //! Deserializers for fields whose JSON type clients do not keep steady.

    use std::fmt;

    use serde::Deserialize as _;
    use serde::de::{self, Deserializer, Visitor};

    /// An optional integer: a number, a string, a bool or `null` (`""` is absent).
    pub(crate) fn int<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
        fapiao_weixin::wire::lenient::opt_i64_or_string(d)
    }

    /// A flag sent as a bool, a number or a string; `null` is false.
    pub(crate) fn flag<'de, D: Deserializer<'de>>(d: D) -> Result<bool, D::Error> {
        struct Flag;
        impl Visitor<'_> for Flag {
            type Value = bool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a bool, 0/1, or null")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<bool, E> {
                Ok(v)
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<bool, E> {
                Ok(v != 0)
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<bool, E> {
                Ok(v != 0)
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<bool, E> {
                Ok(matches!(v.trim(), "true" | "1" | "True" | "TRUE"))
            }
            fn visit_none<E: de::Error>(self) -> Result<bool, E> {
                Ok(false)
            }
            fn visit_unit<E: de::Error>(self) -> Result<bool, E> {
                Ok(false)
            }
        }
        d.deserialize_any(Flag)
    }

    /// A string, or a number rendered as one; `null` is `""`; surrounding blanks are trimmed.
    pub(crate) fn string<'de, D: Deserializer<'de>>(d: D) -> Result<String, D::Error> {
        Ok(fapiao_weixin::wire::lenient::opt_string_or_number(d)?
            .map(|s| s.trim().to_owned())
            .unwrap_or_default())
    }

    /// An optional string; `null` and blank are absent.
    pub(crate) fn opt_string<'de, D: Deserializer<'de>>(d: D) -> Result<Option<String>, D::Error> {
        Ok(fapiao_weixin::wire::lenient::opt_string_or_number(d)?.filter(|s| !s.trim().is_empty()))
    }

    /// A list; `null` is empty.
    pub(crate) fn list<'de, D, T>(d: D) -> Result<Vec<T>, D::Error>
    where
        D: Deserializer<'de>,
        T: serde::Deserialize<'de>,
    {
        Ok(Option::<Vec<T>>::deserialize(d)?.unwrap_or_default())
    }
}

/// Parses a JSON request body the way Weixin does: the Content-Type is ignored, an empty body
/// is `{}` where the endpoint takes `{}` and 44002 elsewhere, bad JSON is 47001.
pub(crate) fn parse_body<T: DeserializeOwned>(
    bytes: &[u8],
    empty_is_object: bool,
) -> Result<T, ApiError> {
    let trimmed = bytes.trim_ascii();
    let text: &[u8] = if trimmed.is_empty() {
        if !empty_is_object {
            return Err(ApiError::code(44002));
        }
        b"{}"
    } else {
        trimmed
    };
    // A UTF-8 byte order mark is tolerated.
    let text = text.strip_prefix(b"\xef\xbb\xbf").unwrap_or(text);
    let value: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| ApiError::data_format(format!("body is not json: {e}")))?;
    if !value.is_object() {
        return Err(ApiError::data_format("body is not a json object"));
    }
    serde_json::from_value(value).map_err(|e| ApiError::data_format(e.to_string()))
}

/// Body of `POST /cgi-bin/stable_token`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct StableTokenBody {
    #[serde(deserialize_with = "lenient::string")]
    pub grant_type: String,
    #[serde(deserialize_with = "lenient::string")]
    pub appid: String,
    #[serde(deserialize_with = "lenient::string")]
    pub secret: String,
    #[serde(deserialize_with = "lenient::flag")]
    pub force_refresh: bool,
}

/// `setbizattr?action=set_contact`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SetContactBody {
    pub contact: Option<ContactInfo>,
}

/// `setbizattr?action=set_auth_field`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SetAuthFieldBody {
    pub auth_field: Option<AuthFieldSetting>,
}

/// `setbizattr?action=set_pay_mch`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct SetPayMchBody {
    pub paymch_info: Option<PayMchInfo>,
}

/// Body of `getauthurl`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct GetAuthUrlBody {
    #[serde(deserialize_with = "lenient::string")]
    pub s_pappid: String,
    #[serde(deserialize_with = "lenient::string")]
    pub order_id: String,
    #[serde(deserialize_with = "lenient::int")]
    pub money: Option<i64>,
    #[serde(deserialize_with = "lenient::int")]
    pub timestamp: Option<i64>,
    #[serde(deserialize_with = "lenient::string")]
    pub source: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub redirect_url: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub ticket: String,
    #[serde(rename = "type", deserialize_with = "lenient::int")]
    pub page_type: Option<i64>,
}

/// Body of `getauthdata`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct OrderRefBody {
    #[serde(deserialize_with = "lenient::string")]
    pub s_pappid: String,
    #[serde(deserialize_with = "lenient::string")]
    pub order_id: String,
}

/// Body of `rejectinsert`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct RejectBody {
    #[serde(deserialize_with = "lenient::string")]
    pub s_pappid: String,
    #[serde(deserialize_with = "lenient::string")]
    pub order_id: String,
    #[serde(deserialize_with = "lenient::string")]
    pub reason: String,
    #[serde(deserialize_with = "lenient::opt_string")]
    pub url: Option<String>,
}

/// `invoice_info.base_info` of `createcard`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CardBaseInfo {
    /// Merchant logo URL.
    #[serde(deserialize_with = "lenient::string")]
    pub logo_url: String,
    /// Short payee name.
    #[serde(deserialize_with = "lenient::string")]
    pub title: String,
    /// Custom entry name.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_url_name: Option<String>,
    /// Custom entry link.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_url: Option<String>,
    /// Custom entry tip.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub custom_url_sub_title: Option<String>,
    /// Marketing entry name.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub promotion_url_name: Option<String>,
    /// Marketing entry link.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub promotion_url: Option<String>,
    /// Marketing entry tip.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub promotion_url_sub_title: Option<String>,
}

/// `invoice_info` of `createcard`.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct CardTemplateInfo {
    /// Base info.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub base_info: Option<CardBaseInfo>,
    /// Invoice type text.
    #[serde(rename = "type", deserialize_with = "lenient::string")]
    pub invoice_type: String,
    /// Payee full name.
    #[serde(deserialize_with = "lenient::string")]
    pub payee: String,
    /// wechatpy's extra field.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub detail: Option<String>,
}

/// Body of `createcard`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CreateCardBody {
    pub invoice_info: Option<CardTemplateInfo>,
}

/// Body of `getpdf` (`action` may come in the query instead).
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct GetPdfBody {
    #[serde(deserialize_with = "lenient::opt_string")]
    pub action: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub s_media_id: String,
}

/// One `info[]` line of an invoice.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
pub struct InvoiceItem {
    /// Item name.
    #[serde(deserialize_with = "lenient::string")]
    pub name: String,
    /// Quantity.
    #[serde(
        deserialize_with = "lenient::int",
        skip_serializing_if = "Option::is_none"
    )]
    pub num: Option<i64>,
    /// Unit.
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub unit: Option<String>,
    /// Unit price in fen.
    #[serde(deserialize_with = "lenient::int")]
    pub price: Option<i64>,
}

/// `card_ext.user_card.invoice_user_data` as received.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(default)]
#[allow(missing_docs)]
pub struct InvoiceUserData {
    #[serde(deserialize_with = "lenient::int")]
    pub fee: Option<i64>,
    #[serde(deserialize_with = "lenient::string")]
    pub title: String,
    #[serde(deserialize_with = "lenient::int")]
    pub billing_time: Option<i64>,
    #[serde(deserialize_with = "lenient::string")]
    pub billing_no: String,
    #[serde(deserialize_with = "lenient::string")]
    pub billing_code: String,
    #[serde(deserialize_with = "lenient::list")]
    pub info: Vec<InvoiceItem>,
    #[serde(deserialize_with = "lenient::int")]
    pub fee_without_tax: Option<i64>,
    #[serde(deserialize_with = "lenient::int")]
    pub tax: Option<i64>,
    #[serde(deserialize_with = "lenient::string")]
    pub s_pdf_media_id: String,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub s_trip_pdf_media_id: Option<String>,
    #[serde(deserialize_with = "lenient::string")]
    pub check_code: String,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub buyer_number: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub buyer_address_and_phone: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub buyer_bank_account: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub seller_number: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub seller_address_and_phone: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub seller_bank_account: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub remarks: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub cashier: Option<String>,
    #[serde(
        deserialize_with = "lenient::opt_string",
        skip_serializing_if = "Option::is_none"
    )]
    pub maker: Option<String>,
}

/// `card_ext.user_card`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct UserCardBody {
    pub invoice_user_data: Option<InvoiceUserData>,
}

/// `card_ext`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct CardExtBody {
    #[serde(deserialize_with = "lenient::string")]
    pub nonce_str: String,
    pub user_card: Option<UserCardBody>,
}

/// Body of `insert`; `card_ext` is checked to be an object before it is read.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct InsertBody {
    #[serde(deserialize_with = "lenient::string")]
    pub order_id: String,
    #[serde(deserialize_with = "lenient::string")]
    pub card_id: String,
    #[serde(deserialize_with = "lenient::string")]
    pub appid: String,
    pub card_ext: Option<serde_json::Value>,
}

/// Body of `card/user/getcardlist`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct GetCardListBody {
    #[serde(deserialize_with = "lenient::string")]
    pub openid: String,
    #[serde(deserialize_with = "lenient::string")]
    pub card_id: String,
}

/// Body of `updatestatus`.
#[derive(Debug, Default, Deserialize)]
#[serde(default)]
pub(crate) struct UpdateStatusBody {
    #[serde(deserialize_with = "lenient::string")]
    pub card_id: String,
    #[serde(deserialize_with = "lenient::string")]
    pub code: String,
    #[serde(deserialize_with = "lenient::string")]
    pub reimburse_status: String,
}

/// `user_field` of `getauthdata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct UserFieldAnswer {
    pub title: String,
    pub phone: String,
    pub email: String,
    pub custom_field: Vec<CustomFieldAnswer>,
}

/// `biz_field` of `getauthdata`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct BizFieldAnswer {
    pub title: String,
    pub tax_no: String,
    pub addr: String,
    pub phone: String,
    pub bank_type: String,
    pub bank_no: String,
    pub custom_field: Vec<CustomFieldAnswer>,
}

/// A custom field value.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct CustomFieldAnswer {
    pub key: String,
    pub value: String,
}

/// `user_auth_info`.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct UserAuthInfoAnswer {
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_field: Option<UserFieldAnswer>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub biz_field: Option<BizFieldAnswer>,
}

/// The answer of `getauthdata`, without the status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize)]
pub(crate) struct GetAuthDataAnswer {
    pub invoice_status: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub auth_time: Option<i64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub user_auth_info: Option<UserAuthInfoAnswer>,
}

#[cfg(test)]
mod tests;
