#![allow(clippy::unwrap_used, clippy::expect_used)]
//! The renderer's output as a PDF reader sees it.

use fapiao_issuer::pdf::{FaceParty, FaceRow, InvoiceFace, InvoicePdfRenderer};

use crate::support::{contains, page_count, pdf_text};

fn face(rows: usize) -> InvoiceFace {
    InvoiceFace {
        title: "电子发票（普通发票）".to_owned(),
        number: "26009000000000000042".to_owned(),
        issue_date: "2026年03月17日".to_owned(),
        buyer: FaceParty {
            name: "北京示例科技有限公司".to_owned(),
            tax_id: "91440300708461136T".to_owned(),
        },
        seller: FaceParty {
            name: "示例餐饮管理有限公司".to_owned(),
            tax_id: "91110000000000000X".to_owned(),
        },
        rows: (0..rows)
            .map(|i| FaceRow {
                name: format!("*餐饮服务*餐费第{i}份"),
                spec: String::new(),
                unit: "份".to_owned(),
                quantity: "1".to_owned(),
                unit_price: "283.0188679".to_owned(),
                amount: "283.02".to_owned(),
                rate: "6%".to_owned(),
                tax: "16.98".to_owned(),
            })
            .collect(),
        total_amount: "¥283.02".to_owned(),
        total_tax: "¥16.98".to_owned(),
        total_in_words: "叁佰圆整".to_owned(),
        total_in_figures: "¥300.00".to_owned(),
        red: false,
        remark: "订单号：A-0001".to_owned(),
        drawer: "李四".to_owned(),
        qr_payload: "01,32,,26009000000000000042,283.02,20260317,,0000".to_owned(),
        watermark: Some("SANDBOX / 非正式发票".to_owned()),
    }
}

#[test]
fn the_text_layer_reads_as_the_face() {
    let bytes = InvoicePdfRenderer::new().unwrap().render(&face(1)).unwrap();
    let text = pdf_text(&bytes);
    for expected in [
        "电子发票（普通发票）",
        "26009000000000000042",
        "2026年03月17日",
        "北京示例科技有限公司",
        "91440300708461136T",
        "*餐饮服务*餐费第0份",
        "叁佰圆整",
        "¥300.00",
        "开票人：李四",
        "SANDBOX",
        "非正式发票",
    ] {
        assert!(text.contains(expected), "{expected:?} missing from {text}");
    }
}

#[test]
fn the_font_is_embedded_as_a_subset() {
    let bytes = InvoicePdfRenderer::new().unwrap().render(&face(1)).unwrap();
    assert!(bytes.starts_with(b"%PDF-"));
    assert!(contains(&bytes, b"/FontFile2"));
    assert!(contains(&bytes, b"+WenQuanYiMicroHei"));
    assert!(contains(&bytes, b"/ToUnicode"));
    // The whole font is 5 MB; its subset keeps the file small.
    assert!(bytes.len() < 80_000, "{} bytes", bytes.len());
}

#[test]
fn thirty_lines_take_two_pages_and_keep_every_line() {
    let bytes = InvoicePdfRenderer::new()
        .unwrap()
        .render(&face(30))
        .unwrap();
    assert_eq!(page_count(&bytes), 2);
    let text = pdf_text(&bytes);
    for i in 0..30 {
        assert!(text.contains(&format!("餐费第{i}份")), "line {i} missing");
    }
    assert!(text.contains("共2页第1页") && text.contains("共2页第2页"));
}
