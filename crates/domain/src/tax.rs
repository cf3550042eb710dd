//! Tax rates and the per-line tax arithmetic of a Chinese VAT invoice.
//!
//! A line's amount is split into 金额 (excluding tax) and 税额 exactly the way the invoicing
//! platforms and the real invoices do it, rounding half-up to the fen:
//!
//! - tax-exclusive: `税额 = round2(金额 × r)`;
//! - tax-inclusive: `金额 = round2(含税金额 / (1 + r))`, `税额 = 含税金额 − 金额`, so the two
//!   parts add up to the inclusive amount exactly.
//!
//! The tolerances the tax-control clients enforce are checked here too: `|金额 × r − 税额| ≤ 0.06`
//! per line, `|round2(数量 × 单价) − 金额| ≤ 0.01` per line, and the per-line errors, each rounded
//! to the fen, summing to at most ±1.27 per invoice.

use rust_decimal::Decimal;
use serde::{Deserialize, Serialize};

use crate::money::{Fen, Quantity, UnitPrice, round2};
use crate::newtype::newtype_glue;

/// Largest `|金额 × r − 税额|` a line may have ("税额允许误差为0.06").
pub const LINE_TAX_TOLERANCE: Fen = Fen::new(6);

/// Largest `|Σ round2(金额 × r − 税额)|` over an invoice ("税额总误差超过1.27，请重新拆分").
pub const INVOICE_TAX_TOLERANCE: Fen = Fen::new(127);

/// Largest `|round2(数量 × 单价) − 金额|` of a line.
pub const QUANTITY_PRICE_TOLERANCE: Fen = Fen::new(1);

/// The rates an invoice line may carry, as `(thousandths, code)`.
const PERCENT_RATES: [(u16, &str); 9] = [
    (130, "0.13"),
    (90, "0.09"),
    (60, "0.06"),
    (50, "0.05"),
    (30, "0.03"),
    (15, "0.015"),
    (10, "0.01"),
    (5, "0.005"),
    (0, "0"),
];

const ALLOWED_RATES: &str =
    "0.13, 0.09, 0.06, 0.05, 0.03, 0.015, 0.01, 0.005, 0, export_zero, exempt, not_taxable";

/// A tax rule was broken.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxError {
    /// The text is not one of the allowed rates.
    #[error("tax_rate: {input:?} is not an allowed rate (allowed: {ALLOWED_RATES})")]
    UnknownRate {
        /// The rejected text.
        input: String,
    },
    /// `|金额 × r − 税额|` is beyond [`LINE_TAX_TOLERANCE`].
    #[error("|金额 × 税率 − 税额| = {difference} exceeds the 0.06 tolerance")]
    LineTolerance {
        /// `|金额 × r − 税额|` in yuan.
        difference: Decimal,
    },
    /// `|round2(数量 × 单价) − 金额|` is beyond [`QUANTITY_PRICE_TOLERANCE`].
    #[error(
        "|round2(数量 × 单价) − 金额| = |{computed} − {amount}| = {difference} exceeds the 0.01 tolerance"
    )]
    QuantityPrice {
        /// `round2(数量 × 单价)`.
        computed: Fen,
        /// The amount given.
        amount: Fen,
        /// The absolute difference.
        difference: Fen,
    },
    /// The per-line rounding errors add up beyond [`INVOICE_TAX_TOLERANCE`].
    #[error(
        "Σ round2(金额 × 税率 − 税额) over all lines = {sum} exceeds the ±1.27 tolerance; split the invoice"
    )]
    InvoiceTolerance {
        /// The sum.
        sum: Fen,
    },
    /// A zero-rate, exempt or non-taxable line with tax.
    #[error("税额 must be 0.00 at rate {rate}, got {tax}")]
    TaxOnZeroRate {
        /// The rate.
        rate: TaxRate,
        /// The tax found.
        tax: Fen,
    },
    /// An amount too large to compute.
    #[error("{what} is out of range")]
    Overflow {
        /// What overflowed, in words.
        what: &'static str,
    },
}

