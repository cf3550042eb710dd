//! The tax invoice: lines and their tax arithmetic, the draft sent to an issuer, the number and
//! record of an issued invoice, and the red-letter (reversal) link.
//!
//! [`InvoiceLines::compute`] is the one place where 金额 and 税额 are computed; adapters send what
//! it computed and never recompute, so the platform issues exactly what the customer was shown.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use crate::ids::ProviderRef;
use crate::money::{Fen, Quantity, UnitPrice};
use crate::newtype::newtype_glue;
use crate::party::{Buyer, Seller};
use crate::tax::{self, LineKind, PriceBasis, TaxError, TaxRate};
use crate::time::Timestamp;

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

/// Short names (商品和服务分类简称) of the tax classification codes this crate knows.
///
/// Only codes whose short name is confirmed by real invoices or platform documentation are
/// listed; the STA revises the table, so any other code needs its short name given explicitly.
const SHORT_NAMES: &[(&str, &str)] = &[
    ("1010101070000000000", "谷物"),
    ("3070401000000000000", "餐饮服务"),
    ("3070402000000000000", "住宿服务"),
];

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

/// A 19-digit tax classification code (商品和服务税收分类编码), first digit 1–6.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
// Invariant: 19 ASCII digits, the first one 1–6.
pub struct TaxCategoryCode(String);

impl TaxCategoryCode {
    /// Validates a code.
    ///
    /// # Errors
    /// [`InvoiceError::Field`] naming the position or the length.
    pub fn parse(input: &str) -> Result<TaxCategoryCode, InvoiceError> {
        const FIELD: &str = "tax_category_code";
        check_digits(FIELD, input, &[19])?;
        if !matches!(input.as_bytes().first(), Some(b'1'..=b'6')) {
            return Err(field_error(
                FIELD,
                format!(
                    "character 1 is {:?}, expected 1–6 (1 goods, 2 labour services, 3 services, 4 intangible assets, 5 real estate, 6 non-taxable items)",
                    input.chars().next().unwrap_or('0')
                ),
            ));
        }
        Ok(TaxCategoryCode(input.to_owned()))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The short name of the built-in table, if the code is in it.
    pub fn known_short_name(&self) -> Option<&'static str> {
        SHORT_NAMES
            .iter()
            .find(|(code, _)| *code == self.0)
            .map(|(_, short_name)| *short_name)
    }
}

newtype_glue!(string TaxCategoryCode, InvoiceError, debug = bare);

/// A tax classification code with the short name (简称) printed as `*简称*` before item names.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(try_from = "TaxCategoryRepr", into = "TaxCategoryRepr")]
pub struct TaxCategory {
    code: TaxCategoryCode,
    // Invariant: trimmed, non-empty, ≤ SHORT_NAME_MAX_CHARS, no '*'.
    short_name: String,
}

impl TaxCategory {
    /// A category. Without `short_name` the built-in table supplies it; a given short name wins
    /// over the table (the STA revises it).
    ///
    /// # Errors
    /// [`InvoiceError::Field`] for an unknown code without a short name, or a bad short name.
    pub fn new(
        code: TaxCategoryCode,
        short_name: Option<&str>,
    ) -> Result<TaxCategory, InvoiceError> {
        const FIELD: &str = "tax_category.short_name";
        let short_name = match short_name.map(str::trim) {
            Some(given) => {
                if given.is_empty() {
                    return Err(field_error(FIELD, "must not be empty"));
                }
                if let Some((index, found)) = given
                    .chars()
                    .enumerate()
                    .find(|(_, c)| *c == '*' || c.is_control())
                {
                    return Err(field_error(
                        FIELD,
                        format!(
                            "character {} is {found:?}, which is not allowed (no '*' or control characters)",
                            index + 1
                        ),
                    ));
                }
                let chars = given.chars().count();
                if chars > SHORT_NAME_MAX_CHARS {
                    return Err(field_error(
                        FIELD,
                        format!("{chars} characters exceed the limit of {SHORT_NAME_MAX_CHARS}"),
                    ));
                }
                given.to_owned()
            }
            None => match code.known_short_name() {
                Some(known) => known.to_owned(),
                None => {
                    return Err(field_error(
                        FIELD,
                        format!(
                            "code {code} is not in the built-in table; give its short name (简称)"
                        ),
                    ));
                }
            },
        };
        Ok(TaxCategory { code, short_name })
    }

    /// The 19-digit code.
    pub fn code(&self) -> &TaxCategoryCode {
        &self.code
    }

