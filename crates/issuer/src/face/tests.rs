use fapiao_domain::Timestamp;
use fapiao_domain::invoice::{Direction, InvoiceLines, InvoiceNumber, RedLink, RedReason};
use fapiao_domain::tax::TaxRate;
use fapiao_domain::testing::fixtures;

use super::*;

fn draft(lines: InvoiceLines, remark: Option<&str>) -> InvoiceDraft {
    InvoiceDraft::new(
        InvoiceKind::DigitalOrdinary,
        fixtures::person(),
        fixtures::seller(),
        lines,
        remark.map(str::to_owned),
    )
    .unwrap()
}

fn issued(draft: &InvoiceDraft, number: &str, red_of: Option<RedLink>) -> IssuedInvoice {
    IssuedInvoice {
        number: InvoiceNumber::digital(number).unwrap(),
        kind: draft.kind(),
        // 2026-03-17 10:30 China time.
        issued_at: Timestamp::from_unix_seconds(1_773_714_600),
        totals: draft.lines().totals(),
        qr_payload: Some("01,32,,x".to_owned()),
        provider_ref: None,
        red_of,
    }
}

#[test]
fn crc16_ccitt_false_check_value() {
    assert_eq!(crc16(b"123456789"), 0x29B1);
}

#[test]
fn qr_payload_layout() {
    let payload = qr_payload(
        InvoiceKind::DigitalOrdinary,
        "26009000000000000001",
        Fen::new(9434),
        (2026, 3, 7),
    );
    let fields: Vec<&str> = payload.split(',').collect();
    assert_eq!(
        fields[..7],
        [
            "01",
            "32",
            "",
            "26009000000000000001",
            "94.34",
            "20260307",
            ""
        ]
    );
    assert_eq!(fields[7].len(), 4);
    assert!(fields[7].chars().all(|c| c.is_ascii_hexdigit()));
    let special = qr_payload(
        InvoiceKind::DigitalSpecial,
        "1",
        Fen::new(-1),
        (2026, 12, 31),
    );
    assert!(special.starts_with("01,31,,1,-0.01,20261231,,"));
}

#[test]
fn blue_face_text() {
    let draft = draft(fixtures::lines("100.00"), Some("订单号：1"));
    let face = invoice_face(&draft, &issued(&draft, "26009000000000000001", None));
    assert_eq!(face.title, "电子发票（普通发票）");
    assert_eq!(face.issue_date, "2026年03月17日");
    assert_eq!(face.buyer.name, "张三");
    assert_eq!(face.buyer.tax_id, "", "individuals have no tax id");
    assert_eq!(face.seller.tax_id, "91110000000000000E");
    assert_eq!(
        face.rows,
        [FaceRow {
            name: "*餐饮服务*餐费".to_owned(),
            spec: String::new(),
            unit: "份".to_owned(),
            quantity: "1".to_owned(),
            unit_price: "94.34".to_owned(),
            amount: "94.34".to_owned(),
            rate: "6%".to_owned(),
            tax: "5.66".to_owned(),
        }]
    );
    assert_eq!(face.total_amount, "¥94.34");
    assert_eq!(face.total_tax, "¥5.66");
    assert_eq!(face.total_in_words, "壹佰圆整");
    assert_eq!(face.total_in_figures, "¥100.00");
    assert!(!face.red);
    assert_eq!(face.remark, "订单号：1");
    assert_eq!(face.drawer, "沙箱开票员");
    assert_eq!(face.watermark, None);
}

#[test]
fn exempt_lines_print_stars_and_so_does_the_total_when_all_are() {
    let mut line = fixtures::line("10.00");
    line.rate = TaxRate::EXEMPT;
    let lines = InvoiceLines::compute(vec![line.clone()], Direction::Blue).unwrap();
    let all_exempt = draft(lines, None);
    let face = invoice_face(
        &all_exempt,
        &issued(&all_exempt, "26009000000000000001", None),
    );
    assert_eq!(face.rows[0].rate, "免税");
    assert_eq!(face.rows[0].tax, TAX_FREE_MARK);
    assert_eq!(face.total_tax, TAX_FREE_MARK);

    let mixed = InvoiceLines::compute(vec![line, fixtures::line("10.00")], Direction::Blue);
    let mixed = draft(mixed.unwrap(), None);
    let face = invoice_face(&mixed, &issued(&mixed, "26009000000000000001", None));
    assert_eq!(face.rows[0].tax, TAX_FREE_MARK);
    assert_eq!(face.total_tax, "¥0.57");
}

#[test]
fn red_face_text() {
    let blue = draft(fixtures::lines("100.00"), None);
    let red = InvoiceDraft::new(
        InvoiceKind::DigitalOrdinary,
        blue.buyer().clone(),
        blue.seller().clone(),
        blue.lines().full_reversal(),
        Some("被红冲蓝字数电发票号码：26009000000000000001 退货".to_owned()),
    )
    .unwrap();
    let link = RedLink {
        original: InvoiceNumber::digital("26009000000000000001").unwrap(),
        red_form_number: Some("26008000000000000001".to_owned()),
        reason: RedReason::SalesReturn,
    };
    let face = invoice_face(&red, &issued(&red, "26009000000000000002", Some(link)));
    assert!(face.red);
    assert_eq!(
        face.remark,
        "被红冲蓝字数电发票号码：26009000000000000001 红字发票信息确认单编号：26008000000000000001\n退货"
    );
    assert_eq!(face.rows[0].quantity, "-1");
    assert_eq!(face.rows[0].unit_price, "94.34");
    assert_eq!(face.rows[0].amount, "-94.34");
    assert_eq!(face.total_in_words, "（负数）壹佰圆整");
    assert_eq!(face.total_in_figures, "¥-100.00");
}
