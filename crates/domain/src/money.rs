//! Money and the two decimals that produce it: [`Fen`] (integer 0.01 yuan, like Weixin's `money`,
//! `fee` and `tax`), [`UnitPrice`] and [`Quantity`] (exact decimals with at most 8 fractional
//! digits, the precision every invoicing platform accepts).
//!
//! No floats anywhere: amounts are integers, prices and quantities are `rust_decimal` values, and
//! every operation that could overflow is checked.

use std::fmt;

use rust_decimal::prelude::ToPrimitive;
use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::capital;
use crate::newtype::newtype_glue;

/// Most fractional digits a [`UnitPrice`] or [`Quantity`] may carry (Nuonuo and legacy
/// tax-control clients: "精确到小数点后8位").
pub const MAX_DECIMALS: u32 = 8;

/// A money value or a decimal failed its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum MoneyError {
    /// The text is not a plain decimal number.
    #[error(
        "{field}: {input:?} is not a decimal number (expected digits, an optional leading '-' and an optional '.' with digits after it)"
    )]
    Syntax {
        /// The field, e.g. `amount`.
        field: &'static str,
        /// The rejected text.
        input: String,
    },
    /// Too many fractional digits.
    #[error("{field}: {input} has {decimals} decimal places, at most {max} are allowed")]
    TooManyDecimals {
        /// The field.
        field: &'static str,
        /// The value as given.
        input: String,
        /// Its fractional digits.
        decimals: u32,
        /// The limit.
        max: u32,
    },
    /// The value does not fit.
    #[error("{field}: {input} is out of range")]
    OutOfRange {
        /// The field.
        field: &'static str,
        /// The value as given.
        input: String,
    },
    /// A unit price that is zero or negative.
    #[error("unit_price: must be positive, got {value}")]
    NonPositivePrice {
        /// The rejected price.
        value: Decimal,
    },
    /// A zero quantity.
    #[error("quantity: must not be zero")]
    ZeroQuantity,
}

/// An amount in fen (0.01 yuan), signed: negative only on red invoices and discount lines.
#[derive(
    Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash, Debug, Serialize, Deserialize,
)]
#[serde(transparent)]
pub struct Fen(i64);

impl Fen {
    /// Zero fen.
    pub const ZERO: Fen = Fen(0);

    /// An amount from a count of fen.
    pub const fn new(fen: i64) -> Self {
        Self(fen)
    }

    /// The count of fen.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// `self + other`, `None` on overflow.
    pub const fn checked_add(self, other: Fen) -> Option<Fen> {
        match self.0.checked_add(other.0) {
            Some(sum) => Some(Fen(sum)),
            None => None,
        }
    }

    /// `self − other`, `None` on overflow.
    pub const fn checked_sub(self, other: Fen) -> Option<Fen> {
        match self.0.checked_sub(other.0) {
            Some(difference) => Some(Fen(difference)),
            None => None,
        }
    }

    /// `−self`, `None` for `i64::MIN` fen.
    pub const fn checked_neg(self) -> Option<Fen> {
        match self.0.checked_neg() {
            Some(negated) => Some(Fen(negated)),
            None => None,
        }
    }

    /// `|self|`, `None` for `i64::MIN` fen.
    pub const fn checked_abs(self) -> Option<Fen> {
        match self.0.checked_abs() {
            Some(abs) => Some(Fen(abs)),
            None => None,
        }
    }

    /// The sum of `amounts`, `None` on overflow.
    pub fn checked_sum(amounts: impl IntoIterator<Item = Fen>) -> Option<Fen> {
        amounts
            .into_iter()
            .try_fold(Fen::ZERO, |sum, amount| sum.checked_add(amount))
    }

    /// Whether the amount is below zero.
    pub const fn is_negative(self) -> bool {
        self.0 < 0
    }

    /// Whether the amount is above zero.
    pub const fn is_positive(self) -> bool {
        self.0 > 0
    }

    /// Whether the amount is zero.
    pub const fn is_zero(self) -> bool {
        self.0 == 0
    }