    /// The short name (简称), e.g. `餐饮服务`.
    pub fn short_name(&self) -> &str {
        &self.short_name
    }
}

#[derive(Serialize, Deserialize)]
struct TaxCategoryRepr {
    code: TaxCategoryCode,
    short_name: String,
}

impl TryFrom<TaxCategoryRepr> for TaxCategory {
    type Error = InvoiceError;
    fn try_from(repr: TaxCategoryRepr) -> Result<Self, InvoiceError> {
        TaxCategory::new(repr.code, Some(&repr.short_name))
    }
}

impl From<TaxCategory> for TaxCategoryRepr {
    fn from(category: TaxCategory) -> Self {
        TaxCategoryRepr {
            code: category.code,
            short_name: category.short_name,
        }
    }
}

/// An item name (项目名称) without the `*简称*` prefix, which is added from the tax category.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
// Invariant: trimmed, non-empty, ≤ ITEM_NAME_MAX_CHARS, no control characters, no `*…*` prefix.
pub struct ItemName(String);

impl ItemName {
    /// Trims and validates a name.
    ///
    /// # Errors
    /// [`InvoiceError::Field`] for an empty or too long name, a control character, or a name
    /// that already carries a `*简称*` prefix.
    pub fn parse(input: &str) -> Result<ItemName, InvoiceError> {
        const FIELD: &str = "name";
        let name = input.trim();
        if name.is_empty() {
            return Err(field_error(FIELD, "must not be empty"));
        }
        if let Some(rest) = name.strip_prefix('*')
            && let Some(end) = rest.find('*')
        {
            return Err(field_error(
                FIELD,
                format!(
                    "{name:?} already starts with a *{}* prefix; give the bare name, the prefix comes from the tax category",
                    &rest[..end]
                ),
            ));
        }
        if let Some((index, found)) = name.chars().enumerate().find(|(_, c)| c.is_control()) {
            return Err(field_error(
                FIELD,
                format!(
                    "character {} is {found:?}, control characters are not allowed",
                    index + 1
                ),
            ));
        }
        let chars = name.chars().count();
        if chars > ITEM_NAME_MAX_CHARS {
            return Err(field_error(
                FIELD,
                format!("{chars} characters exceed the limit of {ITEM_NAME_MAX_CHARS}"),
            ));
        }
        Ok(ItemName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The 项目名称 as printed: `*简称*name`, e.g. `*餐饮服务*餐费`.
    pub fn face_name(&self, category: &TaxCategory) -> String {
        format!("*{}*{}", category.short_name(), self.0)
    }
}

newtype_glue!(string ItemName, InvoiceError);

/// One line as the merchant states it, before the domain computes 金额 and 税额.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LineInput {
    /// Normal, discounted or discount line.
    pub kind: LineKind,
    /// Item name without the `*简称*` prefix.
    pub name: ItemName,
    /// Tax classification.
    pub category: TaxCategory,
    /// 规格型号, at most 40 characters.
    #[serde(default)]
    pub spec: Option<String>,
    /// 单位, at most 20 characters.
    #[serde(default)]
    pub unit: Option<String>,
    /// 数量; given together with `unit_price` or not at all. Negative only on red invoices.
    #[serde(default)]
    pub quantity: Option<Quantity>,
    /// 单价 on `basis`; given together with `quantity` or not at all.
    #[serde(default)]
    pub unit_price: Option<UnitPrice>,
    /// The line amount on `basis`; when absent it is `round2(quantity × unit_price)`, when given
    /// next to them it must be within 0.01 of that.
    #[serde(default)]
    pub amount: Option<Fen>,
    /// Whether `unit_price` and `amount` include tax.
    pub basis: PriceBasis,
    /// Tax rate.
    pub rate: TaxRate,
}

/// Whether an invoice is a normal (blue) or reversal (red) invoice.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Direction {
    /// 蓝字发票: positive amounts (negative only on discount lines).
    Blue,
    /// 红字发票: negative quantities and amounts, positive unit prices, normal lines only.
    Red,
}

/// One computed line as it appears on the face.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "CheckedLineRepr", into = "InvoiceLineRepr")]
pub struct InvoiceLine {
    kind: LineKind,
    name: ItemName,
    category: TaxCategory,
    spec: Option<String>,
    unit: Option<String>,
    // Invariant: quantity and unit_price_excl are both present or both absent.
    quantity: Option<Quantity>,
    unit_price_excl: Option<UnitPrice>,
    rate: TaxRate,
    amount_excl: Fen,
    // Invariant: |amount_excl × rate − tax| ≤ 0.06, 0 on zero rates.
    tax: Fen,
    // Invariant: amount_excl + tax.
    total: Fen,
}

