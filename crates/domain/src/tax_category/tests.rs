use super::*;
use crate::invoice::{InvoiceError, TaxCategoryCode};
use crate::tax::TaxRate;

fn code(text: &str) -> TaxCategoryCode {
    TaxCategoryCode::parse(text).unwrap()
}

fn date(text: &str) -> Date {
    Date::parse(text).unwrap()
}

fn rule(error: InvoiceError) -> (&'static str, String) {
    match error {
        InvoiceError::Field { field, rule } => (field, rule),
        other => panic!("not a field error: {other:?}"),
    }
}

const OVERRIDE_HEADER: &str = "code,name,short_name,rates,note\r\n";

#[test]
fn the_embedded_table_is_the_whole_2026_table() {
    let tables = TaxCategories::embedded();
    let table = tables.latest();
    assert_eq!(table.version(), "2026.6.1");
    assert_eq!(table.effective_from().to_string(), "2026-06-01");
    assert_eq!(table.source(), "embedded");
    assert_eq!(table.len(), 4098);
    let cake = table.get(&code("1030201010000000000")).unwrap();
    assert_eq!(
        (
            cake.name(),
            cake.short_name(),
            cake.rates(),
            cake.is_summary()
        ),
        ("糕点", "焙烤食品", vec![13], false)
    );
    assert_eq!(cake.parent().as_deref(), Some("1030201000000000000"));
    let catering = table.get(&code("3070401000000000000")).unwrap();
    assert_eq!(catering.short_name(), "生产生活服务");
    assert_eq!(catering.rates(), vec![6]);
    let sprouts = table.get(&code("1010112140000000000")).unwrap();
    assert_eq!(sprouts.rates(), vec![13, 9]);
    assert_eq!(sprouts.rates_label(), "13% or 9%");
    // 722 rows have children and 14 childless rows have no rate (data README, gaps 2).
    let summaries = table.entries().filter(|e| e.is_summary()).count();
    assert_eq!(summaries, 722 + 14);
    assert!(table.get(&code("1030201010000000001")).is_none());
    assert!(table.get(&code("6999999999999999999")).is_none());
}

#[test]
fn the_built_in_short_name_is_the_latest_table() {
    assert_eq!(
        code("1030201010000000000").known_short_name(),
        Some("焙烤食品")
    );
    assert_eq!(code("1010101070000000000").known_short_name(), Some("谷物"));
    assert_eq!(code("1030201010000000009").known_short_name(), None);
}

#[test]
fn search_by_name_short_name_and_code_prefix() {
    let tables = TaxCategories::embedded();
    let table = tables.latest();
    let page = Page {
        offset: 0,
        limit: 100,
    };
    let (total, found) = table.search("糕点", page);
    assert!(total >= 1);
    assert!(found.iter().any(|e| e.code() == "1030201010000000000"));
    let (total, found) = table.search("3070401", page);
    assert_eq!(
        found.iter().map(|e| e.code()).collect::<Vec<_>>()[0],
        "3070401000000000000"
    );
    assert!(found.iter().all(|e| e.code().starts_with("3070401")));
    assert_eq!(total, found.len());
    let (all, _) = table.search("焙烤食品", page);
    let (second_page_total, second) = table.search(
        "焙烤食品",
        Page {
            offset: 1,
            limit: 1,
        },
    );
    assert_eq!(all, second_page_total);
    assert_eq!(second.len(), 1);
    assert_eq!(table.search("没有这种东西", page).0, 0);
    assert_eq!(table.search("12345678901234567890", page).0, 0);
}

#[test]
fn a_line_takes_the_short_name_of_the_table() {
    let tables = TaxCategories::embedded();
    let table = tables.in_force(date("2026-12-07"));
    let category = table
        .line_category(code("1030201010000000000"), None, TaxRate::P13)
        .unwrap();
    assert_eq!(category.short_name(), "焙烤食品");
    // The caller's short name still wins, and is checked.
    let category = table
        .line_category(code("1030201010000000000"), Some("糕点"), TaxRate::P13)
        .unwrap();
    assert_eq!(category.short_name(), "糕点");
    let (field, message) = rule(
        table
            .line_category(code("1030201010000000000"), Some("*糕点*"), TaxRate::P13)
            .unwrap_err(),
    );
    assert_eq!(field, "tax_short_name");
    assert!(message.contains("'*'"), "{message}");
    // A code newer than the table needs its short name.
    let (field, message) = rule(
        table
            .line_category(code("1030201010000000099"), None, TaxRate::P13)
            .unwrap_err(),
    );
    assert_eq!(field, "tax_short_name");
    assert!(message.contains("not in table 2026.6.1"), "{message}");
    let category = table
        .line_category(code("1030201010000000099"), Some("焙烤食品"), TaxRate::P13)
        .unwrap();
    assert_eq!(category.code().as_str(), "1030201010000000099");
}

