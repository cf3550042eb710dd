use rust_decimal_macros::dec;

use super::*;

fn fen(yuan: &str) -> Fen {
    Fen::parse_yuan(yuan).unwrap_or_else(|e| panic!("{e}"))
}

/// `TaxRate::parse(input)` gives the rate with `(code, label)` or the error message.
#[track_caller]
fn check(input: &str, expected: Result<(&str, &str), &str>) {
    let got = TaxRate::parse(input)
        .map(|rate| (rate.code(), rate.label()))
        .map_err(|e| e.to_string());
    let expected = expected
        .map(|(code, label)| (code.to_owned(), label.to_owned()))
        .map_err(str::to_owned);
    assert_eq!(got, expected, "TaxRate::parse({input:?})");
}

#[test]
fn rates() {
    check("0.13", Ok(("0.13", "13%")));
    check("13%", Ok(("0.13", "13%")));
    check("0.130", Ok(("0.13", "13%")));
    check("0.09", Ok(("0.09", "9%")));
    check("6%", Ok(("0.06", "6%")));
    check("0.05", Ok(("0.05", "5%")));
    check("3%", Ok(("0.03", "3%")));
    check("0.01", Ok(("0.01", "1%")));
    check("0.015", Ok(("0.015", "1.5%")));
    check("1.5%", Ok(("0.015", "1.5%")));
    check("0.005", Ok(("0.005", "0.5%")));
    check("0.5%", Ok(("0.005", "0.5%")));
    check("0", Ok(("0", "0%")));
    check("0%", Ok(("0", "0%")));
    check("0.00", Ok(("0", "0%")));
    check("export_zero", Ok(("export_zero", "0%")));
    check("出口零税率", Ok(("export_zero", "0%")));
    check("exempt", Ok(("exempt", "免税")));
    check("免税", Ok(("exempt", "免税")));
    check("not_taxable", Ok(("not_taxable", "不征税")));
    check("不征税", Ok(("not_taxable", "不征税")));
    let allowed = "allowed: 0.13, 0.09, 0.06, 0.05, 0.03, 0.015, 0.01, 0.005, 0, export_zero, exempt, not_taxable";
    for bad in [
        "0.14", "17%", "0.17", "13", "-0.13", "+0.13", " 0.13", "0.13 ", "1e-1", ".13", "0.", "%",
        "", "Exempt", "0.13%%",
    ] {
        check(
            bad,
            Err(&format!(
                "tax_rate: {bad:?} is not an allowed rate ({allowed})"
            )),
        );
    }
}

#[test]
fn rate_properties() {
    assert_eq!(TaxRate::P13.fraction(), dec!(0.13));
    assert_eq!(TaxRate::P1_5.fraction(), dec!(0.015));
    assert_eq!(TaxRate::P0_5.fraction().to_string(), "0.005");
    for zero in [
        TaxRate::ZERO,
        TaxRate::EXPORT_ZERO,
        TaxRate::EXEMPT,
        TaxRate::NOT_TAXABLE,
    ] {
        assert_eq!(zero.fraction(), Decimal::ZERO);
        assert!(zero.is_zero());
    }
    assert!(TaxRate::EXEMPT.is_tax_free_mark() && TaxRate::NOT_TAXABLE.is_tax_free_mark());
    assert!(!TaxRate::ZERO.is_tax_free_mark() && !TaxRate::EXPORT_ZERO.is_tax_free_mark());
    assert_ne!(TaxRate::ZERO, TaxRate::EXPORT_ZERO);
    assert_eq!(format!("{:?}", TaxRate::P9), "TaxRate(0.09)");
    assert_eq!(TaxRate::P6.to_string(), "0.06");
}

