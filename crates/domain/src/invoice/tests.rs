use super::*;
use crate::ids::ProviderRef;
use crate::money::{Quantity, UnitPrice};
use crate::party::{Buyer, PartyName, Seller, TaxpayerId};
use crate::tax::{LineKind, PriceBasis, TaxRate};
use crate::time::Timestamp;

use LineKind::{Discount, Discounted, Normal};
use PriceBasis::{TaxExclusive as Excl, TaxInclusive as Incl};

/// A serde_json error message without its " at line … column …" suffix.
fn without_position(error: serde_json::Error) -> String {
    let message = error.to_string();
    match message.rfind(" at line ") {
        Some(end) => message[..end].to_owned(),
        None => message,
    }
}

fn fen(yuan: &str) -> Fen {
    Fen::parse_yuan(yuan).unwrap_or_else(|e| panic!("{e}"))
}

fn category(code: &str) -> TaxCategory {
    TaxCategoryCode::parse(code)
        .and_then(|code| TaxCategory::new(code, None))
        .unwrap_or_else(|e| panic!("{e}"))
}

fn item(name: &str) -> ItemName {
    ItemName::parse(name).unwrap_or_else(|e| panic!("{e}"))
}

fn quantity(text: &str) -> Option<Quantity> {
    Some(Quantity::parse(text).unwrap_or_else(|e| panic!("{e}")))
}

fn price(text: &str) -> Option<UnitPrice> {
    Some(UnitPrice::parse(text).unwrap_or_else(|e| panic!("{e}")))
}

/// A 餐费 line of `kind` with an amount and no quantity.
fn line(kind: LineKind, amount: &str, basis: PriceBasis, rate: TaxRate) -> LineInput {
    LineInput {
        kind,
        name: item("餐费"),
        category: category("3070401000000000000"),
        spec: None,
        unit: None,
        quantity: None,
        unit_price: None,
        amount: Some(fen(amount)),
        basis,
        rate,
    }
}

/// A normal line of `quantity × price` with the amount left to compute.
fn priced(quantity_text: &str, price_text: &str, basis: PriceBasis, rate: TaxRate) -> LineInput {
    LineInput {
        quantity: quantity(quantity_text),
        unit_price: price(price_text),
        amount: None,
        ..line(Normal, "0", basis, rate)
    }
}

/// `InvoiceLines::compute(inputs, direction)` gives totals `(金额, 税额, 价税合计)` or the error.
#[track_caller]
fn check(inputs: Vec<LineInput>, direction: Direction, expected: Result<(&str, &str, &str), &str>) {
    let got = InvoiceLines::compute(inputs, direction)
        .map(|lines| {
            let totals = lines.totals();
            (totals.amount_excl, totals.tax, totals.total)
        })
        .map_err(|e| e.to_string());
    let expected = expected
        .map(|(excl, tax, total)| (fen(excl), fen(tax), fen(total)))
        .map_err(str::to_owned);
    assert_eq!(got, expected);
}

/// The single line of `input` computes to `(金额, 税额, 价税合计, face unit price)`.
#[track_caller]
fn check_line(input: LineInput, direction: Direction, expected: (&str, &str, &str, Option<&str>)) {
    let got = InvoiceLines::compute(vec![input], direction).map(|lines| {
        let line = &lines.lines()[0];
        (
            line.amount_excl(),
            line.tax(),
            line.total(),
            line.unit_price_excl().map(|p| p.to_string()),
        )
    });
    let (excl, tax, total, price) = expected;
    assert_eq!(
        got,
        Ok((fen(excl), fen(tax), fen(total), price.map(str::to_owned)))
    );
}

