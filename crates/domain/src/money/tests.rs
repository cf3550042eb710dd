use rust_decimal_macros::dec;

use super::*;

/// `Fen::parse_yuan(input)` gives `expected` fen or the error message.
#[track_caller]
fn check(input: &str, expected: Result<i64, &str>) {
    let got = Fen::parse_yuan(input)
        .map(Fen::get)
        .map_err(|e| e.to_string());
    assert_eq!(
        got,
        expected.map_err(str::to_owned),
        "parse_yuan({input:?})"
    );
}

#[test]
fn parse_yuan() {
    check("12.34", Ok(1234));
    check("-0.5", Ok(-50));
    check("100", Ok(10000));
    check("0", Ok(0));
    check("-0", Ok(0));
    check("0.1", Ok(10));
    check("-0.05", Ok(-5));
    check("007.00", Ok(700));
    check("92233720368547758.07", Ok(i64::MAX));
    check("-92233720368547758.08", Ok(i64::MIN));
    check(
        "92233720368547758.08",
        Err("amount: 92233720368547758.08 is out of range"),
    );
    check(
        "1.234",
        Err("amount: 1.234 has 3 decimal places, at most 2 are allowed"),
    );
    let syntax = |input: &str| {
        format!(
            "amount: {input:?} is not a decimal number (expected digits, an optional leading '-' and an optional '.' with digits after it)"
        )
    };
    for bad in [
        "", "-", "1e3", " 1", "1 ", "+1", "1.", ".5", "1,000", "1_000", "１", "--1", "1.2.3", "¥1",
    ] {
        check(bad, Err(&syntax(bad)));
    }
}

#[test]
fn yuan_strings() {
    for (fen, text) in [
        (1234, "12.34"),
        (-5, "-0.05"),
        (0, "0.00"),
        (100, "1.00"),
        (-1_400_000, "-14000.00"),
        (i64::MIN, "-92233720368547758.08"),
        (i64::MAX, "92233720368547758.07"),
    ] {
        assert_eq!(Fen::new(fen).to_yuan_string(), text);
        assert_eq!(Fen::new(fen).to_string(), text);
        assert_eq!(Fen::parse_yuan(text), Ok(Fen::new(fen)));
    }
}

#[test]
fn decimals() {
    assert_eq!(Fen::new(1234).to_decimal(), dec!(12.34));
    assert_eq!(Fen::new(-5).to_decimal().to_string(), "-0.05");
    assert_eq!(Fen::from_decimal_exact(dec!(12.340)), Ok(Fen::new(1234)));
    assert_eq!(Fen::from_decimal_exact(dec!(-3)), Ok(Fen::new(-300)));
    assert_eq!(
        Fen::from_decimal_exact(dec!(1.001)).map_err(|e| e.to_string()),
        Err("amount: 1.001 has 3 decimal places, at most 2 are allowed".to_owned())
    );
    assert_eq!(
        Fen::from_decimal_exact(dec!(100000000000000000)).map_err(|e| e.to_string()),
        Err("amount: 100000000000000000 is out of range".to_owned())
    );
}

#[test]
fn round_half_up() {
    for (value, fen) in [
        (dec!(0.005), 1),
        (dec!(-0.005), -1),
        (dec!(0.0049999), 0),
        (dec!(-0.0049999), 0),
        (dec!(1.125), 113),
        (dec!(1.135), 114),
        (dec!(2.5), 250),
        (dec!(12389.380530973451327433628319), 1_238_938),
    ] {
        assert_eq!(Fen::round_half_up(value), Ok(Fen::new(fen)), "{value}");
    }
    assert!(Fen::round_half_up(Decimal::MAX).is_err());
}

#[test]
fn checked_arithmetic() {
    let max = Fen::new(i64::MAX);
    assert_eq!(max.checked_add(Fen::new(1)), None);
    assert_eq!(Fen::new(i64::MIN).checked_sub(Fen::new(1)), None);
    assert_eq!(Fen::new(i64::MIN).checked_neg(), None);
    assert_eq!(Fen::new(i64::MIN).checked_abs(), None);
    assert_eq!(Fen::new(5).checked_sub(Fen::new(7)), Some(Fen::new(-2)));
    assert_eq!(Fen::new(-7).checked_abs(), Some(Fen::new(7)));
    assert_eq!(
        Fen::checked_sum([Fen::new(1), Fen::new(2), Fen::new(-4)]),
        Some(Fen::new(-1))
    );
    assert_eq!(Fen::checked_sum([max, Fen::new(1), Fen::new(-1)]), None);
    assert!(Fen::new(-1).is_negative() && !Fen::new(-1).is_positive());
    assert!(Fen::ZERO.is_zero() && !Fen::ZERO.is_negative() && !Fen::ZERO.is_positive());
    assert_eq!(Fen::default(), Fen::ZERO);
}

