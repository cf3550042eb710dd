use super::*;
use crate::testing::fixtures;

#[allow(clippy::unwrap_used)]
fn card() -> InvoiceCardData {
    InvoiceCardData {
        fee: fixtures::fen("100.00"),
        title: "张三".into(),
        billing_time: Timestamp::from_unix_seconds(1_780_000_000),
        billing_no: "26009000000000000001".into(),
        billing_code: String::new(),
        info: vec![CardItem {
            name: "*餐饮服务*餐费".into(),
            num: Some(1),
            unit: None,
            price: fixtures::fen("94.34"),
        }],
        fee_without_tax: fixtures::fen("94.34"),
        tax: fixtures::fen("5.66"),
        pdf_media_id: MediaId::parse("3015806758683707").unwrap(),
        trip_pdf_media_id: None,
        check_code: String::new(),
        buyer_number: None,
        buyer_address_and_phone: None,
        buyer_bank_account: None,
        seller_number: None,
        seller_address_and_phone: None,
        seller_bank_account: None,
        remarks: None,
        cashier: None,
        maker: None,
    }
}

fn check_card(edit: fn(&mut InvoiceCardData), expected: Option<&str>) {
    let mut data = card();
    edit(&mut data);
    let got = data.validate().err().map(|e| e.to_string());
    match expected {
        None => assert_eq!(got, None),
        Some(text) => assert!(
            got.as_deref().is_some_and(|g| g.starts_with(text)),
            "{got:?} should start with {text:?}"
        ),
    }
}

#[test]
fn card_payload_is_validated_field_by_field() {
    check_card(|_| {}, None);
    check_card(
        |d| d.fee = fixtures::fen("100.01"),
        Some(
            "invoice_user_data.fee: must equal fee_without_tax + tax (9434 + 566 fen), got 10001 fen",
        ),
    );
    check_card(
        |d| d.title = " ".into(),
        Some("invoice_user_data.title: must not be empty"),
    );
    check_card(
        |d| d.billing_no = "2600900000000000000".into(),
        Some(
            "invoice_user_data.billing_no: a 数电 invoice (empty billing_code) needs a 20-digit number",
        ),
    );
    check_card(
        |d| d.check_code = "1".into(),
        Some("invoice_user_data.check_code: must be empty for a 数电 invoice"),
    );
    check_card(
        |d| {
            d.billing_code = "044031900111".into();
            d.billing_no = "00012345".into();
            d.check_code = "12345678901234567890".into();
        },
        None,
    );
    check_card(
        |d| {
            d.billing_code = "044031900111".into();
            d.billing_no = "00012345".into();
        },
        Some("invoice_user_data.check_code: a legacy invoice needs its 20-digit check code"),
    );
    check_card(
        |d| d.info[0].price = fixtures::fen("-1.00"),
        Some("invoice_user_data.info[].price"),
    );
    check_card(
        |d| d.billing_time = Timestamp::from_millis(0),
        Some("invoice_user_data.billing_time"),
    );
}

#[test]
fn card_template_title_is_short() {
    let mut template = CardTemplate {
        payee: "沙箱餐饮有限公司".into(),
        invoice_type: "电子发票（普通发票）".into(),
        title: "沙箱餐饮".into(),
        logo_url: "https://example.invalid/logo.png".into(),
        custom_url: None,
        promotion_url: None,
    };
    assert_eq!(template.validate(), Ok(()));
    template.title = "沙箱餐饮有限公司北京分店".into();
    assert!(
        template
            .validate()
            .unwrap_err()
            .to_string()
            .starts_with("invoice_info.base_info.title: at most 9")
    );
}

#[allow(clippy::unwrap_used)]
fn auth_event(outcome: AuthOutcome, create_time: i64) -> WeixinEvent {
    WeixinEvent::Authorization(AuthorizationEvent {
        openid: OpenId::parse("oZI8Fj040-be6rlDohc6gkoPOQTQ").unwrap(),
        create_time: Timestamp::from_unix_seconds(create_time),
        outcome,
        authorize_appid: None,
        source: Some(AuthSource::Web),
        s_pappid: None,
    })
}

