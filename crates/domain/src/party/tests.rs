use super::*;

/// `Uscc::parse(input)` gives the normalised code and whether the inner check passes, or the
/// error message.
#[track_caller]
fn check(input: &str, expected: Result<(&str, bool), &str>) {
    let got = Uscc::parse(input)
        .map(|uscc| (uscc.as_str().to_owned(), uscc.inner_check_ok()))
        .map_err(|e| e.to_string());
    let expected = expected
        .map(|(code, inner)| (code.to_owned(), inner))
        .map_err(str::to_owned);
    assert_eq!(got, expected, "Uscc::parse({input:?})");
}

#[test]
fn uscc_valid() {
    // §9.1, valid: check character and inner GB 11714 check both pass.
    for code in [
        "91440300708461136T",
        "91410103MACRCE8H7P",
        "91620104MAELGLFD88",
        "91131003MA7HFPJJ1Y",
        "911305316610547945",
        "91440101MA5CJQ4N59",
        "913502000728319549",
        "123502001549897397",
        "9135021359498494XQ",
        "91350213678251743X",
        "12440300MB2C92173E",
        "91110000000000000E",
        "52110000123456788N",
    ] {
        check(code, Ok((code, true)));
    }
}

#[test]
fn uscc_invalid_and_edge() {
    // §9.1, invalid / edge.
    check(
        "91110108MA01KPGP0L",
        Err("tax_id: character 18 is 'L', expected check character 'Q'"),
    );
    check(
        "91350203M0001QAY9B",
        Err("tax_id: character 18 is 'B', expected check character '9'"),
    );
    check("91330106MA2B2ABCDN", Ok(("91330106MA2B2ABCDN", false)));
    for bad in ['I', 'Z', 'O', 'S', 'V'] {
        check(
            &format!("91440300708461136{bad}"),
            Err(&format!(
                "tax_id: character 18 is '{bad}', not in the USCC alphabet (digits and upper-case letters except I, O, S, V, Z)"
            )),
        );
    }
    check(
        "9144030070846113",
        Err("tax_id: a unified social credit code has 18 characters, got 16"),
    );
    check(
        "01440300708461136T",
        Err("tax_id: character 1 is '0', not a registration authority code (1–9, A, N, Y)"),
    );
    check("91440300708461136t", Ok(("91440300708461136T", true)));
    check(" 9144 0300 7084 6113 6t ", Ok(("91440300708461136T", true)));
    check(
        "9144030070846113６T",
        Err(
            "tax_id: character 17 is '６', not in the USCC alphabet (digits and upper-case letters except I, O, S, V, Z)",
        ),
    );
}

#[test]
fn uscc_inner_check_is_a_warning() {
    let uscc = Uscc::parse("91330106MA2B2ABCDN");
    assert_eq!(uscc.as_ref().map(Uscc::expected_inner_check), Ok('7'));
    assert_eq!(uscc.as_ref().map(Uscc::registration_authority), Ok('9'));
    let real = Uscc::parse("9135021359498494XQ");
    assert_eq!(real.as_ref().map(Uscc::expected_inner_check), Ok('X'));
    let zero = Uscc::parse("91110000000000000E");
    assert_eq!(zero.as_ref().map(Uscc::expected_inner_check), Ok('0'));
}

/// `TaxpayerId::parse(input)` gives `expected` (its variant as text) or the error message.
#[track_caller]
fn check_id(input: &str, expected: Result<&str, &str>) {
    let got = TaxpayerId::parse(input)
        .map(|id| format!("{id:?}"))
        .map_err(|e| e.to_string());
    let expected = expected.map(str::to_owned).map_err(str::to_owned);
    assert_eq!(got, expected, "TaxpayerId::parse({input:?})");
}

