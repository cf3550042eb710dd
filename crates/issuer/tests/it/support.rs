#![allow(clippy::unwrap_used, clippy::expect_used)]
//! Helpers shared by the tests: invoice drafts, a sandbox on a manual clock, PDF inspection.

use std::sync::Arc;

use fapiao_domain::invoice::{
    Direction, InvoiceDraft, InvoiceKind, InvoiceLines, ItemName, LineInput, TaxCategory,
    TaxCategoryCode,
};
use fapiao_domain::money::{Quantity, UnitPrice};
use fapiao_domain::ports::IssueRequest;
use fapiao_domain::tax::{LineKind, PriceBasis, TaxRate};
use fapiao_domain::testing::{InMemoryNumbering, ManualClock, fixtures};
use fapiao_domain::{IssueKey, Timestamp};
use fapiao_issuer::SandboxIssuer;

/// 2026-03-17 10:30 China time.
pub const MARCH_17: Timestamp = Timestamp::from_unix_seconds(1_773_714_600);

pub struct Sandbox {
    pub issuer: Arc<SandboxIssuer>,
    pub numbering: Arc<InMemoryNumbering>,
    pub clock: Arc<ManualClock>,
}

pub fn sandbox() -> Sandbox {
    sandbox_at(MARCH_17)
}

pub fn sandbox_at(now: Timestamp) -> Sandbox {
    let numbering = Arc::new(InMemoryNumbering::default());
    let clock = Arc::new(ManualClock::new(now));
    let issuer = SandboxIssuer::new(numbering.clone(), clock.clone()).unwrap();
    Sandbox {
        issuer: Arc::new(issuer),
        numbering,
        clock,
    }
}

pub fn key(text: &str) -> IssueKey {
    IssueKey::parse(text).unwrap()
}

/// One 餐费 line of `amount` yuan, tax included, at 6 %.
pub fn draft(amount: &str) -> InvoiceDraft {
    draft_of(vec![fixtures::line(amount)], Some("订单号：A-0001"))
}

pub fn draft_of(lines: Vec<LineInput>, remark: Option<&str>) -> InvoiceDraft {
    InvoiceDraft::new(
        InvoiceKind::DigitalOrdinary,
        fixtures::company(),
        fixtures::seller(),
        InvoiceLines::compute(lines, Direction::Blue).unwrap(),
        remark.map(str::to_owned),
    )
    .unwrap()
}

/// The full reversal of `blue`, with the remark the application writes.
pub fn red_draft(blue: &InvoiceDraft, blue_number: &str) -> InvoiceDraft {
    InvoiceDraft::new(
        blue.kind(),
        blue.buyer().clone(),
        blue.seller().clone(),
        blue.lines().full_reversal(),
        Some(format!("被红冲蓝字数电发票号码：{blue_number}")),
    )
    .unwrap()
}

pub fn request(key_text: &str, draft: &InvoiceDraft) -> IssueRequest {
    IssueRequest {
        key: key(key_text),
        order: fixtures::key(key_text),
        draft: draft.clone(),
    }
}

/// A line of goods: `quantity` × `price` yuan (tax excluded) at `rate`; `category` is the
/// code and its short name.
pub fn goods(
    name: &str,
    category: (&str, &str),
    spec: &str,
    quantity: &str,
    price: &str,
    rate: TaxRate,
) -> LineInput {
    let (code, short_name) = category;
    LineInput {
        kind: LineKind::Normal,
        name: ItemName::parse(name).unwrap(),
        category: TaxCategory::new(TaxCategoryCode::parse(code).unwrap(), Some(short_name))
            .unwrap(),
        spec: Some(spec.to_owned()).filter(|spec| !spec.is_empty()),
        unit: Some("千克".to_owned()),
        quantity: Some(Quantity::parse(quantity).unwrap()),
        unit_price: Some(UnitPrice::parse(price).unwrap()),
        amount: None,
        basis: PriceBasis::TaxExclusive,
        rate,
    }
}

/// The text layer of every page of a PDF, as a reader extracts it (through the fonts'
/// ToUnicode maps), with whitespace removed so that runs split across lines still match.
pub fn pdf_text(bytes: &[u8]) -> String {
    let document = lopdf::Document::load_mem(bytes).unwrap();
    let pages: Vec<u32> = document.get_pages().keys().copied().collect();
    let text = document.extract_text(&pages).unwrap();
    text.chars().filter(|c| !c.is_whitespace()).collect()
}

pub fn page_count(bytes: &[u8]) -> usize {
    lopdf::Document::load_mem(bytes).unwrap().get_pages().len()
}

pub fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}
