//! From a domain invoice to the text of its face (§1.2 of the invoice-domain reference).

use fapiao_domain::invoice::{InvoiceDraft, InvoiceKind, IssuedInvoice};
use fapiao_domain::money::Fen;

use crate::pdf::{FaceParty, FaceRow, InvoiceFace};

/// What the 税额 cells print on exempt and not-taxable lines, and the 合计 税额 when every line
/// is one.
pub const TAX_FREE_MARK: &str = "***";

/// The face of `invoice` issued from `draft`.
///
/// Red invoices get the remark the platform writes on them,
/// `被红冲蓝字数电发票号码：<blue> 红字发票信息确认单编号：<form>`, followed by the draft's own
/// remark unless that only repeats the blue number.
/// The face carries no watermark; the sandbox adds its own.
pub fn invoice_face(draft: &InvoiceDraft, invoice: &IssuedInvoice) -> InvoiceFace {
    let lines = draft.lines();
    let totals = invoice.totals;
    let rows = lines
        .lines()
        .iter()
        .map(|line| FaceRow {
            name: line.face_name(),
            spec: line.spec().unwrap_or_default().to_owned(),
            unit: line.unit().unwrap_or_default().to_owned(),
            quantity: line
                .quantity()
                .map(|quantity| quantity.to_string())
                .unwrap_or_default(),
            unit_price: line
                .unit_price_excl()
                .map(|price| price.normalize().to_string())
                .unwrap_or_default(),
            amount: line.amount_excl().to_yuan_string(),
            rate: line.rate().label(),
            tax: if line.rate().is_tax_free_mark() {
                TAX_FREE_MARK.to_owned()
            } else {
                line.tax().to_yuan_string()
            },
        })
        .collect();
    let buyer = draft.buyer();
    let seller = draft.seller();
    InvoiceFace {
        title: invoice.kind.face_title().to_owned(),
        number: invoice.number.billing_no().to_owned(),
        issue_date: {
            let (year, month, day, ..) = invoice.issued_at.china_civil();
            format!("{year:04}年{month:02}月{day:02}日")
        },
        buyer: FaceParty {
            name: buyer.name().to_owned(),
            tax_id: buyer
                .tax_id()
                .map(|id| id.as_str().to_owned())
                .unwrap_or_default(),
        },
        seller: FaceParty {
            name: seller.name().to_owned(),
            tax_id: seller.tax_id().as_str().to_owned(),
        },
        rows,
        total_amount: yuan(totals.amount_excl),
        total_tax: if lines.tax_free_mark() {
            TAX_FREE_MARK.to_owned()
        } else {
            yuan(totals.tax)
        },
        total_in_words: totals.total.in_words(),
        total_in_figures: yuan(totals.total),
        red: invoice.red_of.is_some(),
        remark: remark(draft, invoice),
        drawer: seller.drawer().to_owned(),
        qr_payload: invoice.qr_payload.clone().unwrap_or_default(),
        watermark: None,
    }
}

/// The QR payload of a 数电 invoice as the sandbox prints it:
/// `01,<type>,,<number>,<amount excl>,<YYYYMMDD>,,<check>`, type `32` for 普票 and `31` for 专票.
/// The check is the CRC-16/CCITT-FALSE of everything before it, four hex digits, a stand-in for
/// the platform's own (unpublished) check field.
pub fn qr_payload(
    kind: InvoiceKind,
    number: &str,
    amount_excl: Fen,
    date: (i64, u32, u32),
) -> String {
    let type_code = match kind {
        InvoiceKind::DigitalOrdinary => "32",
        InvoiceKind::DigitalSpecial => "31",
    };
    let (year, month, day) = date;
    let fields = format!(
        "01,{type_code},,{number},{},{year:04}{month:02}{day:02},,",
        amount_excl.to_yuan_string()
    );
    let check = crc16(fields.as_bytes());
    format!("{fields}{check:04X}")
}

fn yuan(amount: Fen) -> String {
    format!("¥{}", amount.to_yuan_string())
}

fn remark(draft: &InvoiceDraft, invoice: &IssuedInvoice) -> String {
    let own = draft.remark().unwrap_or_default();
    let Some(link) = &invoice.red_of else {
        return own.to_owned();
    };
    let blue = format!("被红冲蓝字数电发票号码：{}", link.original.billing_no());
    let mut text = blue.clone();
    if let Some(form) = &link.red_form_number {
        text.push_str(" 红字发票信息确认单编号：");
        text.push_str(form);
    }
    let rest = own.strip_prefix(blue.as_str()).unwrap_or(own).trim();
    if !rest.is_empty() {
        text.push('\n');
        text.push_str(rest);
    }
    text
}

/// CRC-16/CCITT-FALSE (poly 0x1021, init 0xFFFF).
fn crc16(bytes: &[u8]) -> u16 {
    let mut crc: u16 = 0xFFFF;
    for &byte in bytes {
        crc ^= u16::from(byte) << 8;
        for _ in 0..8 {
            crc = if crc & 0x8000 != 0 {
                (crc << 1) ^ 0x1021
            } else {
                crc << 1
            };
        }
    }
    crc
}

#[cfg(test)]
mod tests;
