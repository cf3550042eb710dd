//! `pdf`: invoice PDFs rendered on one thread.

use std::time::Instant;

use anyhow::ensure;
use fapiao_issuer::pdf::{FaceParty, FaceRow, InvoiceFace, InvoicePdfRenderer};

use crate::support::percentiles;

fn face(lines: usize, index: usize) -> InvoiceFace {
    InvoiceFace {
        title: "电子发票（普通发票）".to_owned(),
        number: format!("26009{index:015}"),
        issue_date: "2026年11月27日".to_owned(),
        buyer: FaceParty {
            name: "深圳市腾讯计算机系统有限公司".to_owned(),
            tax_id: "91440300708461136T".to_owned(),
        },
        seller: FaceParty {
            name: "示例餐饮管理有限公司".to_owned(),
            tax_id: "91110000000000000X".to_owned(),
        },
        rows: (0..lines)
            .map(|i| FaceRow {
                name: format!("*餐饮服务*餐费第{i}份"),
                spec: String::new(),
                unit: "份".to_owned(),
                quantity: "1".to_owned(),
                unit_price: "94.3396226".to_owned(),
                amount: "94.34".to_owned(),
                rate: "6%".to_owned(),
                tax: "5.66".to_owned(),
            })
            .collect(),
        total_amount: "¥283.02".to_owned(),
        total_tax: "¥16.98".to_owned(),
        total_in_words: "叁佰圆整".to_owned(),
        total_in_figures: "¥300.00".to_owned(),
        red: false,
        remark: format!("订单号：BENCH-{index:07}"),
        drawer: "李四".to_owned(),
        qr_payload: format!("01,32,,26009{index:015},283.02,20261127,,0000"),
        watermark: Some("SANDBOX / 非正式发票".to_owned()),
    }
}

pub(crate) fn pdf(invoices: usize, lines: usize) -> anyhow::Result<()> {
    let renderer = InvoicePdfRenderer::new()?;
    let faces: Vec<InvoiceFace> = (0..invoices).map(|i| face(lines, i)).collect();
    let first = renderer.render(&faces[0])?;
    ensure!(first.starts_with(b"%PDF-"), "not a PDF");
    let mut micros = Vec::with_capacity(invoices);
    let mut bytes = 0usize;
    let started = Instant::now();
    for face in &faces {
        let t = Instant::now();
        bytes += renderer.render(face)?.len();
        micros.push(u32::try_from(t.elapsed().as_micros()).unwrap_or(u32::MAX));
    }
    let elapsed = started.elapsed();
    println!(
        "pdf: {invoices} invoices of {lines} lines on one thread in {:.2} s: {:.2} ms each on average, \
         {:.0} KB each; {}",
        elapsed.as_secs_f64(),
        elapsed.as_secs_f64() * 1000.0 / invoices as f64,
        bytes as f64 / invoices as f64 / 1024.0,
        percentiles(&mut micros)
    );
    Ok(())
}