#[test]
fn tax_split_vectors() {
    // §9.3, as single-line invoices.
    check_line(
        line(Normal, "100.00", Incl, TaxRate::P6),
        Direction::Blue,
        ("94.34", "5.66", "100.00", None),
    );
    check_line(
        line(Normal, "300.00", Incl, TaxRate::P6),
        Direction::Blue,
        ("283.02", "16.98", "300.00", None),
    );
    check_line(
        line(Normal, "7995.90", Incl, TaxRate::P1),
        Direction::Blue,
        ("7916.73", "79.17", "7995.90", None),
    );
    check_line(
        line(Normal, "-14000.00", Incl, TaxRate::P13),
        Direction::Red,
        ("-12389.38", "-1610.62", "-14000.00", None),
    );
    check_line(
        line(Normal, "113.00", Incl, TaxRate::P13),
        Direction::Blue,
        ("100.00", "13.00", "113.00", None),
    );
    check_line(
        line(Normal, "1.00", Incl, TaxRate::P13),
        Direction::Blue,
        ("0.88", "0.12", "1.00", None),
    );
    check_line(
        line(Normal, "10.00", Incl, TaxRate::P9),
        Direction::Blue,
        ("9.17", "0.83", "10.00", None),
    );
    check_line(
        line(Normal, "50.00", Incl, TaxRate::P3),
        Direction::Blue,
        ("48.54", "1.46", "50.00", None),
    );
    check_line(
        line(Normal, "0.01", Incl, TaxRate::P13),
        Direction::Blue,
        ("0.01", "0.00", "0.01", None),
    );
    check_line(
        line(Normal, "100.00", Excl, TaxRate::P13),
        Direction::Blue,
        ("100.00", "13.00", "113.00", None),
    );
    check_line(
        line(Normal, "0.10", Excl, TaxRate::P6),
        Direction::Blue,
        ("0.10", "0.01", "0.11", None),
    );
    check_line(
        line(Normal, "33.33", Excl, TaxRate::P3),
        Direction::Blue,
        ("33.33", "1.00", "34.33", None),
    );
    check_line(
        priced("3", "33.33333333", Excl, TaxRate::P13),
        Direction::Blue,
        ("100.00", "13.00", "113.00", Some("33.33333333")),
    );
    check_line(
        priced("3", "10.00", Incl, TaxRate::P13),
        Direction::Blue,
        ("26.55", "3.45", "30.00", Some("8.85")),
    );
    // The real red line: -12389.38, -1610.62, price 24778.76, quantity -0.5.
    check_line(
        priced("-0.5", "28000", Incl, TaxRate::P13),
        Direction::Red,
        ("-12389.38", "-1610.62", "-14000.00", Some("24778.76")),
    );
    // A face price that needs all 8 decimals.
    check_line(
        priced("3", "1.00", Incl, TaxRate::P13),
        Direction::Blue,
        ("2.65", "0.35", "3.00", Some("0.88333333")),
    );
    check_line(
        line(Normal, "100.00", Incl, TaxRate::EXEMPT),
        Direction::Blue,
        ("100.00", "0.00", "100.00", None),
    );
}

fn discount_invoice() -> Vec<LineInput> {
    vec![
        LineInput {
            name: item("甲"),
            category: category("1010101070000000000"),
            quantity: quantity("2"),
            unit_price: price("300"),
            amount: None,
            ..line(Discounted, "0", Excl, TaxRate::P13)
        },
        LineInput {
            name: item("甲"),
            category: category("1010101070000000000"),
            ..line(Discount, "-60.00", Excl, TaxRate::P13)
        },
    ]
}

#[test]
fn discount_invoice_vector() {
    // §9.3: 600.00 @13 % as 被折扣行 + discount −60.00 → 540.00 / 70.20 / 610.20.
    let lines = InvoiceLines::compute(discount_invoice(), Direction::Blue);
    let Ok(lines) = lines else {
        panic!("{lines:?}")
    };
    let faces: Vec<_> = lines
        .lines()
        .iter()
        .map(|l| (l.face_name(), l.amount_excl(), l.tax(), l.rate().label()))
        .collect();
    assert_eq!(
        faces,
        [
            (
                "*谷物*甲".to_owned(),
                fen("600.00"),
                fen("78.00"),
                "13%".to_owned()
            ),
            (
                "*谷物*甲".to_owned(),
                fen("-60.00"),
                fen("-7.80"),
                "13%".to_owned()
            ),
        ]
    );
    assert_eq!(
        lines.totals(),
        Totals {
            amount_excl: fen("540.00"),
            tax: fen("70.20"),
            total: fen("610.20"),
        }
    );
    assert_eq!(lines.totals().total.in_words(), "陆佰壹拾圆贰角整");
}

#[test]
fn tolerance_vectors() {
    // §9.3 tolerance rows: quantity × price.
    let with_amount = |amount: &str| LineInput {
        amount: Some(fen(amount)),
        ..priced("3", "8.85", Excl, TaxRate::P13)
    };
    check(
        vec![with_amount("26.56")],
        Direction::Blue,
        Ok(("26.56", "3.45", "30.01")),
    );
    check(
        vec![with_amount("26.57")],
        Direction::Blue,
        Err(
            "lines[0]: |round2(数量 × 单价) − 金额| = |26.55 − 26.57| = 0.02 exceeds the 0.01 tolerance",
        ),
    );
    // 127 lines of inclusive 1.00 at 13 % sum their rounded errors to −1.27; 128 to −1.28.
    let ones = |count| vec![line(Normal, "1.00", Incl, TaxRate::P13); count];
    check(
        ones(127),
        Direction::Blue,
        Ok(("111.76", "15.24", "127.00")),
    );
    check(
        ones(128),
        Direction::Blue,
        Err(
            "lines: Σ round2(金额 × 税率 − 税额) over all lines = -1.28 exceeds the ±1.27 tolerance; split the invoice",
        ),
    );
    let mut red_ones = vec![line(Normal, "-1.00", Incl, TaxRate::P13); 128];
    red_ones.truncate(127);
    check(
        red_ones,
        Direction::Red,
        Ok(("-111.76", "-15.24", "-127.00")),
    );
}