#[test]
fn rate_serde_uses_the_code() {
    assert_eq!(
        serde_json::to_string(&[TaxRate::P1_5, TaxRate::EXEMPT]).ok(),
        Some(r#"["0.015","exempt"]"#.to_owned())
    );
    assert_eq!(
        serde_json::from_str::<TaxRate>(r#""13%""#).ok(),
        Some(TaxRate::P13)
    );
    assert!(serde_json::from_str::<TaxRate>(r#""0.17""#).is_err());
    assert_eq!(
        serde_json::to_string(&(PriceBasis::TaxInclusive, LineKind::Discounted)).ok(),
        Some(r#"["tax_inclusive","discounted"]"#.to_owned())
    );
}

/// `split(amount, basis, rate)` gives `(金额, 税额, 价税合计)`.
#[track_caller]
fn check_split(amount: &str, basis: PriceBasis, rate: TaxRate, expected: (&str, &str, &str)) {
    let got = split(fen(amount), basis, rate).map(|s| (s.amount_excl, s.tax, s.total()));
    let (excl, tax, total) = expected;
    assert_eq!(
        got,
        Ok((fen(excl), fen(tax), Some(fen(total)))),
        "{amount} {basis:?} {rate:?}"
    );
}

#[test]
fn splits() {
    use PriceBasis::{TaxExclusive as Excl, TaxInclusive as Incl};
    // §9.3.
    check_split("100.00", Incl, TaxRate::P6, ("94.34", "5.66", "100.00"));
    check_split("300.00", Incl, TaxRate::P6, ("283.02", "16.98", "300.00"));
    check_split(
        "7995.90",
        Incl,
        TaxRate::P1,
        ("7916.73", "79.17", "7995.90"),
    );
    check_split(
        "-14000.00",
        Incl,
        TaxRate::P13,
        ("-12389.38", "-1610.62", "-14000.00"),
    );
    check_split("113.00", Incl, TaxRate::P13, ("100.00", "13.00", "113.00"));
    check_split("1.00", Incl, TaxRate::P13, ("0.88", "0.12", "1.00"));
    check_split("10.00", Incl, TaxRate::P9, ("9.17", "0.83", "10.00"));
    check_split("50.00", Incl, TaxRate::P3, ("48.54", "1.46", "50.00"));
    check_split("0.01", Incl, TaxRate::P13, ("0.01", "0.00", "0.01"));
    check_split("100.00", Excl, TaxRate::P13, ("100.00", "13.00", "113.00"));
    check_split("0.10", Excl, TaxRate::P6, ("0.10", "0.01", "0.11"));
    check_split("33.33", Excl, TaxRate::P3, ("33.33", "1.00", "34.33"));
    check_split("30.00", Incl, TaxRate::P13, ("26.55", "3.45", "30.00"));
    // §2.3, real invoices.
    check_split(
        "1265.77",
        Incl,
        TaxRate::P1,
        ("1253.24", "12.53", "1265.77"),
    );
    check_split(
        "14000.00",
        Incl,
        TaxRate::P13,
        ("12389.38", "1610.62", "14000.00"),
    );
    // Zero rates, and symmetric rounding of negative amounts.
    check_split(
        "100.00",
        Incl,
        TaxRate::EXEMPT,
        ("100.00", "0.00", "100.00"),
    );
    check_split(
        "100.00",
        Excl,
        TaxRate::NOT_TAXABLE,
        ("100.00", "0.00", "100.00"),
    );
    check_split("-0.10", Excl, TaxRate::P6, ("-0.10", "-0.01", "-0.11"));
    check_split("-1.00", Incl, TaxRate::P13, ("-0.88", "-0.12", "-1.00"));
    check_split("-60.00", Excl, TaxRate::P13, ("-60.00", "-7.80", "-67.80"));
    check_split("1.00", Incl, TaxRate::P1_5, ("0.99", "0.01", "1.00"));
    check_split("100.00", Excl, TaxRate::P0_5, ("100.00", "0.50", "100.50"));
    // The split of the largest amount exists; its total does not fit.
    assert_eq!(
        split(Fen::new(i64::MAX), Excl, TaxRate::P13).map(|s| s.total()),
        Ok(None)
    );
}

#[test]
fn extend_rounds_quantity_times_price() {
    let check = |quantity: &str, price: &str, expected: Result<&str, &str>| {
        let got = Quantity::parse(quantity)
            .ok()
            .zip(UnitPrice::parse(price).ok())
            .map(|(q, p)| extend(q, p).map_err(|e| e.to_string()));
        assert_eq!(
            got,
            Some(expected.map(fen).map_err(str::to_owned)),
            "{quantity} × {price}"
        );
    };
    check("3", "33.33333333", Ok("100.00"));
    check("3", "10.00", Ok("30.00"));
    check("3", "8.85", Ok("26.55"));
    check("-0.5", "24778.76", Ok("-12389.38"));
    check("0.5", "0.01", Ok("0.01"));
    check("-0.5", "0.01", Ok("-0.01"));
    check(
        "99999999999999",
        "99999999999999.99999999",
        Err("数量 × 单价 is out of range"),
    );
}

/// `check_line_tax(amount_excl, tax, rate)` gives `金额 × r − 税额` or the error message.
#[track_caller]
fn check_tax(amount_excl: &str, tax: &str, rate: TaxRate, expected: Result<Decimal, &str>) {
    let got = check_line_tax(fen(amount_excl), fen(tax), rate).map_err(|e| e.to_string());
    assert_eq!(
        got,
        expected.map_err(str::to_owned),
        "{amount_excl} {tax} {rate:?}"
    );
}

#[test]
fn line_tolerance() {
    // §9.3 tolerance rows.
    check_tax("100.00", "13.06", TaxRate::P13, Ok(dec!(-0.06)));
    check_tax(
        "100.00",
        "13.07",
        TaxRate::P13,
        Err("|金额 × 税率 − 税额| = 0.07 exceeds the 0.06 tolerance"),
    );
    check_tax("100.00", "12.94", TaxRate::P13, Ok(dec!(0.06)));
    check_tax(
        "100.00",
        "12.93",
        TaxRate::P13,
        Err("|金额 × 税率 − 税额| = 0.07 exceeds the 0.06 tolerance"),
    );
    check_tax("0.88", "0.12", TaxRate::P13, Ok(dec!(-0.0056)));
    check_tax("-12389.38", "-1610.62", TaxRate::P13, Ok(dec!(0.0006)));
    check_tax("100.00", "0.00", TaxRate::EXEMPT, Ok(Decimal::ZERO));
    check_tax(
        "100.00",
        "0.01",
        TaxRate::EXEMPT,
        Err("税额 must be 0.00 at rate exempt, got 0.01"),
    );
    check_tax(
        "100.00",
        "0.01",
        TaxRate::ZERO,
        Err("税额 must be 0.00 at rate 0, got 0.01"),
    );
}

/// `check_quantity_price(quantity, price, amount)` passes or fails with the message.
#[track_caller]
fn check_extension(quantity: &str, price: &str, amount: &str, expected: Result<(), &str>) {
    let got = Quantity::parse(quantity)
        .ok()
        .zip(UnitPrice::parse(price).ok())
        .map(|(q, p)| check_quantity_price(q, p, fen(amount)).map_err(|e| e.to_string()));
    assert_eq!(got, Some(expected.map_err(str::to_owned)));
}

#[test]
fn quantity_price_tolerance() {
    // §9.3 tolerance rows.
    check_extension("3", "8.85", "26.56", Ok(()));
    check_extension(
        "3",
        "8.85",
        "26.57",
        Err("|round2(数量 × 单价) − 金额| = |26.55 − 26.57| = 0.02 exceeds the 0.01 tolerance"),
    );
    check_extension("3", "8.85", "26.54", Ok(()));
    check_extension("3", "8.85", "26.55", Ok(()));
    check_extension(
        "-3",
        "8.85",
        "-26.58",
        Err("|round2(数量 × 单价) − 金额| = |-26.55 − -26.58| = 0.03 exceeds the 0.01 tolerance"),
    );
}

#[test]
fn invoice_tolerance() {
    // §9.3: 127 lines of inclusive 1.00 at 13 % pass, 128 fail.
    let one = split(fen("1.00"), PriceBasis::TaxInclusive, TaxRate::P13);
    let Ok(one) = one else { panic!("{one:?}") };
    let difference = check_line_tax(one.amount_excl, one.tax, TaxRate::P13);
    assert_eq!(difference, Ok(dec!(-0.0056)));
    let difference = difference.unwrap_or_default();
    assert_eq!(
        check_invoice_tax(std::iter::repeat_n(difference, 127)),
        Ok(fen("-1.27"))
    );
    assert_eq!(
        check_invoice_tax(std::iter::repeat_n(difference, 128)).map_err(|e| e.to_string()),
        Err(
            "Σ round2(金额 × 税率 − 税额) over all lines = -1.28 exceeds the ±1.27 tolerance; split the invoice"
                .to_owned()
        )
    );
    // Each difference is rounded before summing: 0.004 rounds to 0.00 however often it occurs.
    assert_eq!(
        check_invoice_tax(std::iter::repeat_n(dec!(0.004), 2000)),
        Ok(Fen::ZERO)
    );
    assert_eq!(
        check_invoice_tax([dec!(0.005), dec!(-0.005)]),
        Ok(Fen::ZERO)
    );
    assert_eq!(check_invoice_tax([dec!(0.06); 21]), Ok(fen("1.26")));
    assert!(check_invoice_tax([dec!(0.06); 22]).is_err());
}

#[test]
fn tax_first_method_agrees_on_every_small_amount() {
    // §2.3: computing 税额 first (round2(含税 × r / (1 + r))) gives the same split for the
    // amounts 0.01–1999.99 at 13/9/6/3/1 % (every one up to 200.00, a sample above, to keep
    // debug test runs fast), and no line strays beyond the tolerance.
    for rate in [
        TaxRate::P13,
        TaxRate::P9,
        TaxRate::P6,
        TaxRate::P3,
        TaxRate::P1,
    ] {
        let r = rate.fraction();
        let factor = r / (Decimal::ONE + r);
        for cents in (1..20_000).chain((20_000..200_000).step_by(7)) {
            let amount = Fen::new(cents);
            let got = split(amount, PriceBasis::TaxInclusive, rate);
            let tax = Fen::round_half_up(amount.to_decimal() * factor);
            let expected = tax.map(|tax| TaxSplit {
                amount_excl: Fen::new(cents - tax.get()),
                tax,
            });
            assert_eq!(
                got.as_ref().ok(),
                expected.as_ref().ok(),
                "{amount} at {rate:?}"
            );
            if let Ok(got) = got {
                assert!(check_line_tax(got.amount_excl, got.tax, rate).is_ok());
            }
        }
    }
}