#[test]
fn fen_serde_is_a_plain_integer() {
    assert_eq!(
        serde_json::to_string(&Fen::new(-1234)).ok(),
        Some("-1234".to_owned())
    );
    assert_eq!(
        serde_json::from_str::<Fen>("61020").ok(),
        Some(Fen::new(61020))
    );
}

#[test]
fn in_words_delegates_to_capital() {
    assert_eq!(Fen::new(61020).in_words(), "陆佰壹拾圆贰角整");
    assert_eq!(Fen::new(-1_400_000).in_words(), "（负数）壹万肆仟圆整");
}

/// `UnitPrice::parse(input)` gives `expected` (its display) or the error message.
#[track_caller]
fn check_price(input: &str, expected: Result<&str, &str>) {
    let got = UnitPrice::parse(input)
        .map(|price| price.to_string())
        .map_err(|e| e.to_string());
    let expected = expected.map(str::to_owned).map_err(str::to_owned);
    assert_eq!(got, expected, "UnitPrice::parse({input:?})");
}

#[test]
fn unit_prices() {
    check_price("8.85", Ok("8.85"));
    check_price("8.850", Ok("8.85"));
    check_price("100", Ok("100"));
    check_price("100.00", Ok("100"));
    check_price("33.33333333", Ok("33.33333333"));
    check_price("0.00000001", Ok("0.00000001"));
    check_price("1.000000000", Ok("1"));
    check_price(
        "0.000000001",
        Err("unit_price: 0.000000001 has 9 decimal places, at most 8 are allowed"),
    );
    check_price("0", Err("unit_price: must be positive, got 0"));
    check_price("-1.5", Err("unit_price: must be positive, got -1.5"));
    check_price(
        "1e2",
        Err(
            "unit_price: \"1e2\" is not a decimal number (expected digits, an optional leading '-' and an optional '.' with digits after it)",
        ),
    );
    check_price(
        "99999999999999999999999999999",
        Err("unit_price: 99999999999999999999999999999 is out of range"),
    );
    assert_eq!(
        UnitPrice::new(dec!(8.8500)).map(UnitPrice::get),
        Ok(dec!(8.85))
    );
}

/// `Quantity::parse(input)` gives `expected` (its display) or the error message.
#[track_caller]
fn check_quantity(input: &str, expected: Result<&str, &str>) {
    let got = Quantity::parse(input)
        .map(|quantity| quantity.to_string())
        .map_err(|e| e.to_string());
    let expected = expected.map(str::to_owned).map_err(str::to_owned);
    assert_eq!(got, expected, "Quantity::parse({input:?})");
}

#[test]
fn quantities() {
    check_quantity("3", Ok("3"));
    check_quantity("3.000", Ok("3"));
    check_quantity("-0.5", Ok("-0.5"));
    check_quantity("0.12345678", Ok("0.12345678"));
    check_quantity("0", Err("quantity: must not be zero"));
    check_quantity("-0.00", Err("quantity: must not be zero"));
    check_quantity(
        "1.123456789",
        Err("quantity: 1.123456789 has 9 decimal places, at most 8 are allowed"),
    );
    let quantity = Quantity::parse("-2.5").ok();
    assert_eq!(quantity.map(Quantity::is_negative), Some(true));
    assert_eq!(
        quantity.map(|q| q.negated().to_string()),
        Some("2.5".to_owned())
    );
    assert_eq!(quantity.map(Quantity::is_integer), Some(false));
    assert_eq!(Quantity::parse("4.00").map(Quantity::is_integer), Ok(true));
}

#[test]
fn decimal_serde_is_a_trimmed_string() {
    let price = UnitPrice::parse("8.8500").ok();
    assert_eq!(
        price.and_then(|p| serde_json::to_string(&p).ok()),
        Some("\"8.85\"".to_owned())
    );
    assert_eq!(
        serde_json::from_str::<Quantity>("\"-3\"").ok(),
        Quantity::parse("-3").ok()
    );
    assert!(serde_json::from_str::<UnitPrice>("\"0\"").is_err());
    assert!(serde_json::from_str::<Quantity>("3").is_err());
}