#[test]
fn stored_tax_tolerance_vectors() {
    // §9.3 tolerance rows on the tax: stored lines are re-checked when read back.
    let stored = |tax: &str, total: &str| {
        format!(
            r#"{{"direction":"blue","lines":[{{"kind":"normal","name":"餐费","category":{{"code":"3070401000000000000","short_name":"餐饮服务"}},"rate":"0.13","amount_excl":10000,"tax":{},"total":{}}}],"totals":{{"amount_excl":10000,"tax":{},"total":{}}}}}"#,
            fen(tax).get(),
            fen(total).get(),
            fen(tax).get(),
            fen(total).get()
        )
    };
    let read = |json: String| serde_json::from_str::<InvoiceLines>(&json).map_err(without_position);
    assert!(read(stored("13.06", "113.06")).is_ok());
    assert_eq!(
        read(stored("13.07", "113.07")),
        Err("lines[0]: |金额 × 税率 − 税额| = 0.07 exceeds the 0.06 tolerance".to_owned())
    );
    let mismatch = stored("13.00", "113.00").replace(
        r#""tax":1300,"total":11300}}"#,
        r#""tax":1300,"total":11301}}"#,
    );
    assert_eq!(
        read(mismatch),
        Err("totals: stored 金额 100.00 / 税额 13.00 / 价税合计 113.01 differ from the sums of the lines, 金额 100.00 / 税额 13.00 / 价税合计 113.00".to_owned())
    );
    let red = stored("13.00", "113.00").replace(r#""direction":"blue""#, r#""direction":"red""#);
    assert_eq!(
        read(red),
        Err("lines[0]: amount_excl: must be negative on a red invoice, got 100.00".to_owned())
    );
}

#[test]
fn line_rules() {
    let blue = Direction::Blue;
    let red = Direction::Red;
    check(
        vec![],
        blue,
        Err("lines: an invoice needs at least one line"),
    );
    check(
        vec![line(Normal, "1.00", Excl, TaxRate::P13); 2001],
        blue,
        Err(
            "lines: 2001 lines exceed the limit of 2000 per 数电 invoice (discount lines included)",
        ),
    );
    check(
        vec![line(Normal, "1.00", Excl, TaxRate::P13); 2000],
        blue,
        Ok(("2000.00", "260.00", "2260.00")),
    );
    check(
        vec![LineInput {
            unit_price: None,
            ..priced("3", "8.85", Excl, TaxRate::P13)
        }],
        blue,
        Err("lines[0]: unit_price: required with a quantity (they come as a pair)"),
    );
    check(
        vec![LineInput {
            quantity: None,
            ..priced("3", "8.85", Excl, TaxRate::P13)
        }],
        blue,
        Err("lines[0]: quantity: required with a unit price (they come as a pair)"),
    );
    check(
        vec![LineInput {
            amount: None,
            ..line(Normal, "1", Excl, TaxRate::P13)
        }],
        blue,
        Err("lines[0]: amount: required when quantity and unit_price are absent"),
    );
    check(
        vec![priced("-3", "8.85", Excl, TaxRate::P13)],
        blue,
        Err("lines[0]: quantity: must be positive on a blue invoice, got -3"),
    );
    check(
        vec![line(Normal, "0.00", Excl, TaxRate::P13)],
        blue,
        Err("lines[0]: amount: must be positive on a blue invoice, got 0.00"),
    );
    check(
        vec![
            line(Normal, "5.00", Excl, TaxRate::P13),
            line(Normal, "-1.00", Excl, TaxRate::P13),
        ],
        blue,
        Err("lines[1]: amount: must be positive on a blue invoice, got -1.00"),
    );
    check(
        vec![priced("3", "8.85", Excl, TaxRate::P13)],
        red,
        Err("lines[0]: quantity: must be negative on a red invoice, got 3"),
    );
    check(
        vec![line(Normal, "5.00", Excl, TaxRate::P13)],
        red,
        Err("lines[0]: amount: must be negative on a red invoice, got 5.00"),
    );
    check(
        vec![
            line(Discounted, "-5.00", Excl, TaxRate::P13),
            line(Discount, "-1.00", Excl, TaxRate::P13),
        ],
        red,
        Err("lines[0]: kind: a red invoice has normal lines only, got discounted"),
    );
    check(
        vec![LineInput {
            spec: Some("x".repeat(41)),
            ..line(Normal, "1.00", Excl, TaxRate::P13)
        }],
        blue,
        Err("lines[0]: spec: 41 characters exceed the limit of 40"),
    );
    check(
        vec![LineInput {
            unit: Some("个".repeat(21)),
            ..line(Normal, "1.00", Excl, TaxRate::P13)
        }],
        blue,
        Err("lines[0]: unit: 21 characters exceed the limit of 20"),
    );
    check(
        vec![LineInput {
            unit: Some("a\tb".to_owned()),
            ..line(Normal, "1.00", Excl, TaxRate::P13)
        }],
        blue,
        Err("lines[0]: unit: character 2 is '\\t', control characters are not allowed"),
    );
    check(
        vec![priced(
            "99999999999999",
            "99999999999999.99999999",
            Excl,
            TaxRate::P13,
        )],
        blue,
        Err("lines[0]: 数量 × 单价 is out of range"),
    );
    check(
        vec![
            line(Normal, "92233720368547758.07", Excl, TaxRate::EXEMPT),
            line(Normal, "0.01", Excl, TaxRate::EXEMPT),
        ],
        blue,
        Err("totals: the sum of the lines is out of range"),
    );
}

#[test]
fn discount_rules() {
    let blue = Direction::Blue;
    let discounted = || line(Discounted, "100.00", Excl, TaxRate::P13);
    let discount = |amount: &str| line(Discount, amount, Excl, TaxRate::P13);
    check(
        vec![discounted(), discount("-10.00")],
        blue,
        Ok(("90.00", "11.70", "101.70")),
    );
    check(
        vec![
            line(Normal, "100.00", Excl, TaxRate::P13),
            discount("-10.00"),
        ],
        blue,
        Err("lines[1]: kind: a discount line must directly follow a discounted line"),
    );
    check(
        vec![discount("-10.00")],
        blue,
        Err("lines[0]: kind: a discount line must directly follow a discounted line"),
    );
    check(
        vec![discounted(), discount("-10.00"), discount("-10.00")],
        blue,
        Err("lines[2]: kind: a discount line must directly follow a discounted line"),
    );
    check(
        vec![discounted(), line(Normal, "1.00", Excl, TaxRate::P13)],
        blue,
        Err("lines[0]: kind: a discounted line must be followed directly by its discount line"),
    );
    check(
        vec![line(Normal, "1.00", Excl, TaxRate::P13), discounted()],
        blue,
        Err("lines[1]: kind: a discounted line must be followed directly by its discount line"),
    );
    check(
        vec![
            discounted(),
            LineInput {
                quantity: quantity("1"),
                unit_price: price("10"),
                ..discount("-10.00")
            },
        ],
        blue,
        Err("lines[1]: quantity, unit_price: a discount line has no quantity or unit price"),
    );
    check(
        vec![discounted(), discount("10.00")],
        blue,
        Err("lines[1]: amount: a discount line must be negative, got 10.00"),
    );
    check(
        vec![
            discounted(),
            LineInput {
                name: item("饮料"),
                ..discount("-10.00")
            },
        ],
        blue,
        Err(
            "lines[1]: name: a discount line repeats its discounted line's name \"餐费\", got \"饮料\"",
        ),
    );
    check(
        vec![
            discounted(),
            LineInput {
                category: category("3070402000000000000"),
                ..discount("-10.00")
            },
        ],
        blue,
        Err(
            "lines[1]: category: a discount line repeats its discounted line's category 3070401000000000000 (生产生活服务), got 3070402000000000000 (生产生活服务)",
        ),
    );
    check(
        vec![
            discounted(),
            LineInput {
                rate: TaxRate::P6,
                ..discount("-10.00")
            },
        ],
        blue,
        Err("lines[1]: rate: a discount line repeats its discounted line's rate 0.13, got 0.06"),
    );
    check(
        vec![discounted(), discount("-100.01")],
        blue,
        Err(
            "lines[1]: amount_excl: the discount's 金额 -100.01 exceeds the discounted line's 100.00",
        ),
    );
    // The whole line discounted leaves a zero total on a blue invoice.
    check(
        vec![discounted(), discount("-100.00")],
        blue,
        Err("totals: a blue invoice's 价税合计 must be positive, got 0.00"),
    );
    check(
        vec![
            line(Normal, "5.00", Excl, TaxRate::P13),
            discounted(),
            discount("-100.00"),
        ],
        blue,
        Ok(("5.00", "0.65", "5.65")),
    );
    // Mixed price bases: equal 金额, but the discount's 税额 is the larger.
    check(
        vec![
            line(Discounted, "0.99", Incl, TaxRate::P13),
            line(Discount, "-1.00", Incl, TaxRate::P13),
        ],
        blue,
        Err("lines[1]: tax: the discount's 税额 -0.12 exceeds the discounted line's 0.11"),
    );
    check(
        vec![
            line(Discounted, "0.04", Excl, TaxRate::P13),
            line(Discount, "-0.04", Incl, TaxRate::P13),
        ],
        blue,
        Err(
            "lines[1]: tax: a discount of the whole 金额 0.04 must take the whole 税额 0.01, got 0.00",
        ),
    );
    check(
        vec![
            line(Discounted, "1.00", Incl, TaxRate::P13),
            line(Discount, "-0.99", Incl, TaxRate::P13),
        ],
        blue,
        Err(
            "lines[1]: tax: a discount of the whole 金额 0.88 must take the whole 税额 0.12, got -0.11",
        ),
    );
    check(
        vec![
            line(Discounted, "0.10", Excl, TaxRate::P6),
            line(Discount, "-0.12", Incl, TaxRate::P6),
        ],
        blue,
        Err("lines[1]: amount_excl: the discount's 金额 -0.11 exceeds the discounted line's 0.10"),
    );
}

#[test]
fn full_reversal() {
    let lines = InvoiceLines::compute(discount_invoice(), Direction::Blue);
    let Ok(lines) = lines else {
        panic!("{lines:?}")
    };
    let red = lines.full_reversal();
    assert_eq!(red.direction(), Direction::Red);
    let faces: Vec<_> = red
        .lines()
        .iter()
        .map(|l| {
            (
                l.kind(),
                l.face_name(),
                l.quantity().map(|q| q.to_string()),
                l.unit_price_excl().map(|p| p.to_string()),
                l.amount_excl(),
                l.tax(),
                l.total(),
            )
        })
        .collect();
    assert_eq!(
        faces,
        [(
            Normal,
            "*谷物*甲".to_owned(),
            Some("-2".to_owned()),
            Some("270".to_owned()),
            fen("-540.00"),
            fen("-70.20"),
            fen("-610.20"),
        )]
    );
    assert_eq!(
        red.totals(),
        Totals {
            amount_excl: fen("-540.00"),
            tax: fen("-70.20"),
            total: fen("-610.20"),
        }
    );
    assert_eq!(red.totals().total.in_words(), "（负数）陆佰壹拾圆贰角整");
    // The reversal passes every stored-line rule, and mirroring it again gives a blue invoice.
    let json = serde_json::to_string(&red).unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<InvoiceLines>(&json).ok(),
        Some(red.clone())
    );
    let blue = red.full_reversal();
    assert_eq!(blue.direction(), Direction::Blue);
    assert_eq!(blue.totals(), lines.totals());

    // A pair that nets to zero is left out; mixed rates and exempt lines mirror one by one.
    let lines = InvoiceLines::compute(
        vec![
            priced("3", "10.00", Incl, TaxRate::P13),
            line(Discounted, "5.00", Excl, TaxRate::P6),
            line(Discount, "-5.00", Excl, TaxRate::P6),
            line(Normal, "8.00", Excl, TaxRate::EXEMPT),
        ],
        Direction::Blue,
    );
    let Ok(lines) = lines else {
        panic!("{lines:?}")
    };
    let red = lines.full_reversal();
    let amounts: Vec<_> = red
        .lines()
        .iter()
        .map(|l| {
            (
                l.quantity().map(|q| q.to_string()),
                l.amount_excl(),
                l.tax(),
                l.rate(),
            )
        })
        .collect();
    assert_eq!(
        amounts,
        [
            (
                Some("-3".to_owned()),
                fen("-26.55"),
                fen("-3.45"),
                TaxRate::P13
            ),
            (None, fen("-8.00"), fen("0.00"), TaxRate::EXEMPT),
        ]
    );
    assert_eq!(red.totals().total, fen("-38.00"));
    let json = serde_json::to_string(&red).unwrap_or_default();
    assert_eq!(serde_json::from_str::<InvoiceLines>(&json).ok(), Some(red));
}

