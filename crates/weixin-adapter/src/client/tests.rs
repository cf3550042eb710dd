use super::*;

#[test]
fn answers_are_checked_before_parsing() {
    let ok: Result<wire::SetPdfResponse, _> =
        parse_answer("setpdf", br#"{"errcode":0,"errmsg":"ok","s_media_id":"1"}"#);
    assert_eq!(ok.map(|r| r.s_media_id).ok().as_deref(), Some("1"));
    let err: Result<wire::SetPdfResponse, _> = parse_answer(
        "setpdf",
        br#"{"errcode":72040,"errmsg":"invoice pdf error rid: 66b5fb8f-5e3c0071-3d7f539a"}"#,
    );
    assert!(matches!(err, Err(CallError::Api { errcode: 72040, .. })));
    let garbage: Result<wire::SetPdfResponse, _> = parse_answer("setpdf", b"<html>502</html>");
    assert!(matches!(
        garbage,
        Err(CallError::Decode {
            endpoint: "setpdf",
            ..
        })
    ));
}

#[test]
fn classification_uses_errcode_only() {
    let api = |errcode| CallError::Api {
        errcode,
        errmsg: "access_token is invalid or not latest".to_owned(),
    };
    assert_eq!(api(40001).class(), ErrorClass::Token);
    assert_eq!(api(40014).class(), ErrorClass::Token);
    assert_eq!(api(42001).class(), ErrorClass::Token);
    assert_eq!(api(41001).class(), ErrorClass::Token);
    assert_eq!(api(-1).class(), ErrorClass::Transient);
    assert_eq!(api(45009).class(), ErrorClass::Transient);
    // The errmsg says "access_token" but the code is a business one.
    assert_eq!(api(72038).class(), ErrorClass::Business);
    assert_eq!(api(72063).class(), ErrorClass::Business);
    assert_eq!(
        CallError::Http { status: 502 }.class(),
        ErrorClass::Transient
    );
    assert_eq!(
        CallError::Http { status: 404 }.class(),
        ErrorClass::Business
    );
    assert!(api(-1).retry_now(true));
    // A busy answer to a call that is not idempotent may follow an applied request.
    assert!(!api(-1).retry_now(false));
    assert!(!api(45009).retry_now(true));
    assert!(CallError::Http { status: 503 }.retry_now(true));
    assert!(!CallError::Http { status: 503 }.retry_now(false));
}

#[test]
fn retry_delays_double_up_to_the_cap() {
    let policy = RetryPolicy::default();
    assert_eq!(policy.delay(1), Duration::from_millis(200));
    assert_eq!(policy.delay(2), Duration::from_millis(400));
    assert_eq!(policy.delay(10), Duration::from_secs(2));
}

#[test]
fn query_flattening() {
    let query = to_query(&wire::TicketRequest::WX_CARD).expect("flat");
    assert_eq!(query, vec![("type".to_owned(), "wx_card".to_owned())]);
}

#[test]
fn debug_hides_secrets() {
    let account = Account::new(AppId::parse("wx1234").expect("appid"), "app-s3cret");
    let config = WeixinConfig::new(account);
    assert!(!format!("{config:?}").contains("s3cret"));
    let client = ReqwestWeixinClient::new(config).expect("client");
    assert!(!format!("{client:?}").contains("s3cret"));
}
