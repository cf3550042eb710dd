//! Sample data for tests: one catering line of ¥100.00 at 6 %, tax-inclusive.

use crate::ids::{AppId, OrderId, OrderKey, SPappId, SellerId};
use crate::invoice::{
    Direction, InvoiceKind, InvoiceLines, ItemName, LineInput, TaxCategory, TaxCategoryCode,
};
use crate::money::{Fen, Quantity, UnitPrice};
use crate::order::NewOrder;
use crate::party::{Buyer, PartyName, Seller, TaxpayerId};
use crate::scenario::{PageStyle, Scenario};
use crate::tax::TaxRate;
use crate::tax::{LineKind, PriceBasis};

#[allow(clippy::panic)]
fn ok<T, E: std::fmt::Display>(value: Result<T, E>) -> T {
    value.unwrap_or_else(|e| panic!("fixture data is valid: {e}"))
}

/// The sandbox platform id.
pub fn s_pappid() -> SPappId {
    ok(SPappId::parse("d3hzYW5kYm94b2ZmaWNpYWwwMV9zYW5kYm94"))
}

/// The Official Account appid.
pub fn oa_appid() -> AppId {
    ok(AppId::parse("wxsandboxofficial01"))
}

/// An order key.
pub fn key(order_id: &str) -> OrderKey {
    OrderKey {
        s_pappid: s_pappid(),
        order_id: ok(OrderId::parse(order_id)),
    }
}

/// The seller key.
pub fn seller_id() -> SellerId {
    ok(SellerId::parse("store-01"))
}

/// A line input: `amount` yuan tax-inclusive of 餐费 at 6 %.
pub fn line(amount: &str) -> LineInput {
    LineInput {
        kind: LineKind::Normal,
        name: ok(ItemName::parse("餐费")),
        // The fixtures' invoices are dated March 2026, before table 2026.6.1 (which prints
        // 生产生活服务 for every 307 code) came into force: the 简称 then was 餐饮服务.
        category: ok(TaxCategory::new(
            ok(TaxCategoryCode::parse("3070401000000000000")),
            Some("餐饮服务"),
        )),
        spec: None,
        unit: Some("份".to_owned()),
        quantity: Some(ok(Quantity::parse("1"))),
        unit_price: Some(ok(UnitPrice::parse(amount))),
        amount: None,
        basis: PriceBasis::TaxInclusive,
        rate: TaxRate::P6,
    }
}

/// Computed blue lines for one line of `amount` yuan.
pub fn lines(amount: &str) -> InvoiceLines {
    ok(InvoiceLines::compute(vec![line(amount)], Direction::Blue))
}

/// The amount in fen.
pub fn fen(yuan: &str) -> Fen {
    ok(Fen::parse_yuan(yuan))
}

/// A company buyer with a valid credit code.
pub fn company() -> Buyer {
    ok(Buyer::organization(
        ok(PartyName::parse("深圳市腾讯计算机系统有限公司")),
        Some(ok(TaxpayerId::parse("91440300708461136T"))),
        None,
        None,
        None,
        None,
    ))
}

/// A personal buyer.
pub fn person() -> Buyer {
    Buyer::individual(ok(PartyName::parse("张三")))
}

/// The sandbox seller.
pub fn seller() -> Seller {
    ok(Seller::new(
        ok(PartyName::parse("沙箱餐饮有限公司")),
        ok(TaxpayerId::parse("91110000000000000E")),
        Some("北京市海淀区沙箱路1号 010-12345678".to_owned()),
        None,
        "沙箱开票员",
    ))
}

/// A new order for `scenario` with page style 1 and no buyer.
pub fn new_order(order_id: &str, scenario: Scenario) -> NewOrder {
    NewOrder {
        key: key(order_id),
        scenario,
        seller: seller_id(),
        kind: InvoiceKind::DigitalOrdinary,
        lines: lines("100.00"),
        buyer: None,
        page_style: PageStyle::FillTitle,
        authorizing_appid: oa_appid(),
        redirect_url: None,
        qr_token: None,
        remark: None,
    }
}