impl InvoiceLine {
    /// Normal, discounted or discount line.
    pub fn kind(&self) -> LineKind {
        self.kind
    }

    /// Item name without the prefix.
    pub fn name(&self) -> &ItemName {
        &self.name
    }

    /// Tax classification.
    pub fn category(&self) -> &TaxCategory {
        &self.category
    }

    /// 规格型号.
    pub fn spec(&self) -> Option<&str> {
        self.spec.as_deref()
    }

    /// 单位.
    pub fn unit(&self) -> Option<&str> {
        self.unit.as_deref()
    }

    /// 数量 (negative on red invoices).
    pub fn quantity(&self) -> Option<Quantity> {
        self.quantity
    }

    /// 单价 excluding tax as the face shows it (`金额 / 数量` to at most 8 decimals for
    /// tax-inclusive input; the given price for tax-exclusive input).
    pub fn unit_price_excl(&self) -> Option<Decimal> {
        self.unit_price_excl.map(UnitPrice::get)
    }

    /// 金额, excluding tax.
    pub fn amount_excl(&self) -> Fen {
        self.amount_excl
    }

    /// 税额.
    pub fn tax(&self) -> Fen {
        self.tax
    }

    /// 金额 + 税额.
    pub fn total(&self) -> Fen {
        self.total
    }

    /// 税率/征收率.
    pub fn rate(&self) -> TaxRate {
        self.rate
    }

    /// The 项目名称 as printed: `*简称*name`, e.g. `*餐饮服务*餐费`.
    pub fn face_name(&self) -> String {
        self.name.face_name(&self.category)
    }

    /// `金额 × r − 税额`, unrounded.
    fn tax_difference(&self) -> Result<Decimal, TaxError> {
        tax::tax_difference(self.amount_excl, self.tax, self.rate)
    }

    /// The checks one line can make on its own; the error text starts with the field.
    fn check(&self) -> Result<(), LineFault> {
        if self.quantity.is_some() != self.unit_price_excl.is_some() {
            return Err(LineFault::Rule(
                "quantity and unit_price come as a pair".to_owned(),
            ));
        }
        optional_text("spec", self.spec.clone(), SPEC_MAX_CHARS).map_err(LineFault::Rule)?;
        optional_text("unit", self.unit.clone(), UNIT_MAX_CHARS).map_err(LineFault::Rule)?;
        for value in [self.amount_excl, self.tax, self.total] {
            // Keeping i64::MIN out lets every amount be negated (reversal) without overflow.
            if value.checked_neg().is_none() {
                return Err(LineFault::Tax(TaxError::Overflow { what: "an amount" }));
            }
        }
        if self.amount_excl.checked_add(self.tax) != Some(self.total) {
            return Err(LineFault::Rule(format!(
                "total: {} is not 金额 + 税额 = {} + {}",
                self.total, self.amount_excl, self.tax
            )));
        }
        tax::check_line_tax(self.amount_excl, self.tax, self.rate).map_err(LineFault::Tax)?;
        Ok(())
    }

    /// The line with quantity and amounts negated (a red mirror of a blue line, or back).
    fn mirrored(&self) -> InvoiceLine {
        InvoiceLine {
            kind: LineKind::Normal,
            quantity: self.quantity.map(Quantity::negated),
            amount_excl: negate(self.amount_excl),
            tax: negate(self.tax),
            total: negate(self.total),
            ..self.clone()
        }
    }
}

/// `−value`; validated lines never hold `i64::MIN` fen (see [`InvoiceLine::check`]), so the
/// fallback is unreachable.
fn negate(value: Fen) -> Fen {
    value.checked_neg().unwrap_or(Fen::ZERO)
}

/// A rule a line broke, before its index is known.
enum LineFault {
    Rule(String),
    Tax(TaxError),
}

impl LineFault {
    fn at(self, index: usize) -> InvoiceError {
        match self {
            LineFault::Rule(rule) => InvoiceError::Line { index, rule },
            LineFault::Tax(error) => InvoiceError::LineTax { index, error },
        }
    }
}

/// The stored form of a line; [`InvoiceLines`] reads these so that errors carry the index.
#[derive(Serialize, Deserialize)]
struct InvoiceLineRepr {
    kind: LineKind,
    name: ItemName,
    category: TaxCategory,
    #[serde(default)]
    spec: Option<String>,
    #[serde(default)]
    unit: Option<String>,
    #[serde(default)]
    quantity: Option<Quantity>,
    #[serde(default)]
    unit_price_excl: Option<UnitPrice>,
    rate: TaxRate,
    amount_excl: Fen,
    tax: Fen,
    total: Fen,
}