    /// Parses a decimal yuan amount: `"12.34"`, `"-0.5"`, `"100"`.
    ///
    /// At most two decimals; no exponent, no spaces, no `+`, no thousands separators.
    ///
    /// # Errors
    /// [`MoneyError`] for bad syntax, more than two decimals, or a value beyond `i64` fen.
    pub fn parse_yuan(input: &str) -> Result<Fen, MoneyError> {
        const FIELD: &str = "amount";
        let (negative, integer, fraction) = split_decimal(FIELD, input)?;
        if fraction.len() > 2 {
            return Err(MoneyError::TooManyDecimals {
                field: FIELD,
                input: input.to_owned(),
                decimals: u32::try_from(fraction.len()).unwrap_or(u32::MAX),
                max: 2,
            });
        }
        let out_of_range = || MoneyError::OutOfRange {
            field: FIELD,
            input: input.to_owned(),
        };
        // Accumulate negatively so that i64::MIN fen parses too.
        let mut fen: i64 = 0;
        let fraction_digits = fraction.bytes().chain(std::iter::repeat(b'0')).take(2);
        for digit in integer.bytes().chain(fraction_digits) {
            fen = fen
                .checked_mul(10)
                .and_then(|fen| fen.checked_sub(i64::from(digit - b'0')))
                .ok_or_else(out_of_range)?;
        }
        let fen = if negative {
            fen
        } else {
            fen.checked_neg().ok_or_else(out_of_range)?
        };
        Ok(Fen(fen))
    }

    /// The amount as a yuan string with two decimals: `"12.34"`, `"-0.05"`, `"0.00"`.
    pub fn to_yuan_string(self) -> String {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        format!("{sign}{}.{:02}", abs / 100, abs % 100)
    }

    /// The amount as an exact decimal of yuan with scale 2.
    pub fn to_decimal(self) -> Decimal {
        Decimal::new(self.0, 2)
    }

    /// The amount of a decimal yuan value that is a whole number of fen.
    ///
    /// # Errors
    /// [`MoneyError::TooManyDecimals`] when the value has a fraction of a fen,
    /// [`MoneyError::OutOfRange`] beyond `i64` fen.
    pub fn from_decimal_exact(yuan: Decimal) -> Result<Fen, MoneyError> {
        const FIELD: &str = "amount";
        let normalized = yuan.normalize();
        if normalized.scale() > 2 {
            return Err(MoneyError::TooManyDecimals {
                field: FIELD,
                input: normalized.to_string(),
                decimals: normalized.scale(),
                max: 2,
            });
        }
        normalized
            .checked_mul(Decimal::ONE_HUNDRED)
            .and_then(|fen| fen.to_i64())
            .map(Fen)
            .ok_or_else(|| MoneyError::OutOfRange {
                field: FIELD,
                input: normalized.to_string(),
            })
    }

    /// `yuan` rounded half-up to the fen (a midpoint goes away from zero: 0.005 → 0.01,
    /// −0.005 → −0.01), the rounding every invoicing platform uses.
    ///
    /// # Errors
    /// [`MoneyError::OutOfRange`] beyond `i64` fen.
    pub fn round_half_up(yuan: Decimal) -> Result<Fen, MoneyError> {
        Fen::from_decimal_exact(round2(yuan))
    }

    /// The amount in capital numerals as printed on an invoice (价税合计（大写）), e.g.
    /// `壹万肆仟圆整`, `（负数）壹万肆仟圆整`; see [`capital::amount_in_words`].
    pub fn in_words(self) -> String {
        capital::amount_in_words(self)
    }
}

impl fmt::Display for Fen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.to_yuan_string())
    }
}

/// `value` rounded half-up (away from zero) to two decimals.
pub(crate) fn round2(value: Decimal) -> Decimal {
    value.round_dp_with_strategy(2, RoundingStrategy::MidpointAwayFromZero)
}

/// Splits a plain decimal into sign, integer digits and fraction digits, rejecting anything but
/// `-?[0-9]+(\.[0-9]+)?`.
fn split_decimal<'a>(
    field: &'static str,
    input: &'a str,
) -> Result<(bool, &'a str, &'a str), MoneyError> {
    let syntax = || MoneyError::Syntax {
        field,
        input: input.to_owned(),
    };
    let (negative, unsigned) = match input.strip_prefix('-') {
        Some(rest) => (true, rest),
        None => (false, input),
    };
    let (integer, fraction) = match unsigned.split_once('.') {
        Some((integer, fraction)) if !fraction.is_empty() => (integer, fraction),
        Some(_) => return Err(syntax()),
        None => (unsigned, ""),
    };
    let all_digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
    if integer.is_empty() || !all_digits(integer) || !all_digits(fraction) {
        return Err(syntax());
    }
    Ok((negative, integer, fraction))
}

