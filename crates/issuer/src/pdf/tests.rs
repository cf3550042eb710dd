use super::*;

pub(crate) fn sample_face(rows: usize, red: bool) -> InvoiceFace {
    let row = |i: usize| FaceRow {
        name: if i.is_multiple_of(3) {
            "*谷物*燕麦".to_owned()
        } else {
            "*餐饮服务*餐费".to_owned()
        },
        spec: if i.is_multiple_of(2) {
            "500g".to_owned()
        } else {
            String::new()
        },
        unit: "份".to_owned(),
        quantity: if red { "-2".to_owned() } else { "2".to_owned() },
        unit_price: "50".to_owned(),
        amount: if red {
            "-100.00".to_owned()
        } else {
            "100.00".to_owned()
        },
        rate: if i.is_multiple_of(3) {
            "免税".to_owned()
        } else {
            "13%".to_owned()
        },
        tax: if i.is_multiple_of(3) {
            "***".to_owned()
        } else if red {
            "-13.00".to_owned()
        } else {
            "13.00".to_owned()
        },
    };
    InvoiceFace {
        title: "电子发票（普通发票）".to_owned(),
        number: "26009000000000000001".to_owned(),
        issue_date: "2026年03月17日".to_owned(),
        buyer: FaceParty {
            name: "深圳市腾讯计算机系统有限公司".to_owned(),
            tax_id: "91440300708461136T".to_owned(),
        },
        seller: FaceParty {
            name: "示例餐饮管理有限公司".to_owned(),
            tax_id: "91110000000000000X".to_owned(),
        },
        rows: (0..rows).map(row).collect(),
        total_amount: if red {
            "¥-100.00".to_owned()
        } else {
            "¥100.00".to_owned()
        },
        total_tax: if red {
            "¥-13.00".to_owned()
        } else {
            "¥13.00".to_owned()
        },
        total_in_words: if red {
            "（负数）壹佰壹拾叁圆整".to_owned()
        } else {
            "壹佰壹拾叁圆整".to_owned()
        },
        total_in_figures: if red {
            "¥-113.00".to_owned()
        } else {
            "¥113.00".to_owned()
        },
        red,
        remark: if red {
            "被红冲蓝字数电发票号码：26009000000000000001 红字发票信息确认单编号：26009000000000000002".to_owned()
        } else {
            "订单号：order-0001".to_owned()
        },
        drawer: "张三".to_owned(),
        qr_payload: "01,32,,26009000000000000001,100.00,20260317,,1A2B".to_owned(),
        watermark: Some("SANDBOX / 非正式发票".to_owned()),
    }
}

fn metrics() -> FontMetrics {
    FontMetrics::new(FONT_DATA, FONT_INDEX).unwrap()
}

fn page_count(bytes: &[u8]) -> usize {
    lopdf::Document::load_mem(bytes).unwrap().get_pages().len()
}

#[test]
fn han_characters_are_one_em_wide() {
    let metrics = metrics();
    assert!((metrics.width("发票", 10.0) - 20.0).abs() < 0.01);
    assert!(metrics.width("2026", 10.0) < 30.0);
}

#[test]
fn block_keeps_text_that_fits_at_base_size() {
    let fitted = metrics().block("餐费", 100.0, 10.0, 8.0, 5.0);
    assert_eq!(fitted.size, 8.0);
    assert_eq!(fitted.lines, ["餐费"]);
}

#[test]
fn block_shrinks_a_single_line_before_cutting_it() {
    // Ten Han characters are 80 pt at 8 pt; 60 pt of room takes them at 6 pt.
    let fitted = metrics().block("一二三四五六七八九十", 60.0, 9.0, 8.0, 5.0);
    assert_eq!(fitted.size, 6.0);
    assert_eq!(fitted.lines, ["一二三四五六七八九十"]);
}

#[test]
fn block_wraps_when_the_box_is_tall_enough() {
    let fitted = metrics().block("一二三四五六七八九十", 40.0, 30.0, 8.0, 5.0);
    assert_eq!(fitted.size, 8.0);
    assert_eq!(fitted.lines, ["一二三四五", "六七八九十"]);
    let fitted = metrics().block("一二\n三", 40.0, 30.0, 8.0, 5.0);
    assert_eq!(fitted.lines, ["一二", "三"]);
}

#[test]
fn block_cuts_with_an_ellipsis_at_the_minimum_size() {
    let fitted = metrics().block(&"票".repeat(40), 50.0, 6.0, 8.0, 5.0);
    assert_eq!(fitted.size, 5.0);
    assert_eq!(fitted.lines.len(), 1);
    assert!(fitted.lines[0].ends_with('…'));
    assert!(metrics().width(&fitted.lines[0], 5.0) <= 50.0);
}

#[test]
fn rendering_is_deterministic() {
    let renderer = InvoicePdfRenderer::new().unwrap();
    let face = sample_face(3, false);
    assert_eq!(
        renderer.render(&face).unwrap(),
        renderer.render(&face).unwrap()
    );
    let other = InvoicePdfRenderer::new().unwrap();
    assert_eq!(
        renderer.render(&face).unwrap(),
        other.render(&face).unwrap()
    );
}

#[test]
fn rows_beyond_a_page_continue_on_further_pages() {
    let renderer = InvoicePdfRenderer::new().unwrap();
    for (rows, pages) in [(0, 1), (11, 1), (12, 1), (16, 1), (17, 2), (30, 2), (33, 3)] {
        let bytes = renderer.render(&sample_face(rows, false)).unwrap();
        assert_eq!(page_count(&bytes), pages, "{rows} rows");
    }
}

#[test]
fn an_overlong_qr_payload_is_an_error() {
    let renderer = InvoicePdfRenderer::new().unwrap();
    let mut face = sample_face(1, false);
    face.qr_payload = "9".repeat(8000);
    assert!(matches!(renderer.render(&face), Err(RenderError::Qr(_))));
}

#[test]
fn blue_red_and_long_faces_render() {
    let renderer = InvoicePdfRenderer::new().unwrap();
    for (rows, red) in [(3, false), (2, true), (30, false)] {
        let bytes = renderer.render(&sample_face(rows, red)).unwrap();
        assert!(bytes.starts_with(b"%PDF-"));
        assert!(bytes.len() < 60_000, "{} bytes", bytes.len());
    }
}