/// A VAT rate or levy rate of an invoice line, or one of the zero-rate marks.
///
/// The face shows [`TaxRate::label`]; platforms take [`TaxRate::code`] (or map it to their own
/// flags, which is an adapter's job).
#[derive(Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
pub struct TaxRate(Rate);

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
enum Rate {
    // Invariant: one of the thousandths in PERCENT_RATES.
    Percent(u16),
    ExportZero,
    Exempt,
    NotTaxable,
}

impl TaxRate {
    /// 13 %: goods, processing, repairs, tangible movable property leasing.
    pub const P13: TaxRate = TaxRate(Rate::Percent(130));
    /// 9 %: transport, post, basic telecoms, construction, real estate, certain goods.
    pub const P9: TaxRate = TaxRate(Rate::Percent(90));
    /// 6 %: modern and lifestyle services (catering, accommodation, IT services …).
    pub const P6: TaxRate = TaxRate(Rate::Percent(60));
    /// 5 % levy rate (simplified method).
    pub const P5: TaxRate = TaxRate(Rate::Percent(50));
    /// 3 % levy rate (small-scale taxpayers).
    pub const P3: TaxRate = TaxRate(Rate::Percent(30));
    /// 1 % levy rate (small-scale reduced).
    pub const P1: TaxRate = TaxRate(Rate::Percent(10));
    /// 1.5 % levy rate (5 % reduced to 1.5 %).
    pub const P1_5: TaxRate = TaxRate(Rate::Percent(15));
    /// 0.5 % levy rate (used-car dealers).
    pub const P0_5: TaxRate = TaxRate(Rate::Percent(5));
    /// Ordinary zero rate (普通零税率).
    pub const ZERO: TaxRate = TaxRate(Rate::Percent(0));
    /// Export zero rate (出口零税率).
    pub const EXPORT_ZERO: TaxRate = TaxRate(Rate::ExportZero);
    /// Exempt (免税): tax 0, printed `免税` / `***`.
    pub const EXEMPT: TaxRate = TaxRate(Rate::Exempt);
    /// Not taxable (不征税): tax 0, printed `不征税` / `***`.
    pub const NOT_TAXABLE: TaxRate = TaxRate(Rate::NotTaxable);

    /// Parses `"0.13"`, `"13%"`, `"0.015"`, `"1.5%"`, `"0"`, `"exempt"`/`"免税"`,
    /// `"not_taxable"`/`"不征税"`, `"export_zero"`/`"出口零税率"`.
    ///
    /// # Errors
    /// [`TaxError::UnknownRate`] listing the allowed rates.
    pub fn parse(input: &str) -> Result<TaxRate, TaxError> {
        let unknown = || TaxError::UnknownRate {
            input: input.to_owned(),
        };
        match input {
            "exempt" | "免税" => return Ok(TaxRate::EXEMPT),
            "not_taxable" | "不征税" => return Ok(TaxRate::NOT_TAXABLE),
            "export_zero" | "出口零税率" => return Ok(TaxRate::EXPORT_ZERO),
            _ => {}
        }
        let (number, percent) = match input.strip_suffix('%') {
            Some(number) => (number, true),
            None => (input, false),
        };
        let (integer, fraction) = number.split_once('.').unwrap_or((number, ""));
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if integer.is_empty()
            || !digits(integer)
            || !digits(fraction)
            || (number.contains('.') && fraction.is_empty())
        {
            return Err(unknown());
        }
        let value = Decimal::from_str_exact(number).map_err(|_| unknown())?;
        let fraction = if percent {
            value
                .checked_div(Decimal::ONE_HUNDRED)
                .ok_or_else(unknown)?
        } else {
            value
        };
        PERCENT_RATES
            .iter()
            .find(|(thousandths, _)| Decimal::new(i64::from(*thousandths), 3) == fraction)
            .map(|(thousandths, _)| TaxRate(Rate::Percent(*thousandths)))
            .ok_or_else(unknown)
    }

    /// The rate as a fraction (`0.13`); 0 for the zero rates, exempt and not taxable.
    pub fn fraction(&self) -> Decimal {
        match self.0 {
            Rate::Percent(thousandths) => Decimal::new(i64::from(thousandths), 3).normalize(),
            Rate::ExportZero | Rate::Exempt | Rate::NotTaxable => Decimal::ZERO,
        }
    }