impl From<InvoiceLineRepr> for InvoiceLine {
    /// Unchecked: callers run [`InvoiceLine::check`].
    fn from(repr: InvoiceLineRepr) -> Self {
        InvoiceLine {
            kind: repr.kind,
            name: repr.name,
            category: repr.category,
            spec: repr.spec,
            unit: repr.unit,
            quantity: repr.quantity,
            unit_price_excl: repr.unit_price_excl,
            rate: repr.rate,
            amount_excl: repr.amount_excl,
            tax: repr.tax,
            total: repr.total,
        }
    }
}

/// A line read on its own.
#[derive(Deserialize)]
#[serde(transparent)]
struct CheckedLineRepr(InvoiceLineRepr);

impl TryFrom<CheckedLineRepr> for InvoiceLine {
    type Error = InvoiceError;
    fn try_from(repr: CheckedLineRepr) -> Result<Self, InvoiceError> {
        checked_line(repr.0)
    }
}

fn checked_line(repr: InvoiceLineRepr) -> Result<InvoiceLine, InvoiceError> {
    let line = InvoiceLine::from(repr);
    line.check().map_err(|fault| match fault {
        LineFault::Rule(rule) => field_error("line", rule),
        LineFault::Tax(error) => field_error("line", error.to_string()),
    })?;
    Ok(line)
}

impl From<InvoiceLine> for InvoiceLineRepr {
    fn from(line: InvoiceLine) -> Self {
        InvoiceLineRepr {
            kind: line.kind,
            name: line.name,
            category: line.category,
            spec: line.spec,
            unit: line.unit,
            quantity: line.quantity,
            unit_price_excl: line.unit_price_excl,
            rate: line.rate,
            amount_excl: line.amount_excl,
            tax: line.tax,
            total: line.total,
        }
    }
}

/// The invoice totals: 合计金额, 合计税额 and 价税合计.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub struct Totals {
    /// Σ 金额.
    pub amount_excl: Fen,
    /// Σ 税额 (line taxes summed, never recomputed on the total).
    pub tax: Fen,
    /// 合计金额 + 合计税额.
    pub total: Fen,
}

impl fmt::Display for Totals {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "金额 {} / 税额 {} / 价税合计 {}",
            self.amount_excl, self.tax, self.total
        )
    }
}

/// The computed lines of one invoice with their totals, every rule of the domain checked.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "InvoiceLinesRepr", into = "InvoiceLinesRepr")]
pub struct InvoiceLines {
    direction: Direction,
    // Invariant: 1..=MAX_LINES lines that pass `validate` for `direction`.
    lines: Vec<InvoiceLine>,
    // Invariant: the sums of `lines`.
    totals: Totals,
}

impl InvoiceLines {
    /// Computes 金额, 税额 and the totals of `inputs` and checks every rule:
    ///
    /// - 1 to 2000 lines;
    /// - quantity and unit price as a pair; `|round2(数量 × 单价) − 金额| ≤ 0.01` when the
    ///   amount is given too; spec ≤ 40 and unit ≤ 20 characters;
    /// - blue: quantities and amounts of normal and discounted lines positive, total positive;
    ///   red: normal lines only, quantities and amounts negative (unit prices are always
    ///   positive);
    /// - a discount line directly follows its discounted line, repeats its name, category and
    ///   rate, has no quantity or price, is negative and takes at most the discounted 金额 and
    ///   税额 (all of both or less than the 金额);
    /// - `|金额 × r − 税额| ≤ 0.06` per line, 税额 0 on zero rates, exempt and non-taxable
    ///   lines, and the per-line differences rounded to the fen summing to at most ±1.27.
    ///
    /// # Errors
    /// The first [`InvoiceError`] found, naming the line (0-based) and the rule.
    pub fn compute(
        inputs: Vec<LineInput>,
        direction: Direction,
    ) -> Result<InvoiceLines, InvoiceError> {
        check_count(inputs.len())?;
        let lines = inputs
            .into_iter()
            .enumerate()
            .map(|(index, input)| compute_line(input, direction).map_err(|fault| fault.at(index)))
            .collect::<Result<Vec<_>, _>>()?;
        let totals = validate(&lines, direction)?;
        let differences = lines
            .iter()
            .enumerate()
            .map(|(index, line)| {
                line.tax_difference()
                    .map_err(|error| InvoiceError::LineTax { index, error })
            })
            .collect::<Result<Vec<_>, _>>()?;
        tax::check_invoice_tax(differences).map_err(|error| InvoiceError::InvoiceTax { error })?;
        Ok(InvoiceLines {
            direction,
            lines,
            totals,
        })
    }