#[test]
fn summary_rows_are_refused() {
    let tables = TaxCategories::embedded();
    let table = tables.latest();
    let (field, message) = rule(
        table
            .line_category(code("1030201000000000000"), None, TaxRate::P13)
            .unwrap_err(),
    );
    assert_eq!(field, "tax_code");
    assert!(message.contains("summary row (汇总项)"), "{message}");
    assert!(message.contains("has sub-codes"), "{message}");
    // A childless row without a rate (稀土矿产品) is a summary row too.
    let (field, message) = rule(
        table
            .line_category(code("1020403030000000000"), None, TaxRate::P13)
            .unwrap_err(),
    );
    assert_eq!(field, "tax_code");
    assert!(message.contains("has no rate"), "{message}");
}

#[test]
fn the_rate_must_be_one_the_code_allows() {
    let tables = TaxCategories::embedded();
    let table = tables.latest();
    let (field, message) = rule(
        table
            .line_category(code("1030201010000000000"), None, TaxRate::P6)
            .unwrap_err(),
    );
    assert_eq!(field, "tax_rate");
    assert_eq!(
        message,
        "6% is not a rate of 1030201010000000000 (糕点): table 2026.6.1 allows 13%"
    );
    for rate in [TaxRate::P13, TaxRate::P9] {
        assert!(
            table
                .line_category(code("1010112140000000000"), None, rate)
                .is_ok()
        );
    }
    // Levy rates, exempt and the zero rates are not listed per code: accepted on taxable codes.
    for rate in [
        TaxRate::P3,
        TaxRate::P1,
        TaxRate::P5,
        TaxRate::P1_5,
        TaxRate::P0_5,
        TaxRate::EXEMPT,
        TaxRate::ZERO,
        TaxRate::EXPORT_ZERO,
    ] {
        assert!(
            table
                .line_category(code("1030201010000000000"), None, rate)
                .is_ok(),
            "{rate}"
        );
    }
}

#[test]
fn not_taxable_goes_with_the_6xx_codes_only() {
    let tables = TaxCategories::embedded();
    let table = tables.latest();
    let (_, found) = table.search(
        "6",
        Page {
            offset: 0,
            limit: 100,
        },
    );
    let leaf = found.iter().find(|e| !e.is_summary()).unwrap();
    assert_eq!(leaf.rates(), vec![0]);
    let leaf_code = code(&leaf.code());
    assert!(
        table
            .line_category(leaf_code.clone(), None, TaxRate::NOT_TAXABLE)
            .is_ok()
    );
    let (field, message) = rule(
        table
            .line_category(leaf_code, None, TaxRate::ZERO)
            .unwrap_err(),
    );
    assert_eq!(field, "tax_rate");
    assert!(message.contains("不征税项目"), "{message}");
    let (field, message) = rule(
        table
            .line_category(code("1030201010000000000"), None, TaxRate::NOT_TAXABLE)
            .unwrap_err(),
    );
    assert_eq!(field, "tax_rate");
    assert!(message.contains("taxable at 13%"), "{message}");
}

#[test]
fn an_override_changes_a_short_name_and_adds_codes() {
    let text = format!(
        "{OVERRIDE_HEADER}1030201010000000000,糕点,糕点点心,13%,\r\n1030201880000000000,新式糕点,焙烤食品,\"13%,9%\",\r\n"
    );
    let tables = TaxCategories::embedded()
        .with_override(
            &text,
            TableOverride {
                source: "merchant.csv".to_owned(),
                version: None,
                effective_from: None,
                replace: false,
            },
        )
        .unwrap();
    assert_eq!(tables.tables().len(), 1);
    let table = tables.in_force(date("2026-12-07"));
    assert_eq!(table.version(), "2026.6.1+override");
    assert_eq!(table.source(), "merchant.csv over 2026.6.1");
    assert_eq!(table.len(), 4099);
    let category = table
        .line_category(code("1030201010000000000"), None, TaxRate::P13)
        .unwrap();
    assert_eq!(category.short_name(), "糕点点心");
    assert_eq!(
        table.get(&code("1030201880000000000")).unwrap().rates(),
        vec![13, 9]
    );
}

#[test]
fn a_new_child_makes_its_parent_a_summary_row() {
    let text = format!("{OVERRIDE_HEADER}1030201010100000000,蛋糕,焙烤食品,13%,\n");
    let tables = TaxCategories::embedded()
        .with_override(
            &text,
            TableOverride {
                source: "child.csv".to_owned(),
                version: None,
                effective_from: None,
                replace: false,
            },
        )
        .unwrap();
    let table = tables.latest();
    let cake = table.get(&code("1030201010000000000")).unwrap();
    assert!(cake.is_summary());
    assert!(table.has_sub_codes(&cake));
    assert!(
        table
            .line_category(code("1030201010100000000"), None, TaxRate::P13)
            .is_ok()
    );
}