#[test]
fn taxpayer_ids() {
    check_id(
        "91440300708461136T",
        Ok(r#"Uscc(Uscc("91440300708461136T"))"#),
    );
    check_id(
        " 91440300708461136t",
        Ok(r#"Uscc(Uscc("91440300708461136T"))"#),
    );
    // A natural-person seller on a real 数电 invoice.
    check_id(
        "110108198211094915",
        Ok(r#"PersonalId("110108198211094915")"#),
    );
    check_id(
        "11010819821109491x",
        Err("tax_id: character 18 is 'X', expected resident id check character '5'"),
    );
    check_id(
        "110108198211094916",
        Err("tax_id: character 18 is '6', expected resident id check character '5'"),
    );
    // All digits but no birth date in positions 7–14: a USCC.
    check_id(
        "911305316610547945",
        Ok(r#"Uscc(Uscc("911305316610547945"))"#),
    );
    check_id(
        "911305316610547946",
        Err("tax_id: character 18 is '6', expected check character '5'"),
    );
    check_id(
        "91110108MA01KPGP0L",
        Err("tax_id: character 18 is 'L', expected check character 'Q'"),
    );
    check_id("110108123456789", Ok(r#"Legacy("110108123456789")"#));
    check_id("1101081234567890a", Ok(r#"Legacy("1101081234567890A")"#));
    check_id(
        "11010819821109491501",
        Ok(r#"Legacy("11010819821109491501")"#),
    );
    check_id(
        "1101081234567890",
        Err("tax_id: must be 15, 17, 18 or 20 characters, got 16"),
    );
    check_id(
        "110108-12345678",
        Err("tax_id: character 7 is '-', expected a digit or an upper-case letter"),
    );
    check_id("   ", Err("tax_id: must not be empty"));
}

#[test]
fn unverified_override() {
    let id = TaxpayerId::unverified("91350203m0001qay9b");
    assert_eq!(
        id,
        Ok(TaxpayerId::Unverified("91350203M0001QAY9B".to_owned()))
    );
    assert_eq!(
        id.as_ref().map(TaxpayerId::as_str),
        Ok("91350203M0001QAY9B")
    );
    assert_eq!(id.as_ref().map(TaxpayerId::is_unverified), Ok(true));
    let error = |input: &str| TaxpayerId::unverified(input).map_err(|e| e.to_string());
    assert_eq!(
        error("91350203M0001"),
        Err("tax_id: must be 15 to 20 characters, got 13".to_owned())
    );
    assert_eq!(
        error("123456789012345678901"),
        Err("tax_id: must be 15 to 20 characters, got 21".to_owned())
    );
    assert_eq!(
        error("91350203M0001QAY9-"),
        Err("tax_id: character 18 is '-', expected a digit or an upper-case letter".to_owned())
    );
    assert_eq!(error(""), Err("tax_id: must not be empty".to_owned()));
}

#[test]
fn taxpayer_id_serde() {
    let uscc = TaxpayerId::parse("91440300708461136T").ok();
    let json = uscc.as_ref().and_then(|id| serde_json::to_string(id).ok());
    assert_eq!(json.as_deref(), Some(r#""91440300708461136T""#));
    assert_eq!(
        serde_json::from_str::<TaxpayerId>(r#""91440300708461136T""#).ok(),
        uscc
    );
    let unverified = TaxpayerId::unverified("91350203M0001QAY9B").ok();
    let json = unverified
        .as_ref()
        .and_then(|id| serde_json::to_string(id).ok());
    assert_eq!(
        json.as_deref(),
        Some(r#"{"unverified":"91350203M0001QAY9B"}"#)
    );
    assert_eq!(
        json.and_then(|json| serde_json::from_str::<TaxpayerId>(&json).ok()),
        unverified
    );
    let person = serde_json::from_str::<TaxpayerId>(r#""110108198211094915""#).ok();
    assert_eq!(
        person,
        Some(TaxpayerId::PersonalId("110108198211094915".to_owned()))
    );
    let bad = serde_json::from_str::<TaxpayerId>(r#""91350203M0001QAY9B""#);
    assert!(bad.is_err_and(
        |e| e.to_string() == "tax_id: character 18 is 'B', expected check character '9'"
    ));
}

/// `PartyName::parse(input)` gives the trimmed name or the error message.
#[track_caller]
fn check_name(input: &str, expected: Result<&str, &str>) {
    let got = PartyName::parse(input)
        .map(|name| name.as_str().to_owned())
        .map_err(|e| e.to_string());
    let expected = expected.map(str::to_owned).map_err(str::to_owned);
    assert_eq!(got, expected, "PartyName::parse({input:?})");
}

#[test]
fn party_names() {
    check_name(
        "深圳市腾讯计算机系统有限公司",
        Ok("深圳市腾讯计算机系统有限公司"),
    );
    check_name("  Acme Ltd. ", Ok("Acme Ltd."));
    check_name("", Err("name: must not be empty"));
    check_name(" \t ", Err("name: must not be empty"));
    check_name(
        "A<B>",
        Err("name: character 2 is '<', which is not allowed (no '<', '>' or control characters)"),
    );
    check_name(
        "甲\n乙",
        Err("name: character 2 is '\\n', which is not allowed (no '<', '>' or control characters)"),
    );
    let fifty = "测".repeat(50);
    check_name(&fifty, Ok(&fifty));
    check_name(
        &"测".repeat(51),
        Err("name: 102 GBK bytes exceed the limit of 100"),
    );
    let hundred = "a".repeat(100);
    check_name(&hundred, Ok(&hundred));
    check_name(
        &format!("{}测", "a".repeat(99)),
        Err("name: 101 GBK bytes exceed the limit of 100"),
    );
    assert_eq!(gbk_len("ab测试（）"), 10);
}

fn name(text: &str) -> PartyName {
    PartyName::parse(text).unwrap_or_else(|e| panic!("{e}"))
}

fn some(text: &str) -> Option<String> {
    Some(text.to_owned())
}

#[test]
fn organization_buyers() {
    let tax_id = TaxpayerId::parse("91440300708461136T").ok();
    let buyer = Buyer::organization(
        name("深圳某某科技有限公司"),
        tax_id.clone(),
        some(" 深圳市南山区科技园 "),
        some(""),
        None,
        some("   "),
    );
    assert_eq!(
        buyer,
        Ok(Buyer::Organization {
            name: name("深圳某某科技有限公司"),
            tax_id: tax_id.clone(),
            address: some("深圳市南山区科技园"),
            phone: None,
            bank: None,
            account: None,
        })
    );
    let buyer = buyer.unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(buyer.name(), "深圳某某科技有限公司");
    assert_eq!(buyer.tax_id(), tax_id.as_ref());
    assert!(!buyer.is_natural_person());

    let error = |address: &str, phone: &str, bank: &str, account: &str| {
        Buyer::organization(
            name("某公司"),
            None,
            some(address),
            some(phone),
            some(bank),
            some(account),
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    let address = "地".repeat(44);
    assert_eq!(error(&address, "13800138000", "", ""), Ok(()));
    assert_eq!(error(&address, "0755-1234567", "", ""), Ok(()));
    assert_eq!(
        error(&"地".repeat(45), "13800138000", "", ""),
        Err("buyer.address + buyer.phone: 101 GBK bytes exceed the limit of 100".to_owned())
    );
    assert_eq!(
        error("", "", &"银".repeat(40), &"6".repeat(21)),
        Err("buyer.bank + buyer.account: 101 GBK bytes exceed the limit of 100".to_owned())
    );
}

#[test]
fn individual_buyers() {
    let buyer = Buyer::individual(name("张三"));
    assert_eq!(buyer.name(), "张三");
    assert_eq!(buyer.tax_id(), None);
    assert!(!buyer.is_natural_person());
    let id = TaxpayerId::parse("110108198211094915").ok();
    let person = Buyer::natural_person(name("张三"), id.clone());
    assert!(person.is_natural_person());
    assert_eq!(person.tax_id(), id.as_ref());
}

#[test]
fn buyer_serde() {
    let person = Buyer::natural_person(name("张三"), TaxpayerId::parse("110108198211094915").ok());
    let json = serde_json::to_string(&person).ok();
    assert_eq!(
        json.as_deref(),
        Some(
            r#"{"kind":"individual","name":"张三","personal_id":"110108198211094915","natural_person":true}"#
        )
    );
    assert_eq!(
        json.and_then(|json| serde_json::from_str::<Buyer>(&json).ok()),
        Some(person)
    );
    let minimal = serde_json::from_str::<Buyer>(r#"{"kind":"organization","name":"某公司"}"#);
    assert_eq!(
        minimal.ok(),
        Buyer::organization(name("某公司"), None, None, None, None, None).ok()
    );
    let too_long = format!(
        r#"{{"kind":"organization","name":"某公司","address":"{}","phone":"13800138000"}}"#,
        "地".repeat(45)
    );
    assert!(serde_json::from_str::<Buyer>(&too_long).is_err_and(|e| {
        e.to_string()
            .starts_with("buyer.address + buyer.phone: 101 GBK bytes")
    }));
    assert!(serde_json::from_str::<Buyer>(r#"{"kind":"individual","name":" "}"#).is_err());
}

#[test]
fn sellers() {
    let tax_id = TaxpayerId::parse("91440300708461136T").unwrap_or_else(|e| panic!("{e}"));
    let seller = Seller::new(
        name("深圳某某餐饮有限公司"),
        tax_id.clone(),
        some("深圳市福田区 0755-12345678"),
        some(" "),
        " 李四 ",
    );
    let Ok(seller) = seller else {
        panic!("{seller:?}")
    };
    assert_eq!(seller.name(), "深圳某某餐饮有限公司");
    assert_eq!(seller.tax_id(), &tax_id);
    assert_eq!(seller.address_phone(), Some("深圳市福田区 0755-12345678"));
    assert_eq!(seller.bank_account(), None);
    assert_eq!(seller.drawer(), "李四");
    let json = serde_json::to_string(&seller).ok();
    assert_eq!(
        json.and_then(|json| serde_json::from_str::<Seller>(&json).ok()),
        Some(seller)
    );

    let error = |address_phone: &str, drawer: &str| {
        Seller::new(
            name("某公司"),
            tax_id.clone(),
            some(address_phone),
            None,
            drawer,
        )
        .map(|_| ())
        .map_err(|e| e.to_string())
    };
    assert_eq!(
        error("", "  "),
        Err("seller.drawer: must not be empty".to_owned())
    );
    assert_eq!(
        error(&"地".repeat(51), "李四"),
        Err("seller.address_phone: 102 GBK bytes exceed the limit of 100".to_owned())
    );
    assert_eq!(
        error("", "李\u{7}四"),
        Err(
            "seller.drawer: character 2 is '\\u{7}', which is not allowed (no control characters)"
                .to_owned()
        )
    );
}