#[test]
fn tax_free_mark() {
    let lines = InvoiceLines::compute(
        vec![
            line(Normal, "8.00", Excl, TaxRate::EXEMPT),
            line(Normal, "2.00", Excl, TaxRate::NOT_TAXABLE),
        ],
        Direction::Blue,
    );
    assert_eq!(lines.map(|l| l.tax_free_mark()), Ok(true));
    let lines = InvoiceLines::compute(
        vec![
            line(Normal, "8.00", Excl, TaxRate::EXEMPT),
            line(Normal, "2.00", Excl, TaxRate::ZERO),
        ],
        Direction::Blue,
    );
    assert_eq!(lines.map(|l| l.tax_free_mark()), Ok(false));
}

#[test]
fn lines_serde_round_trip() {
    let lines = InvoiceLines::compute(
        vec![LineInput {
            spec: Some(" 大份 ".to_owned()),
            unit: Some("份".to_owned()),
            ..priced("3", "10.00", Incl, TaxRate::P6)
        }],
        Direction::Blue,
    );
    let Ok(lines) = lines else {
        panic!("{lines:?}")
    };
    assert_eq!(lines.lines()[0].spec(), Some("大份"));
    let json = serde_json::to_string(&lines).unwrap_or_default();
    assert_eq!(
        json,
        r#"{"direction":"blue","lines":[{"kind":"normal","name":"餐费","category":{"code":"3070401000000000000","short_name":"生产生活服务"},"spec":"大份","unit":"份","quantity":"3","unit_price_excl":"9.43333333","rate":"0.06","amount_excl":2830,"tax":170,"total":3000}],"totals":{"amount_excl":2830,"tax":170,"total":3000}}"#
    );
    assert_eq!(
        serde_json::from_str::<InvoiceLines>(&json).ok(),
        Some(lines)
    );
    let single = serde_json::from_str::<InvoiceLine>(
        r#"{"kind":"normal","name":"餐费","category":{"code":"3070401000000000000","short_name":"生产生活服务"},"quantity":"3","rate":"0.06","amount_excl":2830,"tax":170,"total":3000}"#,
    );
    assert_eq!(
        single.map_err(without_position),
        Err("line: quantity and unit_price come as a pair".to_owned())
    );
    let input = serde_json::from_str::<LineInput>(
        r#"{"kind":"normal","name":"餐费","category":{"code":"3070401000000000000","short_name":"生产生活服务"},"amount":10000,"basis":"tax_inclusive","rate":"6%"}"#,
    );
    assert_eq!(input.ok(), Some(line(Normal, "100.00", Incl, TaxRate::P6)));
}