    /// The face text of the 税率/征收率 column: `"13%"`, `"1.5%"`, `"0%"`, `"免税"`, `"不征税"`.
    pub fn label(&self) -> String {
        match self.0 {
            Rate::Percent(thousandths) => {
                format!("{}%", Decimal::new(i64::from(thousandths), 1).normalize())
            }
            Rate::ExportZero => "0%".to_owned(),
            Rate::Exempt => "免税".to_owned(),
            Rate::NotTaxable => "不征税".to_owned(),
        }
    }

    /// The canonical code: `"0.13"`, `"0.015"`, `"0"`, `"export_zero"`, `"exempt"`,
    /// `"not_taxable"`; [`TaxRate::parse`] reads it back.
    pub fn code(&self) -> String {
        match self.0 {
            Rate::Percent(thousandths) => PERCENT_RATES
                .iter()
                .find(|(t, _)| *t == thousandths)
                .map_or_else(
                    || {
                        Decimal::new(i64::from(thousandths), 3)
                            .normalize()
                            .to_string()
                    },
                    |(_, code)| (*code).to_owned(),
                ),
            Rate::ExportZero => "export_zero".to_owned(),
            Rate::Exempt => "exempt".to_owned(),
            Rate::NotTaxable => "not_taxable".to_owned(),
        }
    }

    /// A percent rate in thousandths (13 % is 130, 0 % is 0); `None` for export zero, exempt
    /// and not taxable.
    pub fn thousandths(&self) -> Option<u16> {
        match self.0 {
            Rate::Percent(thousandths) => Some(thousandths),
            Rate::ExportZero | Rate::Exempt | Rate::NotTaxable => None,
        }
    }

    /// Whether the face prints `***` for the tax (exempt and not taxable).
    pub fn is_tax_free_mark(&self) -> bool {
        matches!(self.0, Rate::Exempt | Rate::NotTaxable)
    }

    /// Whether the line's tax is always zero (zero rates, exempt, not taxable).
    pub fn is_zero(&self) -> bool {
        self.fraction().is_zero()
    }
}

newtype_glue!(text TaxRate, TaxError, code);

/// Whether a line's unit price and amount include tax (含税标志).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum PriceBasis {
    /// Price and amount include tax; the domain splits them.
    TaxInclusive,
    /// Price and amount exclude tax; tax is added.
    TaxExclusive,
}

/// The role of a line with respect to discounts (发票行性质).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum LineKind {
    /// An ordinary line (正常行).
    Normal,
    /// A line followed by its discount line (被折扣行).
    Discounted,
    /// The negative discount line directly after a discounted line (折扣行).
    Discount,
}

/// A line amount split into 金额 (excluding tax) and 税额.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TaxSplit {
    /// 金额, excluding tax.
    pub amount_excl: Fen,
    /// 税额.
    pub tax: Fen,
}

impl TaxSplit {
    /// 金额 + 税额 (价税合计 of the line), `None` on overflow.
    pub fn total(&self) -> Option<Fen> {
        self.amount_excl.checked_add(self.tax)
    }
}

/// Splits a line amount given on `basis` into 金额 and 税额 at `rate` (§2.3 of the domain notes).
///
/// Signs carry through: a negative (red or discount) amount gives a negative split, rounded
/// symmetrically.
///
/// # Errors
/// [`TaxError::Overflow`] when the amount is too large to compute.
pub fn split(amount: Fen, basis: PriceBasis, rate: TaxRate) -> Result<TaxSplit, TaxError> {
    let overflow = TaxError::Overflow {
        what: "the line amount",
    };
    let r = rate.fraction();
    match basis {
        PriceBasis::TaxExclusive => {
            let tax = amount.to_decimal().checked_mul(r).ok_or(overflow.clone())?;
            let tax = Fen::round_half_up(tax).map_err(|_| overflow)?;
            Ok(TaxSplit {
                amount_excl: amount,
                tax,
            })
        }
        PriceBasis::TaxInclusive => {
            let divisor = Decimal::ONE + r;
            let excl = amount
                .to_decimal()
                .checked_div(divisor)
                .ok_or(overflow.clone())?;
            let amount_excl = Fen::round_half_up(excl).map_err(|_| overflow.clone())?;
            let tax = amount.checked_sub(amount_excl).ok_or(overflow)?;
            Ok(TaxSplit { amount_excl, tax })
        }
    }
}

