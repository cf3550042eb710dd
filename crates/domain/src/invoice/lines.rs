//! The computed lines of one invoice: 金额 and 税额 per line, the totals, every rule between
//! lines (discounts, signs, tolerances) and the red mirror of a full reversal.

use std::fmt;

use rust_decimal::{Decimal, RoundingStrategy};
use serde::{Deserialize, Serialize};

use super::{
    InvoiceError, ItemName, LineInput, MAX_LINES, SPEC_MAX_CHARS, TaxCategory, UNIT_MAX_CHARS,
    field_error, optional_text,
};
use crate::money::{Fen, Quantity, UnitPrice};
use crate::tax::{self, LineKind, PriceBasis, TaxError, TaxRate};

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