/// `TaxCategoryCode::parse(code)` then `TaxCategory::new(_, short_name)` gives the short name or
/// the error message.
#[track_caller]
fn check_category(code: &str, short_name: Option<&str>, expected: Result<&str, &str>) {
    let got = TaxCategoryCode::parse(code)
        .and_then(|code| TaxCategory::new(code, short_name))
        .map(|category| category.short_name().to_owned())
        .map_err(|e| e.to_string());
    assert_eq!(got, expected.map(str::to_owned).map_err(str::to_owned));
}

#[test]
fn tax_categories() {
    // The latest embedded table (2026.6.1): 307 codes print 生产生活服务, 糕点 焙烤食品.
    check_category("3070401000000000000", None, Ok("生产生活服务"));
    check_category("3070402000000000000", None, Ok("生产生活服务"));
    check_category("1010101070000000000", None, Ok("谷物"));
    check_category("1030201010000000000", None, Ok("焙烤食品"));
    check_category("1090511030000000000", None, Ok("计算机外部设备"));
    check_category(
        "1090511030000000000",
        Some(" 计算机配套产品 "),
        Ok("计算机配套产品"),
    );
    check_category("3070401000000000000", Some("餐饮"), Ok("餐饮"));
    check_category(
        "1090511030000000099",
        None,
        Err(
            "tax_category.short_name: code 1090511030000000099 is not in the embedded table; give its short name (简称)",
        ),
    );
    check_category(
        "3070401000000000000",
        Some("*餐饮服务*"),
        Err(
            "tax_category.short_name: character 1 is '*', which is not allowed (no '*' or control characters)",
        ),
    );
    check_category(
        "3070401000000000000",
        Some(" "),
        Err("tax_category.short_name: must not be empty"),
    );
    check_category(
        "3070401000000000000",
        Some(&"餐".repeat(41)),
        Err("tax_category.short_name: 41 characters exceed the limit of 40"),
    );
    check_category(
        "307040100000000000",
        None,
        Err("tax_category_code: must be 19 digits, got 18"),
    );
    check_category(
        "3070a01000000000000",
        None,
        Err("tax_category_code: character 5 is 'a', expected a digit"),
    );
    check_category(
        "7070401000000000000",
        None,
        Err(
            "tax_category_code: character 1 is '7', expected 1–6 (1 goods, 2 labour services, 3 services, 4 intangible assets, 5 real estate, 6 non-taxable items)",
        ),
    );
    check_category(
        "0000000000000000000",
        None,
        Err(
            "tax_category_code: character 1 is '0', expected 1–6 (1 goods, 2 labour services, 3 services, 4 intangible assets, 5 real estate, 6 non-taxable items)",
        ),
    );
}