#[test]
fn a_dated_override_is_in_force_from_its_date() {
    let text = format!("{OVERRIDE_HEADER}3070401000000000000,餐饮服务,餐饮服务,6%,\n");
    let tables = TaxCategories::embedded()
        .with_override(
            &text,
            TableOverride {
                source: "next.csv".to_owned(),
                version: Some("2027.1.1".to_owned()),
                effective_from: Some(date("2027-01-01")),
                replace: false,
            },
        )
        .unwrap();
    assert_eq!(tables.tables().len(), 2);
    let short = |day: &str| {
        tables
            .in_force(date(day))
            .get(&code("3070401000000000000"))
            .unwrap()
            .short_name()
            .to_owned()
    };
    assert_eq!(short("2026-12-31"), "生产生活服务");
    assert_eq!(short("2027-01-01"), "餐饮服务");
    // Before the first table, the first table.
    assert_eq!(short("2020-01-01"), "生产生活服务");
    assert_eq!(tables.latest().version(), "2027.1.1");
}

#[test]
fn a_malformed_override_names_the_line_and_the_rule() {
    let merge = TableOverride {
        source: "bad.csv".to_owned(),
        version: None,
        effective_from: None,
        replace: false,
    };
    let replace = TableOverride {
        replace: true,
        ..merge.clone()
    };
    let check = |body: &str, options: &TableOverride, expected: &str| {
        let error = TaxCategories::embedded()
            .with_override(&format!("{OVERRIDE_HEADER}{body}"), options.clone())
            .unwrap_err();
        assert_eq!(error.to_string(), expected, "{body}");
    };
    check(
        "103020101000000000,糕点,焙烤食品,13%,\n",
        &merge,
        "line 2: code: \"103020101000000000\" is not 19 digits (商品和服务税收分类编码)",
    );
    check(
        "1030201010000000000,糕点,,13%,\n",
        &merge,
        "line 2: short_name: must not be empty",
    );
    check(
        "1030201010000000000,糕点,焙烤食品,17%,\n",
        &merge,
        "line 2: rates: \"17%\" is not a current VAT rate (13%, 9%, 6%, 5%, 3%, 0%)",
    );
    check(
        "1030201010000000000,糕点,焙烤食品,13%,\n1030201010000000000,糕点,焙烤食品,13%,\n",
        &merge,
        "line 3: code: 1030201010000000000 repeats the code of line 2 (codes are unique)",
    );
    check(
        "1999999010000000000,新品,新品,13%,\n",
        &merge,
        "line 2: code: the parent 1999999000000000000 of 1999999010000000000 is not in the table (every parent must be present)",
    );
    // A whole table needs its own parents.
    check(
        "1030201010000000000,糕点,焙烤食品,13%,\n",
        &replace,
        "line 2: code: the parent 1030201000000000000 of 1030201010000000000 is not in the table (every parent must be present)",
    );
    let error = TaxCategories::embedded()
        .with_override("code,name,rates\n", merge.clone())
        .unwrap_err();
    assert_eq!(
        error.to_string(),
        "line 1: header: is \"code,name,rates\", expected code,name,short_name,rates,note"
    );
    let error = TaxCategories::embedded()
        .with_override(OVERRIDE_HEADER, merge)
        .unwrap_err();
    assert_eq!(error.to_string(), "file: has a header but no rows");
}

#[test]
fn a_whole_replacement_table() {
    let text = format!(
        "{OVERRIDE_HEADER}1000000000000000000,货物,货物,,\n1030000000000000000,食品,食品,,\n1030201010000000000,糕点,糕点,13%,\n"
    );
    let error = TaxCategories::embedded()
        .with_override(
            &text,
            TableOverride {
                source: "whole.csv".to_owned(),
                version: Some("mine".to_owned()),
                effective_from: None,
                replace: true,
            },
        )
        .unwrap_err();
    // 1030201010000000000's parent is 1030201000000000000, absent.
    assert_eq!(error.line, 4);
    let text = format!(
        "{OVERRIDE_HEADER}1000000000000000000,货物,货物,,\n1030000000000000000,食品,食品,,\n1030200000000000000,焙烤,焙烤,,\n1030201000000000000,糕点类,焙烤食品,,\n1030201010000000000,糕点,糕点,13%,\n"
    );
    let tables = TaxCategories::embedded()
        .with_override(
            &text,
            TableOverride {
                source: "whole.csv".to_owned(),
                version: Some("mine".to_owned()),
                effective_from: None,
                replace: true,
            },
        )
        .unwrap();
    let table = tables.latest();
    assert_eq!((table.version(), table.len()), ("mine", 5));
    assert!(table.get(&code("3070401000000000000")).is_none());
}

#[test]
fn parents_drop_the_last_non_zero_segment() {
    assert_eq!(
        rows::parent(1_030_201_010_000_000_000),
        Some(1_030_201_000_000_000_000)
    );
    assert_eq!(
        rows::parent(1_030_402_040_101_010_000),
        Some(1_030_402_040_101_000_000)
    );
    assert_eq!(
        rows::parent(1_010_000_000_000_000_000),
        Some(1_000_000_000_000_000_000)
    );
    assert_eq!(rows::parent(1_000_000_000_000_000_000), None);
    assert_eq!(
        rows::parent(3_070_401_000_000_000_001),
        Some(3_070_401_000_000_000_000)
    );
}
