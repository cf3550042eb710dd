//! Identifier newtypes, each parsed at construction.
//!
//! Weixin identifiers are opaque strings, but each has a character set and a length that real values
//! never leave; checking them at the edge turns a bare `72031 invalid params` from Weixin into an
//! error that names the field.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::newtype::newtype_glue;

/// An identifier failed its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct IdError {
    /// The identifier's field name, e.g. `order_id`.
    pub field: &'static str,
    /// The rule the value broke, in words.
    pub rule: String,
}

fn check_chars(
    field: &'static str,
    value: &str,
    min: usize,
    max: usize,
    allowed: fn(char) -> bool,
    allowed_text: &str,
) -> Result<(), IdError> {
    let len = value.chars().count();
    if len < min || len > max {
        let rule = if min == max {
            format!("must be exactly {min} characters, got {len}")
        } else if len == 0 {
            "must not be empty".to_owned()
        } else {
            format!("must be {min} to {max} characters, got {len}")
        };
        return Err(IdError { field, rule });
    }
    if let Some((pos, bad)) = value.char_indices().find(|(_, c)| !allowed(*c)) {
        return Err(IdError {
            field,
            rule: format!(
                "character {:?} at position {} is not allowed (allowed: {allowed_text})",
                bad,
                value[..pos].chars().count() + 1
            ),
        });
    }
    Ok(())
}

fn token_char(c: char) -> bool {
    c.is_ascii_alphanumeric() || c == '_' || c == '-'
}

macro_rules! string_id {
    ($(#[$meta:meta])* $name:ident, $field:literal, $min:expr, $max:expr, $allowed:expr, $allowed_text:literal) => {
        $(#[$meta])*
        #[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
        #[serde(try_from = "String", into = "String")]
        pub struct $name(String);

        impl $name {
            /// The field name used in error messages.
            pub const FIELD: &'static str = $field;

            /// Parses and validates the identifier.
            ///
            /// # Errors
            /// [`IdError`] naming the field and the broken rule.
            pub fn parse(value: &str) -> Result<Self, IdError> {
                check_chars($field, value, $min, $max, $allowed, $allowed_text)?;
                Ok(Self(value.to_owned()))
            }

            /// The identifier as a string slice.
            pub fn as_str(&self) -> &str {
                &self.0
            }
        }

        newtype_glue!(string $name, IdError, try_from = |value| {
            check_chars($field, &value, $min, $max, $allowed, $allowed_text)?;
            Ok(Self(value))
        });

        impl AsRef<str> for $name {
            fn as_ref(&self) -> &str {
                &self.0
            }
        }
    };
}

string_id!(
    /// The merchant's id of one invoicing request (Weixin `order_id`), unique per `s_pappid`.
    ///
    /// For post-payment invoicing it is the id Weixin puts in `SuccOrderId` (the WeChat Pay
    /// transaction id by default).
    OrderId, "order_id", 1, 64, token_char, "ASCII letters, digits, '_' and '-'"
);

string_id!(
    /// The invoicing platform id (`s_pappid`) returned by `seturl`.
    ///
    /// Real values are 68 characters of base64 in either alphabet.
    SPappId, "s_pappid", 1, 128,
    |c| c.is_ascii_alphanumeric() || matches!(c, '_' | '-' | '+' | '/' | '='),
    "base64 characters"
);

string_id!(
    /// A Weixin application id: Official Account, Mini Program or Open Platform (App).
    AppId, "appid", 3, 32, |c| c.is_ascii_alphanumeric(), "ASCII letters and digits"
);

string_id!(
    /// An invoice card template id returned by `createcard`.
    CardId, "card_id", 1, 64, token_char, "ASCII letters, digits, '_' and '-'"
);

string_id!(
    /// The code of one inserted invoice card (returned by `insert`); not the tax invoice number.
    CardCode, "code", 1, 64, token_char, "ASCII letters, digits, '_' and '-'"
);

string_id!(
    /// A buyer's openid under the merchant's Official Account.
    OpenId, "openid", 1, 64, token_char, "ASCII letters, digits, '_' and '-'"
);

string_id!(
    /// An uploaded PDF's `s_media_id` (valid three days unless attached to a card).
    MediaId, "s_media_id", 1, 128, token_char, "ASCII letters, digits, '_' and '-'"
);

string_id!(
    /// The configured key of one invoicing entity (seller), e.g. `store-01`.
    SellerId, "seller", 1, 32,
    |c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_' || c == '-',
    "lower-case ASCII letters, digits, '_' and '-'"
);

string_id!(
    /// The idempotency key of one issue or reversal request at the tax platform.
    ///
    /// At most 20 ASCII letters and digits, which every platform seen accepts as its request
    /// serial (Nuonuo `orderNo`).
    IssueKey, "issue_key", 1, 20, |c| c.is_ascii_alphanumeric(), "ASCII letters and digits"
);

string_id!(
    /// A tax platform's own reference for a submitted request (e.g. Nuonuo `invoiceSerialNum`).
    ProviderRef, "provider_ref", 1, 64, token_char, "ASCII letters, digits, '_' and '-'"
);

string_id!(
    /// The token in a printed QR code's short URL (`/q/{token}`).
    QrToken, "qr_token", 8, 32, |c| c.is_ascii_alphanumeric(), "ASCII letters and digits"
);

/// The key of an invoice order: Weixin scopes `order_id` by the platform id.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct OrderKey {
    /// The invoicing platform id the order was authorized under.
    pub s_pappid: SPappId,
    /// The merchant's order id.
    pub order_id: OrderId,
}

impl fmt::Display for OrderKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.order_id.as_str())
    }
}

#[cfg(test)]
mod tests;
