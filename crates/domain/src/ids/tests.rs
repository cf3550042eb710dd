use super::*;

#[test]
fn order_id_accepts_merchant_ids() {
    assert_eq!(
        OrderId::parse("1202933957956").map(|id| id.to_string()),
        Ok("1202933957956".into())
    );
    assert!(OrderId::parse("A-20260501_0001").is_ok());
}

#[test]
fn order_id_errors_name_field_and_rule() {
    let err = OrderId::parse("").unwrap_err();
    assert_eq!(err.to_string(), "order_id: must not be empty");
    let err = OrderId::parse("ab c").unwrap_err();
    assert_eq!(
        err.to_string(),
        "order_id: character ' ' at position 3 is not allowed (allowed: ASCII letters, digits, '_' and '-')"
    );
    let err = OrderId::parse(&"1".repeat(65)).unwrap_err();
    assert_eq!(
        err.to_string(),
        "order_id: must be 1 to 64 characters, got 65"
    );
}

#[test]
fn s_pappid_accepts_both_base64_alphabets() {
    assert!(SPappId::parse("d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc+/ab=").is_ok());
    assert!(SPappId::parse("d3g1Y2Q4NTI3NWI4NDdlM2I2X7xc-_ab").is_ok());
    assert!(SPappId::parse("has space").is_err());
}

#[test]
fn issue_key_is_at_most_twenty_alphanumerics() {
    assert!(IssueKey::parse("FP20260501000000001A").is_ok());
    assert!(IssueKey::parse("FP20260501000000001AB").is_err());
    assert!(IssueKey::parse("FP-1").is_err());
}

#[test]
fn serde_round_trip_validates() {
    let id: Result<CardId, _> = serde_json::from_str("\"pjZ8Yt9WoOePThU0NfUKz5-tBEWU\"");
    assert!(id.is_ok());
    let bad: Result<CardId, _> = serde_json::from_str("\"bad id\"");
    assert!(bad.is_err());
}
