//! What a line is about: the tax category (code and short name), the item name, and the line
//! as the merchant states it.

use serde::{Deserialize, Serialize};

use super::{ITEM_NAME_MAX_CHARS, InvoiceError, SHORT_NAME_MAX_CHARS, check_digits, field_error};
use crate::money::{Fen, Quantity, UnitPrice};
use crate::newtype::newtype_glue;
use crate::tax::{LineKind, PriceBasis, TaxRate};

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

    /// The short name (简称) in the latest embedded table, if the code is in it.
    pub fn known_short_name(&self) -> Option<&'static str> {
        crate::tax_category::latest_embedded()
            .get(self)
            .map(|entry| entry.short_name())
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
    /// A category. Without `short_name` the latest embedded table supplies it; a given short
    /// name wins over the table (the STA revises it). Lines are checked against the table in
    /// force on their date by [`crate::tax_category::TaxCategoryTable::line_category`].
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
                            "code {code} is not in the embedded table; give its short name (简称)"
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
        crate::text::check_visible(name)
            .map_err(|hidden| field_error(FIELD, hidden.to_string()))?;
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