/// `ItemName::parse(input)` gives the trimmed name or the error message.
#[track_caller]
fn check_name(input: &str, expected: Result<&str, &str>) {
    let got = ItemName::parse(input)
        .map(|name| name.as_str().to_owned())
        .map_err(|e| e.to_string());
    assert_eq!(got, expected.map(str::to_owned).map_err(str::to_owned));
}

#[test]
fn item_names() {
    check_name(" 餐费 ", Ok("餐费"));
    assert_eq!(
        item("燕麦").face_name(&category("1010101070000000000")),
        "*谷物*燕麦"
    );
    check_name("*特价", Ok("*特价"));
    check_name("套餐*2", Ok("套餐*2"));
    check_name(
        "*餐饮服务*餐费",
        Err(
            "name: \"*餐饮服务*餐费\" already starts with a *餐饮服务* prefix; give the bare name, the prefix comes from the tax category",
        ),
    );
    check_name("", Err("name: must not be empty"));
    check_name(&"饭".repeat(90), Ok(&"饭".repeat(90)));
    check_name(
        &"饭".repeat(91),
        Err("name: 91 characters exceed the limit of 90"),
    );
    check_name(
        "餐\r费",
        Err("name: character 2 is '\\r', control characters are not allowed"),
    );
}

fn seller() -> Seller {
    let name = PartyName::parse("深圳某某餐饮有限公司").unwrap_or_else(|e| panic!("{e}"));
    let tax_id = TaxpayerId::parse("91440300708461136T").unwrap_or_else(|e| panic!("{e}"));
    Seller::new(name, tax_id, None, None, "李四").unwrap_or_else(|e| panic!("{e}"))
}