    /// Blue or red.
    pub fn direction(&self) -> Direction {
        self.direction
    }

    /// The lines in face order.
    pub fn lines(&self) -> &[InvoiceLine] {
        &self.lines
    }

    /// 合计金额, 合计税额, 价税合计.
    pub fn totals(&self) -> Totals {
        self.totals
    }

    /// Whether every line is exempt or not taxable, so the 合计 税额 prints `***`.
    pub fn tax_free_mark(&self) -> bool {
        self.lines.iter().all(|line| line.rate.is_tax_free_mark())
    }

    /// The lines of a full reversal: each line mirrored with negated quantity and amounts (unit
    /// prices stay positive) and the direction flipped. A discounted line and its discount line
    /// are folded into one normal line carrying their net 金额 and 税额 at the discounted
    /// line's quantity (its face price recomputed), since red invoices have normal lines only;
    /// a pair that nets to zero is left out. The totals are exactly the negated totals.
    pub fn full_reversal(&self) -> InvoiceLines {
        let mut reversed = Vec::with_capacity(self.lines.len());
        let mut index = 0;
        while let Some(line) = self.lines.get(index) {
            match (line.kind, self.lines.get(index + 1)) {
                (LineKind::Discounted, Some(discount)) if discount.kind == LineKind::Discount => {
                    if let Some(folded) = fold_discount(line, discount) {
                        reversed.push(folded.mirrored());
                    }
                    index += 2;
                }
                _ => {
                    reversed.push(line.mirrored());
                    index += 1;
                }
            }
        }
        let totals = &self.totals;
        InvoiceLines {
            direction: match self.direction {
                Direction::Blue => Direction::Red,
                Direction::Red => Direction::Blue,
            },
            lines: reversed,
            totals: Totals {
                amount_excl: negate(totals.amount_excl),
                tax: negate(totals.tax),
                total: negate(totals.total),
            },
        }
    }
}

/// A discounted line and its discount as one normal line, `None` when they net to zero.
fn fold_discount(discounted: &InvoiceLine, discount: &InvoiceLine) -> Option<InvoiceLine> {
    // The two have opposite signs and the discount is the smaller in magnitude (validated), so
    // these sums cannot overflow.
    let sum = |a: Fen, b: Fen| a.checked_add(b).unwrap_or(a);
    let amount_excl = sum(discounted.amount_excl, discount.amount_excl);
    let tax = sum(discounted.tax, discount.tax);
    if amount_excl.is_zero() && tax.is_zero() {
        return None;
    }
    let unit_price_excl = discounted
        .quantity
        .and_then(|quantity| face_price(amount_excl, quantity));
    Some(InvoiceLine {
        kind: LineKind::Normal,
        quantity: unit_price_excl.and(discounted.quantity),
        unit_price_excl,
        amount_excl,
        tax,
        total: sum(discounted.total, discount.total),
        ..discounted.clone()
    })
}

/// `金额 / 数量` rounded half-up to 8 decimals; `None` when it is not a positive price.
fn face_price(amount_excl: Fen, quantity: Quantity) -> Option<UnitPrice> {
    let price = amount_excl
        .to_decimal()
        .checked_div(quantity.get())?
        .round_dp_with_strategy(8, RoundingStrategy::MidpointAwayFromZero);
    UnitPrice::new(price).ok()
}

fn check_count(count: usize) -> Result<(), InvoiceError> {
    if count == 0 {
        return Err(InvoiceError::NoLines);
    }
    if count > MAX_LINES {
        return Err(InvoiceError::TooManyLines { count });
    }
    Ok(())
}