#[test]
#[allow(clippy::unwrap_used)]
fn dedupe_keys_follow_business_identity() {
    let order = OrderId::parse("1202933957956").unwrap();
    let first = auth_event(AuthOutcome::Succeeded(order.clone()), 1_475_134_700);
    let retried_later = auth_event(AuthOutcome::Succeeded(order.clone()), 1_475_134_705);
    let failed = auth_event(AuthOutcome::Failed(order), 1_475_134_700);
    assert_eq!(first.dedupe_key(), "auth:ok:-:1202933957956");
    assert_eq!(first.dedupe_key(), retried_later.dedupe_key());
    assert_ne!(first.dedupe_key(), failed.dedupe_key());

    let status = |s: ReimburseStatus, t: i64| {
        WeixinEvent::InvoiceStatus(InvoiceStatusEvent {
            openid: OpenId::parse("o1").unwrap(),
            create_time: Timestamp::from_unix_seconds(t),
            status: s,
            card_id: CardId::parse("pCard").unwrap(),
            code: CardCode::parse("186921658591").unwrap(),
        })
    };
    assert_eq!(
        status(ReimburseStatus::Lock, 10).dedupe_key(),
        "status:pCard:186921658591:INVOICE_REIMBURSE_LOCK:10"
    );
    assert_ne!(
        status(ReimburseStatus::Lock, 10).dedupe_key(),
        status(ReimburseStatus::Lock, 20).dedupe_key()
    );
}

#[test]
fn errcodes_are_classified_by_number() {
    assert_eq!(classify_errcode(40001), ErrorClass::Token);
    assert_eq!(classify_errcode(42001), ErrorClass::Token);
    assert_eq!(classify_errcode(-1), ErrorClass::Transient);
    assert_eq!(classify_errcode(45009), ErrorClass::Transient);
    assert_eq!(classify_errcode(72035), ErrorClass::Business);
    assert_eq!(
        WeixinError::Unavailable("reset".into()).class(),
        ErrorClass::Transient
    );
}

#[test]
fn auth_data_title_becomes_a_buyer() {
    let data = |personal: Option<PersonalTitle>, company: Option<CompanyTitle>| AuthData {
        status: AuthStatus::AuthSuccess,
        auth_time: None,
        personal,
        company,
    };
    let person = PersonalTitle {
        title: "张三".into(),
        ..PersonalTitle::default()
    };
    let company = CompanyTitle {
        title: "深圳市腾讯计算机系统有限公司".into(),
        tax_no: Some("91440300708461136T".into()),
        ..CompanyTitle::default()
    };
    let got = data(Some(person.clone()), None)
        .buyer()
        .ok()
        .flatten()
        .map(|t| t.buyer.name().to_owned());
    assert_eq!(got.as_deref(), Some("张三"));
    let got = data(Some(person), Some(company.clone()))
        .buyer()
        .ok()
        .flatten();
    assert!(
        got.as_ref()
            .is_some_and(|t| t.buyer.tax_id().is_some() && t.warning.is_none())
    );
    assert_eq!(data(None, None).buyer(), Ok(None));

    // A credit code with a wrong check character is kept unverified, with a warning.
    let odd = CompanyTitle {
        tax_no: Some("91110108MA01KPGP0L".into()),
        ..company.clone()
    };
    let got = data(None, Some(odd)).buyer().ok().flatten();
    assert!(got.is_some_and(|t| t.warning.is_some_and(|w| w.contains("unverified"))));
    // Garbage is refused.
    let garbage = CompanyTitle {
        tax_no: Some("not a tax id!".into()),
        ..company
    };
    assert!(data(None, Some(garbage)).buyer().is_err());
}
