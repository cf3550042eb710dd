//! What the pipeline sends out about an order: the invoice draft for the tax platform and the
//! invoice card's payload for Weixin.

use fapiao_domain::invoice::{InvoiceDraft, InvoiceLines};
use fapiao_domain::money::Fen;
use fapiao_domain::order::Order;
use fapiao_domain::weixin::{CardItem, InvoiceCardData};

use super::InvoiceService;

impl InvoiceService {
    /// The draft of `lines` for `order`'s seller and buyer, or why there is none.
    pub(super) fn draft(
        &self,
        order: &Order,
        lines: InvoiceLines,
        remark: Option<String>,
    ) -> Result<InvoiceDraft, String> {
        let seller = self
            .settings
            .sellers
            .get(order.seller())
            .ok_or_else(|| format!("seller {} is no longer configured", order.seller()))?;
        let buyer = order
            .buyer()
            .cloned()
            .ok_or("the order has no buyer title")?;
        InvoiceDraft::new(order.kind(), buyer, seller.seller.clone(), lines, remark)
            .map_err(|e| e.to_string())
    }

    /// The card payload: amounts from the issued invoice, display lines from the order.
    pub(super) fn card_data(&self, order: &Order) -> Result<InvoiceCardData, String> {
        let invoice = order.invoice().ok_or("no invoice")?;
        let pdf = order.pdf().ok_or("no uploaded PDF")?;
        let buyer = order.buyer().ok_or("no buyer title")?;
        let seller = &self
            .settings
            .sellers
            .get(order.seller())
            .ok_or_else(|| format!("seller {} is no longer configured", order.seller()))?
            .seller;
        let mut info = Vec::new();
        for line in order.lines().lines() {
            if line.amount_excl().is_negative() {
                continue; // discount lines are folded away: card lines are display data
            }
            let (num, price) = match (line.quantity(), line.unit_price_excl()) {
                (Some(quantity), Some(price)) if quantity.get().fract().is_zero() => {
                    let num = quantity.get().trunc().mantissa();
                    let num = i64::try_from(num).ok();
                    (num, Fen::round_half_up(price).map_err(|e| e.to_string())?)
                }
                _ => (None, line.amount_excl()),
            };
            info.push(CardItem {
                name: line.face_name(),
                num,
                unit: line.unit().map(str::to_owned),
                price,
            });
        }
        Ok(InvoiceCardData {
            fee: invoice.totals.total,
            title: buyer.name().to_owned(),
            billing_time: invoice.issued_at,
            billing_no: invoice.number.billing_no().to_owned(),
            billing_code: invoice.number.billing_code().to_owned(),
            info,
            fee_without_tax: invoice.totals.amount_excl,
            tax: invoice.totals.tax,
            pdf_media_id: pdf.media_id.clone(),
            trip_pdf_media_id: None,
            check_code: invoice.number.check_code().to_owned(),
            buyer_number: buyer.tax_id().map(|id| id.as_str().to_owned()),
            buyer_address_and_phone: None,
            buyer_bank_account: None,
            seller_number: Some(seller.tax_id().as_str().to_owned()),
            seller_address_and_phone: seller.address_phone().map(str::to_owned),
            seller_bank_account: seller.bank_account().map(str::to_owned),
            remarks: order.remark().map(str::to_owned),
            cashier: None,
            maker: Some(seller.drawer().to_owned()),
        })
    }
}
