//! The record of an issued invoice: its number, the red-letter link and reason, and
//! [`IssuedInvoice`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{InvoiceError, InvoiceKind, Totals, check_digits};
use crate::ids::ProviderRef;
use crate::time::Timestamp;

/// The number of an issued invoice.
///
/// Build it with [`InvoiceNumber::digital`] or [`InvoiceNumber::legacy`], which check the
/// formats; deserialising runs the same checks. Serialised as the 20-digit string for 数电 and
/// as `{"code", "number", "check_code"}` for legacy invoices.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "InvoiceNumberRepr", into = "InvoiceNumberRepr")]
pub enum InvoiceNumber {
    /// A 数电 number: 20 digits.
    Digital(String),
    /// A legacy tax-control invoice.
    Legacy {
        /// 发票代码: 10 or 12 digits.
        code: String,
        /// 发票号码: 8 digits.
        number: String,
        /// 校验码: 20 digits.
        check_code: String,
    },
}

impl InvoiceNumber {
    /// A 数电 number (`^[0-9]{20}$`).
    ///
    /// # Errors
    /// [`InvoiceError::Field`] naming the position or the length.
    pub fn digital(number: &str) -> Result<InvoiceNumber, InvoiceError> {
        check_digits("invoice_number", number, &[20])?;
        Ok(InvoiceNumber::Digital(number.to_owned()))
    }

    /// A legacy number: code of 10 or 12 digits, number of 8, check code of 20.
    ///
    /// # Errors
    /// [`InvoiceError::Field`] naming the part and the position or length.
    pub fn legacy(
        code: &str,
        number: &str,
        check_code: &str,
    ) -> Result<InvoiceNumber, InvoiceError> {
        check_digits("invoice_code", code, &[10, 12])?;
        check_digits("invoice_number", number, &[8])?;
        check_digits("check_code", check_code, &[20])?;
        Ok(InvoiceNumber::Legacy {
            code: code.to_owned(),
            number: number.to_owned(),
            check_code: check_code.to_owned(),
        })
    }

    /// The number Weixin calls `billing_no`: the 20 digits, or the legacy 8-digit number.
    pub fn billing_no(&self) -> &str {
        match self {
            InvoiceNumber::Digital(number) | InvoiceNumber::Legacy { number, .. } => number,
        }
    }

    /// The code Weixin calls `billing_code`: empty for 数电.
    pub fn billing_code(&self) -> &str {
        match self {
            InvoiceNumber::Digital(_) => "",
            InvoiceNumber::Legacy { code, .. } => code,
        }
    }

    /// The 校验码: empty for 数电.
    pub fn check_code(&self) -> &str {
        match self {
            InvoiceNumber::Digital(_) => "",
            InvoiceNumber::Legacy { check_code, .. } => check_code,
        }
    }
}

impl fmt::Display for InvoiceNumber {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            InvoiceNumber::Digital(number) => f.write_str(number),
            InvoiceNumber::Legacy { code, number, .. } => write!(f, "{code}-{number}"),
        }
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum InvoiceNumberRepr {
    Digital(String),
    Legacy {
        code: String,
        number: String,
        check_code: String,
    },
}

impl TryFrom<InvoiceNumberRepr> for InvoiceNumber {
    type Error = InvoiceError;
    fn try_from(repr: InvoiceNumberRepr) -> Result<Self, InvoiceError> {
        match repr {
            InvoiceNumberRepr::Digital(number) => InvoiceNumber::digital(&number),
            InvoiceNumberRepr::Legacy {
                code,
                number,
                check_code,
            } => InvoiceNumber::legacy(&code, &number, &check_code),
        }
    }
}

impl From<InvoiceNumber> for InvoiceNumberRepr {
    fn from(number: InvoiceNumber) -> Self {
        match number {
            InvoiceNumber::Digital(number) => InvoiceNumberRepr::Digital(number),
            InvoiceNumber::Legacy {
                code,
                number,
                check_code,
            } => InvoiceNumberRepr::Legacy {
                code,
                number,
                check_code,
            },
        }
    }
}

/// Why an invoice is reversed, in the STA's numbering (Nuonuo numbers them differently; that
/// mapping belongs to its adapter).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum RedReason {
    /// 01 开票有误: full reversal only.
    InvoicingError,
    /// 02 销货退回.
    SalesReturn,
    /// 03 服务中止.
    ServiceTermination,
    /// 04 销售折让.
    SalesAllowance,
}

impl RedReason {
    /// The STA code, `"01"` to `"04"`.
    pub fn sta_code(self) -> &'static str {
        match self {
            RedReason::InvoicingError => "01",
            RedReason::SalesReturn => "02",
            RedReason::ServiceTermination => "03",
            RedReason::SalesAllowance => "04",
        }
    }

    /// The reason from its STA code.
    pub fn from_sta_code(code: &str) -> Option<RedReason> {
        match code {
            "01" => Some(RedReason::InvoicingError),
            "02" => Some(RedReason::SalesReturn),
            "03" => Some(RedReason::ServiceTermination),
            "04" => Some(RedReason::SalesAllowance),
            _ => None,
        }
    }

    /// The Chinese label: 开票有误, 销货退回, 服务中止, 销售折让.
    pub fn label(self) -> &'static str {
        match self {
            RedReason::InvoicingError => "开票有误",
            RedReason::SalesReturn => "销货退回",
            RedReason::ServiceTermination => "服务中止",
            RedReason::SalesAllowance => "销售折让",
        }
    }

    /// Whether a partial reversal may use this reason (开票有误 allows only a full one).
    pub fn allows_partial(self) -> bool {
        self != RedReason::InvoicingError
    }
}

/// The link from a red invoice to the blue invoice it reverses.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct RedLink {
    /// The blue invoice's number.
    pub original: InvoiceNumber,
    /// The red confirmation form (红字发票信息确认单) number, when one was used.
    pub red_form_number: Option<String>,
    /// Why.
    pub reason: RedReason,
}

/// An invoice the tax platform has issued.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuedInvoice {
    /// Its number.
    pub number: InvoiceNumber,
    /// 普票 or 专票.
    pub kind: InvoiceKind,
    /// When it was issued.
    pub issued_at: Timestamp,
    /// Its totals (negative for a red invoice).
    pub totals: Totals,
    /// The QR code payload, when the platform returned one.
    pub qr_payload: Option<String>,
    /// The platform's reference (serial), when it has one.
    pub provider_ref: Option<ProviderRef>,
    /// For a red invoice, the blue invoice it reverses.
    pub red_of: Option<RedLink>,
}