/// Parses a plain decimal (`-?[0-9]+(\.[0-9]+)?`) exactly, normalised (trailing zeros dropped),
/// with at most [`MAX_DECIMALS`] significant fractional digits.
fn parse_decimal(field: &'static str, input: &str) -> Result<Decimal, MoneyError> {
    split_decimal(field, input)?;
    let value = Decimal::from_str_exact(input).map_err(|_| MoneyError::OutOfRange {
        field,
        input: input.to_owned(),
    })?;
    check_decimals(field, value)
}

fn check_decimals(field: &'static str, value: Decimal) -> Result<Decimal, MoneyError> {
    let normalized = value.normalize();
    if normalized.scale() > MAX_DECIMALS {
        return Err(MoneyError::TooManyDecimals {
            field,
            input: value.to_string(),
            decimals: normalized.scale(),
            max: MAX_DECIMALS,
        });
    }
    Ok(normalized)
}

/// A unit price (单价): positive, at most 8 fractional digits, on whichever price basis the line
/// states. Displayed and serialised as a string with trailing zeros trimmed (`"8.85"`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
// Invariant: > 0, normalised, scale ≤ MAX_DECIMALS.
pub struct UnitPrice(Decimal);

impl UnitPrice {
    /// Parses a price such as `"8.85"` or `"33.33333333"`.
    ///
    /// # Errors
    /// [`MoneyError`] for bad syntax, more than 8 decimals, or a price ≤ 0.
    pub fn parse(input: &str) -> Result<Self, MoneyError> {
        Self::new(parse_decimal("unit_price", input)?)
    }

    /// A price from a decimal.
    ///
    /// # Errors
    /// [`MoneyError`] for more than 8 significant decimals or a price ≤ 0.
    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        let value = check_decimals("unit_price", value)?;
        if value <= Decimal::ZERO {
            return Err(MoneyError::NonPositivePrice { value });
        }
        Ok(Self(value))
    }

    /// The price as a decimal.
    pub fn get(self) -> Decimal {
        self.0
    }
}

newtype_glue!(decimal UnitPrice, MoneyError);

/// A quantity (数量): non-zero, at most 8 fractional digits; negative only on red invoices (the
/// invoice lines check the sign against the direction). Displayed and serialised as a string
/// with trailing zeros trimmed (`"3"`, `"-0.5"`).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
// Invariant: ≠ 0, normalised, scale ≤ MAX_DECIMALS.
pub struct Quantity(Decimal);

impl Quantity {
    /// Parses a quantity such as `"3"`, `"0.5"` or `"-2"`.
    ///
    /// # Errors
    /// [`MoneyError`] for bad syntax, more than 8 decimals, or zero.
    pub fn parse(input: &str) -> Result<Self, MoneyError> {
        Self::new(parse_decimal("quantity", input)?)
    }

    /// A quantity from a decimal.
    ///
    /// # Errors
    /// [`MoneyError`] for more than 8 significant decimals or zero.
    pub fn new(value: Decimal) -> Result<Self, MoneyError> {
        let value = check_decimals("quantity", value)?;
        if value.is_zero() {
            return Err(MoneyError::ZeroQuantity);
        }
        Ok(Self(value))
    }

    /// The quantity as a decimal.
    pub fn get(self) -> Decimal {
        self.0
    }

    /// Whether the quantity is below zero (red invoices).
    pub fn is_negative(self) -> bool {
        self.0.is_sign_negative()
    }

    /// The quantity with its sign flipped.
    pub fn negated(self) -> Quantity {
        Quantity(-self.0)
    }

    /// Whether the quantity is a whole number (Weixin cards show `num` only then).
    pub fn is_integer(self) -> bool {
        self.0.fract().is_zero()
    }
}

newtype_glue!(decimal Quantity, MoneyError);

#[cfg(test)]
mod tests;