fn blue_lines() -> InvoiceLines {
    InvoiceLines::compute(
        vec![line(Normal, "300.00", Incl, TaxRate::P6)],
        Direction::Blue,
    )
    .unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn drafts() {
    let person = Buyer::individual(PartyName::parse("张三").unwrap_or_else(|e| panic!("{e}")));
    let company = Buyer::organization(
        PartyName::parse("某某科技有限公司").unwrap_or_else(|e| panic!("{e}")),
        TaxpayerId::parse("91410103MACRCE8H7P").ok(),
        None,
        None,
        None,
        None,
    )
    .unwrap_or_else(|e| panic!("{e}"));
    let draft = |kind, buyer: &Buyer, remark: Option<String>| {
        InvoiceDraft::new(kind, buyer.clone(), seller(), blue_lines(), remark)
    };
    assert_eq!(
        draft(InvoiceKind::DigitalSpecial, &person, None).map_err(|e| e.to_string()),
        Err(
            "buyer.tax_id: a 专票 (electronic special VAT invoice) needs the buyer's taxpayer id"
                .to_owned()
        )
    );
    let special = draft(
        InvoiceKind::DigitalSpecial,
        &company,
        Some(" 桌号 8 ".to_owned()),
    );
    let Ok(special) = special else {
        panic!("{special:?}")
    };
    assert_eq!(special.kind(), InvoiceKind::DigitalSpecial);
    assert_eq!(special.buyer(), &company);
    assert_eq!(special.seller().drawer(), "李四");
    assert_eq!(special.lines().totals().total, fen("300.00"));
    assert_eq!(special.remark(), Some("桌号 8"));
    let json = serde_json::to_string(&special).unwrap_or_default();
    assert_eq!(
        serde_json::from_str::<InvoiceDraft>(&json).ok(),
        Some(special)
    );

    let ordinary = draft(InvoiceKind::DigitalOrdinary, &person, Some("  ".to_owned()));
    assert_eq!(ordinary.map(|d| d.remark().map(str::to_owned)), Ok(None));
    assert!(
        draft(
            InvoiceKind::DigitalOrdinary,
            &person,
            Some("备".repeat(200))
        )
        .is_ok()
    );
    assert_eq!(
        draft(
            InvoiceKind::DigitalOrdinary,
            &person,
            Some("备".repeat(201))
        )
        .map_err(|e| e.to_string()),
        Err("remark: 201 characters exceed the limit of 200".to_owned())
    );
    assert_eq!(
        InvoiceKind::DigitalOrdinary.face_title(),
        "电子发票（普通发票）"
    );
    assert_eq!(
        InvoiceKind::DigitalSpecial.face_title(),
        "电子发票（增值税专用发票）"
    );
}

/// `InvoiceNumber::digital(input)` gives the number or the error message.
#[track_caller]
fn check_number(input: &str, expected: Result<(), &str>) {
    let got = InvoiceNumber::digital(input).map_err(|e| e.to_string());
    let expected = expected
        .map(|()| InvoiceNumber::Digital(input.to_owned()))
        .map_err(str::to_owned);
    assert_eq!(got, expected);
}

#[test]
fn invoice_numbers() {
    // §9.5.
    check_number("26412000000911845396", Ok(()));
    check_number("24132000000195423123", Ok(()));
    check_number(
        "2613200001552803991",
        Err("invoice_number: must be 20 digits, got 19"),
    );
    check_number(
        "2641200000091184539A",
        Err("invoice_number: character 20 is 'A', expected a digit"),
    );
    check_number("", Err("invoice_number: must be 20 digits, got 0"));
    let legacy = InvoiceNumber::legacy("044031900111", "00012345", "12345678901234567890");
    let Ok(legacy) = legacy else {
        panic!("{legacy:?}")
    };
    assert_eq!(
        (
            legacy.billing_code(),
            legacy.billing_no(),
            legacy.check_code()
        ),
        ("044031900111", "00012345", "12345678901234567890")
    );
    assert_eq!(legacy.to_string(), "044031900111-00012345");
    let error = |code, number, check_code| {
        InvoiceNumber::legacy(code, number, check_code).map_err(|e| e.to_string())
    };
    assert!(error("4403190011", "00012345", "12345678901234567890").is_ok());
    assert_eq!(
        error("44031900111", "00012345", "12345678901234567890"),
        Err("invoice_code: must be 10 or 12 digits, got 11".to_owned())
    );
    assert_eq!(
        error("044031900111", "12345", "12345678901234567890"),
        Err("invoice_number: must be 8 digits, got 5".to_owned())
    );
    assert_eq!(
        error("044031900111", "00012345", "12345 67890 12345 67890"),
        Err("check_code: character 6 is ' ', expected a digit".to_owned())
    );
    let digital = InvoiceNumber::digital("26412000000911845396").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        (
            digital.billing_code(),
            digital.billing_no(),
            digital.check_code()
        ),
        ("", "26412000000911845396", "")
    );
    assert_eq!(digital.to_string(), "26412000000911845396");

    let json = serde_json::to_string(&[&digital, &legacy]).unwrap_or_default();
    assert_eq!(
        json,
        r#"["26412000000911845396",{"code":"044031900111","number":"00012345","check_code":"12345678901234567890"}]"#
    );
    assert_eq!(
        serde_json::from_str::<Vec<InvoiceNumber>>(&json).ok(),
        Some(vec![digital, legacy])
    );
    assert!(
        serde_json::from_str::<InvoiceNumber>(r#""2613200001552803991""#)
            .is_err_and(|e| e.to_string() == "invoice_number: must be 20 digits, got 19")
    );
}

#[test]
fn red_reasons() {
    let all = [
        (
            RedReason::InvoicingError,
            "01",
            "开票有误",
            "invoicing_error",
            false,
        ),
        (
            RedReason::SalesReturn,
            "02",
            "销货退回",
            "sales_return",
            true,
        ),
        (
            RedReason::ServiceTermination,
            "03",
            "服务中止",
            "service_termination",
            true,
        ),
        (
            RedReason::SalesAllowance,
            "04",
            "销售折让",
            "sales_allowance",
            true,
        ),
    ];
    for (reason, code, label, json, partial) in all {
        assert_eq!(reason.sta_code(), code);
        assert_eq!(RedReason::from_sta_code(code), Some(reason));
        assert_eq!(reason.label(), label);
        assert_eq!(reason.allows_partial(), partial);
        assert_eq!(
            serde_json::to_string(&reason).ok(),
            Some(format!("\"{json}\""))
        );
    }
    assert_eq!(RedReason::from_sta_code("1"), None);
}

#[test]
fn issued_invoice_serde() {
    let red = IssuedInvoice {
        number: InvoiceNumber::digital("26412000000911845397").unwrap_or_else(|e| panic!("{e}")),
        kind: InvoiceKind::DigitalOrdinary,
        issued_at: Timestamp::from_unix_seconds(1_773_720_000),
        totals: blue_lines().full_reversal().totals(),
        qr_payload: None,
        provider_ref: ProviderRef::parse("24061712345678901234").ok(),
        red_of: Some(RedLink {
            original: InvoiceNumber::digital("26412000000911845396")
                .unwrap_or_else(|e| panic!("{e}")),
            red_form_number: Some("44030725051001117191".to_owned()),
            reason: RedReason::InvoicingError,
        }),
    };
    assert_eq!(red.totals.total, fen("-300.00"));
    assert_eq!(red.totals.amount_excl, fen("-283.02"));
    let json = serde_json::to_string(&red).unwrap_or_default();
    assert_eq!(serde_json::from_str::<IssuedInvoice>(&json).ok(), Some(red));
}
