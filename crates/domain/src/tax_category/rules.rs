//! What the table says about a line: its code must not be a summary row, its rate must be one
//! the code allows, and its 简称 comes from the table unless the caller gives one.
//!
//! The rates of `docs/tax-categories.md`:
//! - 13 %, 9 %, 6 % (general taxpayers) must be among the code's rates in the table;
//! - the levy rates of the simplified method (简易征收: 5 %, 3 %, 1.5 %, 1 %, 0.5 %), 免税
//!   (`exempt`), 0 % and 出口零税率 are not listed per code by the table (its source has no
//!   征收率 or policy column), so they are accepted on every taxable code;
//! - 不征税 (`not_taxable`) goes with the 6xx 不征税项目 codes and only with them.

use super::table::TaxCategoryTable;
use crate::invoice::{InvoiceError, TaxCategory, TaxCategoryCode};
use crate::tax::TaxRate;

fn refuse(field: &'static str, rule: String) -> InvoiceError {
    InvoiceError::Field { field, rule }
}

impl TaxCategoryTable {
    /// The category of a line with `code` at `rate`, its 简称 from `short_name` when given
    /// (for codes newer than the table, or a 简称 the merchant must print) and from the table
    /// otherwise.
    ///
    /// # Errors
    /// [`InvoiceError::Field`] naming `tax_code` (a summary row; a code the table lacks
    /// without a short name), `tax_rate` (a rate the code does not allow) or `tax_short_name`
    /// (an empty or malformed short name), with the rule.
    pub fn line_category(
        &self,
        code: TaxCategoryCode,
        short_name: Option<&str>,
        rate: TaxRate,
    ) -> Result<TaxCategory, InvoiceError> {
        let version = self.version();
        let entry = self.get(&code);
        if let Some(entry) = &entry
            && entry.is_summary()
        {
            let why = if self.has_sub_codes(entry) {
                "has sub-codes"
            } else {
                "has no rate in the table, which marks a summary row"
            };
            return Err(refuse(
                "tax_code",
                format!(
                    "{code} ({}) is a summary row (汇总项) of table {version} and cannot be used on a line: it {why}; use one of its sub-codes",
                    entry.name()
                ),
            ));
        }
        let non_taxable_code = code.as_str().starts_with('6');
        let described = entry.map_or_else(
            || format!("{code}"),
            |entry| format!("{code} ({})", entry.name()),
        );
        if non_taxable_code && rate != TaxRate::NOT_TAXABLE {
            return Err(refuse(
                "tax_rate",
                format!(
                    "{} is not allowed with {described}: codes starting with 6 are 不征税项目 (non-taxable items) and take not_taxable",
                    rate.code()
                ),
            ));
        }
        if !non_taxable_code && rate == TaxRate::NOT_TAXABLE {
            return Err(refuse(
                "tax_rate",
                format!(
                    "not_taxable (不征税) is only for the 6xx 不征税项目 codes; {described} is taxable{}",
                    entry.map_or_else(String::new, |e| format!(
                        " at {} (table {version})",
                        e.rates_label()
                    ))
                ),
            ));
        }
        if let (Some(entry), Some(thousandths @ (130 | 90 | 60))) = (&entry, rate.thousandths()) {
            let percent = u8::try_from(thousandths / 10).unwrap_or(0);
            if !entry.allows_percent(percent) {
                return Err(refuse(
                    "tax_rate",
                    format!(
                        "{percent}% is not a rate of {described}: table {version} allows {}",
                        entry.rates_label()
                    ),
                ));
            }
        }
        match (short_name, &entry) {
            (Some(given), _) => TaxCategory::new(code, Some(given)).map_err(|e| match e {
                InvoiceError::Field { rule, .. } => refuse("tax_short_name", rule),
                other => other,
            }),
            (None, Some(entry)) => {
                let short_name = entry.short_name().to_owned();
                TaxCategory::new(code, Some(&short_name))
            }
            (None, None) => Err(refuse(
                "tax_short_name",
                format!(
                    "code {code} is not in table {version} in force; give its short name (简称), or load a newer table ([tax_categories] file)"
                ),
            )),
        }
    }
}