/// Computes one line from its input; sign rules are checked on the input so errors quote what
/// the merchant sent.
fn compute_line(input: LineInput, direction: Direction) -> Result<InvoiceLine, LineFault> {
    let rule = |text: String| LineFault::Rule(text);
    let spec = optional_text("spec", input.spec, SPEC_MAX_CHARS).map_err(rule)?;
    let unit = optional_text("unit", input.unit, UNIT_MAX_CHARS).map_err(rule)?;
    match (direction, input.kind) {
        (Direction::Red, LineKind::Normal) | (Direction::Blue, _) => {}
        (Direction::Red, kind) => {
            return Err(rule(format!(
                "kind: a red invoice has normal lines only, got {}",
                kind_name(kind)
            )));
        }
    }
    if input.kind == LineKind::Discount && (input.quantity.is_some() || input.unit_price.is_some())
    {
        return Err(rule(
            "quantity, unit_price: a discount line has no quantity or unit price".to_owned(),
        ));
    }
    let amount = match (input.quantity, input.unit_price, input.amount) {
        (Some(quantity), Some(price), Some(amount)) => {
            tax::check_quantity_price(quantity, price, amount).map_err(LineFault::Tax)?;
            amount
        }
        (Some(quantity), Some(price), None) => {
            tax::extend(quantity, price).map_err(LineFault::Tax)?
        }
        (None, None, Some(amount)) => amount,
        (None, None, None) => {
            return Err(rule(
                "amount: required when quantity and unit_price are absent".to_owned(),
            ));
        }
        (Some(_), None, _) => {
            return Err(rule(
                "unit_price: required with a quantity (they come as a pair)".to_owned(),
            ));
        }
        (None, Some(_), _) => {
            return Err(rule(
                "quantity: required with a unit price (they come as a pair)".to_owned(),
            ));
        }
    };
    match (direction, input.kind) {
        (Direction::Blue, LineKind::Discount) => {
            if !amount.is_negative() {
                return Err(rule(format!(
                    "amount: a discount line must be negative, got {amount}"
                )));
            }
        }
        (Direction::Blue, _) => {
            if let Some(quantity) = input.quantity.filter(|q| q.is_negative()) {
                return Err(rule(format!(
                    "quantity: must be positive on a blue invoice, got {quantity}"
                )));
            }
            if !amount.is_positive() {
                return Err(rule(format!(
                    "amount: must be positive on a blue invoice, got {amount}"
                )));
            }
        }
        (Direction::Red, _) => {
            if let Some(quantity) = input.quantity.filter(|q| !q.is_negative()) {
                return Err(rule(format!(
                    "quantity: must be negative on a red invoice, got {quantity}"
                )));
            }
            if !amount.is_negative() {
                return Err(rule(format!(
                    "amount: must be negative on a red invoice, got {amount}"
                )));
            }
        }
    }
    let split = tax::split(amount, input.basis, input.rate).map_err(LineFault::Tax)?;
    let total = split.total().ok_or(LineFault::Tax(TaxError::Overflow {
        what: "金额 + 税额",
    }))?;
    let unit_price_excl = match (input.quantity, input.unit_price, input.basis) {
        (Some(_), Some(price), PriceBasis::TaxExclusive) => Some(price),
        (Some(quantity), Some(_), PriceBasis::TaxInclusive) => {
            Some(face_price(split.amount_excl, quantity).ok_or_else(|| {
                rule(format!(
                    "unit_price: the tax-exclusive price {} / {quantity} is not positive at 8 decimals",
                    split.amount_excl
                ))
            })?)
        }
        _ => None,
    };
    Ok(InvoiceLine {
        kind: input.kind,
        name: input.name,
        category: input.category,
        spec,
        unit,
        quantity: input.quantity,
        unit_price_excl,
        rate: input.rate,
        amount_excl: split.amount_excl,
        tax: split.tax,
        total,
    })
}

fn kind_name(kind: LineKind) -> &'static str {
    match kind {
        LineKind::Normal => "normal",
        LineKind::Discounted => "discounted",
        LineKind::Discount => "discount",
    }
}

/// Checks the computed lines against every rule that does not need the inputs (so stored lines
/// can be re-checked) and returns their totals.
fn validate(lines: &[InvoiceLine], direction: Direction) -> Result<Totals, InvoiceError> {
    check_count(lines.len())?;
    for (index, line) in lines.iter().enumerate() {
        line.check().map_err(|fault| fault.at(index))?;
        check_signs(line, direction).map_err(|rule| InvoiceError::Line { index, rule })?;
        match line.kind {
            LineKind::Discounted => {
                let followed = lines
                    .get(index + 1)
                    .is_some_and(|next| next.kind == LineKind::Discount);
                if !followed {
                    return Err(InvoiceError::Line {
                        index,
                        rule:
                            "kind: a discounted line must be followed directly by its discount line"
                                .to_owned(),
                    });
                }
            }
            LineKind::Discount => {
                let discounted = index
                    .checked_sub(1)
                    .and_then(|previous| lines.get(previous))
                    .filter(|previous| previous.kind == LineKind::Discounted);
                let Some(discounted) = discounted else {
                    return Err(InvoiceError::Line {
                        index,
                        rule: "kind: a discount line must directly follow a discounted line"
                            .to_owned(),
                    });
                };
                check_discount(discounted, line)
                    .map_err(|rule| InvoiceError::Line { index, rule })?;
            }
            LineKind::Normal => {}
        }
    }
    let sum = |amount: fn(&InvoiceLine) -> Fen| {
        Fen::checked_sum(lines.iter().map(amount))
            .filter(|sum| sum.checked_neg().is_some())
            .ok_or(InvoiceError::TotalsOverflow)
    };
    let totals = Totals {
        amount_excl: sum(InvoiceLine::amount_excl)?,
        tax: sum(InvoiceLine::tax)?,
        total: sum(InvoiceLine::total)?,
    };
    if direction == Direction::Blue && !totals.total.is_positive() {
        return Err(InvoiceError::NonPositiveTotal {
            total: totals.total,
        });
    }
    Ok(totals)
}