/// `金额 × r − 税额` in yuan, unrounded: how far a line's tax is from the exact product.
///
/// # Errors
/// [`TaxError::Overflow`] when the amount is too large to compute.
pub fn tax_difference(amount_excl: Fen, tax: Fen, rate: TaxRate) -> Result<Decimal, TaxError> {
    amount_excl
        .to_decimal()
        .checked_mul(rate.fraction())
        .and_then(|exact| exact.checked_sub(tax.to_decimal()))
        .ok_or(TaxError::Overflow {
            what: "金额 × 税率",
        })
}

/// Checks one line's tax: `|金额 × r − 税额| ≤ 0.06` ("> 0.06 fails"), and tax 0 on zero rates,
/// exempt and non-taxable lines. Returns `金额 × r − 税额` for the invoice-level sum.
///
/// # Errors
/// [`TaxError::LineTolerance`], [`TaxError::TaxOnZeroRate`] or [`TaxError::Overflow`].
pub fn check_line_tax(amount_excl: Fen, tax: Fen, rate: TaxRate) -> Result<Decimal, TaxError> {
    if rate.is_zero() && !tax.is_zero() {
        return Err(TaxError::TaxOnZeroRate { rate, tax });
    }
    let difference = tax_difference(amount_excl, tax, rate)?;
    if difference.abs() > LINE_TAX_TOLERANCE.to_decimal() {
        return Err(TaxError::LineTolerance {
            difference: difference.abs().normalize(),
        });
    }
    Ok(difference)
}

/// `round2(数量 × 单价)`, the amount a quantity and a unit price imply.
///
/// # Errors
/// [`TaxError::Overflow`] when the product does not fit exactly.
pub fn extend(quantity: Quantity, price: UnitPrice) -> Result<Fen, TaxError> {
    let overflow = TaxError::Overflow {
        what: "数量 × 单价",
    };
    let product = quantity
        .get()
        .checked_mul(price.get())
        .ok_or(overflow.clone())?;
    // A product that needs more than 28 significant digits comes back rounded, with a smaller
    // scale; its rounding to the fen could then be off, so refuse it.
    if product.scale() != quantity.get().scale() + price.get().scale() {
        return Err(overflow);
    }
    Fen::round_half_up(product).map_err(|_| overflow)
}

/// Checks `|round2(数量 × 单价) − 金额| ≤ 0.01` for an amount given next to its quantity and
/// price (both on the same price basis).
///
/// # Errors
/// [`TaxError::QuantityPrice`] or [`TaxError::Overflow`].
pub fn check_quantity_price(
    quantity: Quantity,
    price: UnitPrice,
    amount: Fen,
) -> Result<(), TaxError> {
    let computed = extend(quantity, price)?;
    let difference = computed
        .checked_sub(amount)
        .and_then(Fen::checked_abs)
        .ok_or(TaxError::Overflow {
            what: "round2(数量 × 单价) − 金额",
        })?;
    if difference > QUANTITY_PRICE_TOLERANCE {
        return Err(TaxError::QuantityPrice {
            computed,
            amount,
            difference,
        });
    }
    Ok(())
}

/// Checks the invoice-level rule: the per-line differences `金额 × r − 税额`, each rounded
/// half-up to the fen, sum to at most ±1.27. Returns the sum.
///
/// # Errors
/// [`TaxError::InvoiceTolerance`] or [`TaxError::Overflow`].
pub fn check_invoice_tax(differences: impl IntoIterator<Item = Decimal>) -> Result<Fen, TaxError> {
    let overflow = TaxError::Overflow {
        what: "the sum of tax differences",
    };
    let mut sum = Fen::ZERO;
    for difference in differences {
        let rounded = Fen::from_decimal_exact(round2(difference)).map_err(|_| overflow.clone())?;
        sum = sum.checked_add(rounded).ok_or(overflow.clone())?;
    }
    if sum
        .checked_abs()
        .is_none_or(|abs| abs > INVOICE_TAX_TOLERANCE)
    {
        return Err(TaxError::InvoiceTolerance { sum });
    }
    Ok(sum)
}

#[cfg(test)]
mod tests;
