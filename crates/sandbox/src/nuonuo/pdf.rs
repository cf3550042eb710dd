//! The emulator's invoice PDF: the 数电 face drawn from the `requestBillingNew` body with the
//! issuer's renderer, marked as an emulator document.

use fapiao_domain::invoice::InvoiceKind;
use fapiao_domain::{Fen, TaxRate};
use fapiao_issuer::{FaceParty, FaceRow, InvoiceFace, InvoicePdfRenderer};
use serde_json::Value;

use super::{EmulatedInvoice, NuonuoEmulatorConfig};

/// Watermark of every emulator PDF.
pub const EMULATOR_MARK: &str = "NUONUO EMULATOR / 非正式发票";

pub(super) fn render(
    renderer: &InvoicePdfRenderer,
    config: &NuonuoEmulatorConfig,
    invoice: &EmulatedInvoice,
) -> Result<Vec<u8>, String> {
    let order = &invoice.order;
    let text = |value: &Value, name: &str| {
        value
            .get(name)
            .and_then(Value::as_str)
            .unwrap_or_default()
            .to_owned()
    };
    let red = invoice.red_of.is_some();
    let negate = |amount: String| {
        if !red {
            return amount;
        }
        Fen::parse_yuan(&amount)
            .ok()
            .and_then(|fen| fen.get().checked_neg())
            .map_or(amount, |fen| Fen::new(fen).to_yuan_string())
    };
    let rows = order
        .get("invoiceDetail")
        .and_then(Value::as_array)
        .map(|lines| {
            lines
                .iter()
                .map(|line| FaceRow {
                    name: text(line, "goodsName"),
                    spec: text(line, "specType"),
                    unit: text(line, "unit"),
                    quantity: text(line, "num"),
                    unit_price: text(line, "price"),
                    amount: negate(text(line, "taxExcludedAmount")),
                    rate: TaxRate::parse(&text(line, "taxRate"))
                        .map(|r| r.label())
                        .unwrap_or_default(),
                    tax: negate(text(line, "tax")),
                })
                .collect()
        })
        .unwrap_or_default();
    let kind = if invoice.invoice_line == "bs" {
        InvoiceKind::DigitalSpecial
    } else {
        InvoiceKind::DigitalOrdinary
    };
    let (year, month, day, ..) =
        fapiao_domain::Timestamp::from_millis(invoice.issued_at).china_civil();
    let remark = match &invoice.red_of {
        Some((blue, _)) => format!("被红冲蓝字数电发票号码：{blue}"),
        None => text(order, "remark"),
    };
    let face = InvoiceFace {
        title: kind.face_title().to_owned(),
        number: invoice.number.clone(),
        issue_date: format!("{year:04}年{month:02}月{day:02}日"),
        buyer: FaceParty {
            name: text(order, "buyerName"),
            tax_id: text(order, "buyerTaxNum"),
        },
        seller: FaceParty {
            name: config.seller_name.clone(),
            tax_id: text(order, "salerTaxNum"),
        },
        rows,
        total_amount: Fen::new(invoice.amount_excl).to_yuan_string(),
        total_tax: Fen::new(invoice.tax).to_yuan_string(),
        total_in_words: Fen::new(invoice.total).in_words(),
        total_in_figures: Fen::new(invoice.total).to_yuan_string(),
        red,
        remark,
        drawer: text(order, "clerk"),
        qr_payload: format!(
            "01,32,,{},{},,",
            invoice.number,
            Fen::new(invoice.total).to_yuan_string()
        ),
        watermark: Some(EMULATOR_MARK.to_owned()),
    };
    renderer.render(&face).map_err(|e| e.to_string())
}
