use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::ids::OrderId;
use crate::invoice::{ItemName, TaxCategoryCode};
use crate::money::{Quantity, UnitPrice};
use crate::party::{PartyName, Uscc};
use crate::tax::TaxRate;

/// Display, Debug, the serialised JSON, and the value read back from that JSON.
fn check<T>(value: &T, display: &str, debug: &str, json: &str)
where
    T: std::fmt::Display + std::fmt::Debug + Serialize + DeserializeOwned + PartialEq,
{
    assert_eq!(value.to_string(), display);
    assert_eq!(format!("{value:?}"), debug);
    assert_eq!(serde_json::to_string(value).ok().as_deref(), Some(json));
    assert_eq!(serde_json::from_str::<T>(json).ok().as_ref(), Some(value));
}

/// The message serde reports for a JSON string that breaks the type's rule.
fn refusal<T: DeserializeOwned + std::fmt::Debug>(json: &str) -> String {
    match serde_json::from_str::<T>(json) {
        Ok(value) => format!("accepted {value:?}"),
        Err(error) => error.to_string(),
    }
}

#[test]
fn glue_keeps_each_newtypes_text_debug_and_serde_form() -> Result<(), Box<dyn std::error::Error>> {
    check(
        &OrderId::parse("a-1")?,
        "a-1",
        r#"OrderId("a-1")"#,
        r#""a-1""#,
    );
    check(
        &TaxCategoryCode::parse("3070401000000000000")?,
        "3070401000000000000",
        "TaxCategoryCode(3070401000000000000)",
        r#""3070401000000000000""#,
    );
    check(
        &ItemName::parse(" 餐费 ")?,
        "餐费",
        r#"ItemName("餐费")"#,
        r#""餐费""#,
    );
    check(
        &UnitPrice::parse("8.850")?,
        "8.85",
        "UnitPrice(8.85)",
        r#""8.85""#,
    );
    check(
        &Quantity::parse("-0.50")?,
        "-0.5",
        "Quantity(-0.5)",
        r#""-0.5""#,
    );
    check(
        &TaxRate::parse("13%")?,
        "0.13",
        "TaxRate(0.13)",
        r#""0.13""#,
    );
    check(
        &Uscc::parse("91440300708461136T")?,
        "91440300708461136T",
        r#"Uscc("91440300708461136T")"#,
        r#""91440300708461136T""#,
    );
    check(
        &PartyName::parse("某某公司")?,
        "某某公司",
        r#"PartyName("某某公司")"#,
        r#""某某公司""#,
    );
    Ok(())
}

#[test]
fn glue_reads_through_parse_and_keeps_its_errors() {
    assert_eq!(
        refusal::<OrderId>(r#""a b""#),
        "order_id: character ' ' at position 2 is not allowed (allowed: ASCII letters, digits, '_' and '-')"
    );
    assert_eq!(
        refusal::<TaxCategoryCode>(r#""123""#),
        "tax_category_code: must be 19 digits, got 3"
    );
    assert_eq!(refusal::<ItemName>(r#"" ""#), "name: must not be empty");
    assert_eq!(
        refusal::<UnitPrice>(r#""0""#),
        "unit_price: must be positive, got 0"
    );
    assert_eq!(refusal::<Quantity>(r#""0""#), "quantity: must not be zero");
    assert!(
        refusal::<TaxRate>(r#""7%""#)
            .starts_with(r#"tax_rate: "7%" is not an allowed rate (allowed: "#),
        "{}",
        refusal::<TaxRate>(r#""7%""#)
    );
    assert_eq!(
        refusal::<Uscc>(r#""123""#),
        "tax_id: a unified social credit code has 18 characters, got 3"
    );
    assert_eq!(refusal::<PartyName>(r#""""#), "name: must not be empty");
}