fn check_signs(line: &InvoiceLine, direction: Direction) -> Result<(), String> {
    let (positive, what) = match (direction, line.kind) {
        (Direction::Blue, LineKind::Discount) => (false, "a discount line"),
        (Direction::Blue, _) => (true, "a blue invoice"),
        (Direction::Red, LineKind::Normal) => (false, "a red invoice"),
        (Direction::Red, kind) => {
            return Err(format!(
                "kind: a red invoice has normal lines only, got {}",
                kind_name(kind)
            ));
        }
    };
    if line.kind == LineKind::Discount && line.quantity.is_some() {
        return Err(
            "quantity, unit_price: a discount line has no quantity or unit price".to_owned(),
        );
    }
    let sign_ok = |value: Fen, strict: bool| match (positive, strict) {
        (true, true) => value.is_positive(),
        (true, false) => !value.is_negative(),
        (false, true) => value.is_negative(),
        (false, false) => !value.is_positive(),
    };
    let expected = if positive { "positive" } else { "negative" };
    if let Some(quantity) = line.quantity
        && quantity.is_negative() == positive
    {
        return Err(format!(
            "quantity: must be {expected} on {what}, got {quantity}"
        ));
    }
    if !sign_ok(line.amount_excl, true) {
        return Err(format!(
            "amount_excl: must be {expected} on {what}, got {}",
            line.amount_excl
        ));
    }
    if !sign_ok(line.tax, false) {
        return Err(format!(
            "tax: must not be {} on {what}, got {}",
            if positive { "negative" } else { "positive" },
            line.tax
        ));
    }
    Ok(())
}

/// The rules a discount line has against the line it discounts.
fn check_discount(discounted: &InvoiceLine, discount: &InvoiceLine) -> Result<(), String> {
    if discount.name != discounted.name {
        return Err(format!(
            "name: a discount line repeats its discounted line's name {:?}, got {:?}",
            discounted.name.as_str(),
            discount.name.as_str()
        ));
    }
    if discount.category != discounted.category {
        return Err(format!(
            "category: a discount line repeats its discounted line's category {} ({}), got {} ({})",
            discounted.category.code(),
            discounted.category.short_name(),
            discount.category.code(),
            discount.category.short_name()
        ));
    }
    if discount.rate != discounted.rate {
        return Err(format!(
            "rate: a discount line repeats its discounted line's rate {}, got {}",
            discounted.rate, discount.rate
        ));
    }
    // Both are validated to be away from i64::MIN, so the negations hold.
    let discount_excl = negate(discount.amount_excl);
    let discount_tax = negate(discount.tax);
    if discount_excl > discounted.amount_excl {
        return Err(format!(
            "amount_excl: the discount's 金额 {} exceeds the discounted line's {}",
            discount.amount_excl, discounted.amount_excl
        ));
    }
    if discount_tax > discounted.tax {
        return Err(format!(
            "tax: the discount's 税额 {} exceeds the discounted line's {}",
            discount.tax, discounted.tax
        ));
    }
    if discount_excl == discounted.amount_excl && discount_tax != discounted.tax {
        return Err(format!(
            "tax: a discount of the whole 金额 {} must take the whole 税额 {}, got {}",
            discounted.amount_excl, discounted.tax, discount.tax
        ));
    }
    Ok(())
}

#[derive(Serialize, Deserialize)]
struct InvoiceLinesRepr {
    direction: Direction,
    lines: Vec<InvoiceLineRepr>,
    totals: Totals,
}

