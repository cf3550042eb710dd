use super::*;

#[test]
fn bodies_are_parsed_leniently() {
    let body: GetAuthUrlBody = parse_body(
        br#"{"s_pappid":"x","order_id":12345,"money":"11","timestamp":null,"source":"web","redirect_url":null,"ticket":"t","type":"1","unknown":[1]}"#,
        false,
    )
    .unwrap_or_default();
    assert_eq!(body.order_id, "12345");
    assert_eq!(body.money, Some(11));
    assert_eq!(body.timestamp, None);
    assert_eq!(body.redirect_url, None);
    assert_eq!(body.page_type, Some(1));
}

#[test]
fn empty_and_malformed_bodies() {
    let empty: Result<OrderRefBody, _> = parse_body(b"  ", false);
    assert_eq!(empty.map(|_| ()).unwrap_err().errcode, 44002);
    let object: Result<OrderRefBody, _> = parse_body(b"", true);
    assert!(object.is_ok());
    let bad: Result<OrderRefBody, _> = parse_body(b"{not json", false);
    assert_eq!(bad.map(|_| ()).unwrap_err().errcode, 47001);
    let array: Result<OrderRefBody, _> = parse_body(b"[1]", false);
    assert_eq!(array.map(|_| ()).unwrap_err().errcode, 47001);
    let bom: Result<OrderRefBody, _> = parse_body(b"\xef\xbb\xbf{\"order_id\":\"a\"}", false);
    assert_eq!(bom.map(|b| b.order_id).unwrap_or_default(), "a");
}

#[test]
fn invoice_data_accepts_nulls() {
    let data: InvoiceUserData = serde_json::from_str(
        r#"{"fee":"123","title":"t","info":null,"buyer_number":null,"remarks":"","s_trip_pdf_media_id":null}"#,
    )
    .unwrap_or_default();
    assert_eq!(data.fee, Some(123));
    assert!(data.info.is_empty());
    assert_eq!(data.buyer_number, None);
    assert_eq!(data.remarks, None);
}
