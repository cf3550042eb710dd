//! The tax invoice: lines and their tax arithmetic, the draft sent to an issuer, the number and
//! record of an issued invoice, and the red-letter (reversal) link.
//!
//! [`InvoiceLines::compute`] is the one place where 金额 and 税额 are computed; adapters send what
//! it computed and never recompute, so the platform issues exactly what the customer was shown.

mod draft;
mod issued;
mod item;
mod lines;

pub use draft::{InvoiceDraft, InvoiceKind, normalize_remark};
pub use issued::{InvoiceNumber, IssuedInvoice, RedLink, RedReason};
pub use item::{ItemName, LineInput, TaxCategory, TaxCategoryCode};
pub use lines::{Direction, InvoiceLine, InvoiceLines, Totals};

use crate::money::Fen;
use crate::tax::TaxError;

/// Most lines on one 数电 invoice, discount and discounted lines included.
pub const MAX_LINES: usize = 2000;
/// Longest item name (项目名称 without the `*简称*` prefix), in characters.
pub const ITEM_NAME_MAX_CHARS: usize = 90;
/// Longest 规格型号, in characters.
pub const SPEC_MAX_CHARS: usize = 40;
/// Longest 单位, in characters.
pub const UNIT_MAX_CHARS: usize = 20;
/// Longest 备注 of a 数电 invoice, in characters.
pub const REMARK_MAX_CHARS: usize = 200;
/// Longest short name (简称) of a tax category, in characters.
pub const SHORT_NAME_MAX_CHARS: usize = 40;

/// An invoice value broke a rule. Line indexes count from 0 in the order the lines were given.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum InvoiceError {
    /// A field failed its format rule.
    #[error("{field}: {rule}")]
    Field {
        /// The field, e.g. `tax_category_code`.
        field: &'static str,
        /// The rule it broke.
        rule: String,
    },
    /// A line broke a rule.
    #[error("lines[{index}]: {rule}")]
    Line {
        /// 0-based line index.
        index: usize,
        /// The rule, starting with the line's field where there is one.
        rule: String,
    },
    /// A line broke a tax rule.
    #[error("lines[{index}]: {error}")]
    LineTax {
        /// 0-based line index.
        index: usize,
        /// The tax rule.
        error: TaxError,
    },
    /// No lines.
    #[error("lines: an invoice needs at least one line")]
    NoLines,
    /// More than [`MAX_LINES`] lines.
    #[error(
        "lines: {count} lines exceed the limit of 2000 per 数电 invoice (discount lines included)"
    )]
    TooManyLines {
        /// The number of lines given.
        count: usize,
    },
    /// The invoice-level tax rule.
    #[error("lines: {error}")]
    InvoiceTax {
        /// The tax rule.
        error: TaxError,
    },
    /// The sums of the lines do not fit.
    #[error("totals: the sum of the lines is out of range")]
    TotalsOverflow,
    /// Stored totals that differ from the sums of the lines.
    #[error("totals: stored {stored} differ from the sums of the lines, {computed}")]
    TotalsMismatch {
        /// The totals read.
        stored: Totals,
        /// The sums of the lines.
        computed: Totals,
    },
    /// A blue invoice whose total is not positive.
    #[error("totals: a blue invoice's 价税合计 must be positive, got {total}")]
    NonPositiveTotal {
        /// The total.
        total: Fen,
    },
    /// A 专票 without the buyer's taxpayer id.
    #[error("buyer.tax_id: a 专票 (electronic special VAT invoice) needs the buyer's taxpayer id")]
    SpecialInvoiceNeedsBuyerTaxId,
}

fn field_error(field: &'static str, rule: impl Into<String>) -> InvoiceError {
    InvoiceError::Field {
        field,
        rule: rule.into(),
    }
}

/// Checks that `value` is ASCII digits with one of `lengths`.
fn check_digits(field: &'static str, value: &str, lengths: &[usize]) -> Result<(), InvoiceError> {
    if let Some((index, found)) = value.chars().enumerate().find(|(_, c)| !c.is_ascii_digit()) {
        return Err(field_error(
            field,
            format!("character {} is {found:?}, expected a digit", index + 1),
        ));
    }
    if !lengths.contains(&value.len()) {
        let expected = lengths
            .iter()
            .map(usize::to_string)
            .collect::<Vec<_>>()
            .join(" or ");
        return Err(field_error(
            field,
            format!("must be {expected} digits, got {}", value.len()),
        ));
    }
    Ok(())
}

/// Trims an optional text (empty becomes `None`) and checks its length and characters.
fn optional_text(
    field: &'static str,
    value: Option<String>,
    max_chars: usize,
) -> Result<Option<String>, String> {
    let Some(text) = value else {
        return Ok(None);
    };
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    if let Some((index, found)) = text.chars().enumerate().find(|(_, c)| c.is_control()) {
        return Err(format!(
            "{field}: character {} is {found:?}, control characters are not allowed",
            index + 1
        ));
    }
    let chars = text.chars().count();
    if chars > max_chars {
        return Err(format!(
            "{field}: {chars} characters exceed the limit of {max_chars}"
        ));
    }
    Ok(Some(text.to_owned()))
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