impl TryFrom<InvoiceLinesRepr> for InvoiceLines {
    type Error = InvoiceError;
    fn try_from(repr: InvoiceLinesRepr) -> Result<Self, InvoiceError> {
        // The inputs (price basis) are not stored, so the splits are trusted; every rule that
        // can be checked on the face values is re-checked.
        let lines: Vec<InvoiceLine> = repr.lines.into_iter().map(InvoiceLine::from).collect();
        let computed = validate(&lines, repr.direction)?;
        if computed != repr.totals {
            return Err(InvoiceError::TotalsMismatch {
                stored: repr.totals,
                computed,
            });
        }
        Ok(InvoiceLines {
            direction: repr.direction,
            lines,
            totals: computed,
        })
    }
}

impl From<InvoiceLines> for InvoiceLinesRepr {
    fn from(lines: InvoiceLines) -> Self {
        InvoiceLinesRepr {
            direction: lines.direction,
            lines: lines.lines.into_iter().map(InvoiceLineRepr::from).collect(),
            totals: lines.totals,
        }
    }
}

/// The kind of 数电 invoice issued.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum InvoiceKind {
    /// 数电普票.
    DigitalOrdinary,
    /// 数电专票 (needs the buyer's taxpayer id).
    DigitalSpecial,
}

impl InvoiceKind {
    /// The title printed on the face.
    pub fn face_title(self) -> &'static str {
        match self {
            InvoiceKind::DigitalOrdinary => "电子发票（普通发票）",
            InvoiceKind::DigitalSpecial => "电子发票（增值税专用发票）",
        }
    }
}

/// Everything an issuer needs to issue one invoice, validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "InvoiceDraftRepr", into = "InvoiceDraftRepr")]
pub struct InvoiceDraft {
    kind: InvoiceKind,
    // Invariant: has a tax id when `kind` is DigitalSpecial.
    buyer: Buyer,
    seller: Seller,
    lines: InvoiceLines,
    // Invariant: trimmed, non-empty, ≤ REMARK_MAX_CHARS.
    remark: Option<String>,
}

impl InvoiceDraft {
    /// A draft. The remark is trimmed (empty becomes `None`) and takes at most 200 characters.
    ///
    /// # Errors
    /// [`InvoiceError::SpecialInvoiceNeedsBuyerTaxId`] for a 专票 without the buyer's tax id,
    /// [`InvoiceError::Field`] for a bad remark.
    pub fn new(
        kind: InvoiceKind,
        buyer: Buyer,
        seller: Seller,
        lines: InvoiceLines,
        remark: Option<String>,
    ) -> Result<InvoiceDraft, InvoiceError> {
        if kind == InvoiceKind::DigitalSpecial && buyer.tax_id().is_none() {
            return Err(InvoiceError::SpecialInvoiceNeedsBuyerTaxId);
        }
        let remark = remark
            .map(|text| text.trim().to_owned())
            .filter(|text| !text.is_empty());
        if let Some(text) = &remark {
            let chars = text.chars().count();
            if chars > REMARK_MAX_CHARS {
                return Err(field_error(
                    "remark",
                    format!("{chars} characters exceed the limit of {REMARK_MAX_CHARS}"),
                ));
            }
        }
        Ok(InvoiceDraft {
            kind,
            buyer,
            seller,
            lines,
            remark,
        })
    }

    /// 普票 or 专票.
    pub fn kind(&self) -> InvoiceKind {
        self.kind
    }

    /// The buyer.
    pub fn buyer(&self) -> &Buyer {
        &self.buyer
    }

    /// The seller.
    pub fn seller(&self) -> &Seller {
        &self.seller
    }

    /// The computed lines.
    pub fn lines(&self) -> &InvoiceLines {
        &self.lines
    }

    /// 备注.
    pub fn remark(&self) -> Option<&str> {
        self.remark.as_deref()
    }
}

#[derive(Serialize, Deserialize)]
struct InvoiceDraftRepr {
    kind: InvoiceKind,
    buyer: Buyer,
    seller: Seller,
    lines: InvoiceLines,
    #[serde(default)]
    remark: Option<String>,
}

impl TryFrom<InvoiceDraftRepr> for InvoiceDraft {
    type Error = InvoiceError;
    fn try_from(repr: InvoiceDraftRepr) -> Result<Self, InvoiceError> {
        InvoiceDraft::new(repr.kind, repr.buyer, repr.seller, repr.lines, repr.remark)
    }
}

impl From<InvoiceDraft> for InvoiceDraftRepr {
    fn from(draft: InvoiceDraft) -> Self {
        InvoiceDraftRepr {
            kind: draft.kind,
            buyer: draft.buyer,
            seller: draft.seller,
            lines: draft.lines,
            remark: draft.remark,
        }
    }
}

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

#[cfg(test)]
mod tests;
