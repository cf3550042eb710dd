//! JSON shapes of the merchant API (money as decimal strings in yuan) and their parsing into
//! domain types, with errors that name the field.

use fapiao_domain::TaxCategoryTable;
use fapiao_domain::ids::{OrderId, SellerId};
use fapiao_domain::invoice::{InvoiceError, InvoiceLines, ItemName, LineInput, TaxCategoryCode};
use fapiao_domain::money::{Fen, Quantity, UnitPrice};
use fapiao_domain::order::{HistoryEntry, Order};
use fapiao_domain::party::{Buyer, PartyName, TaxpayerId};
use fapiao_domain::ports::PendingJob;
use fapiao_domain::scenario::{PageStyle, Scenario};
use fapiao_domain::tax::{LineKind, PriceBasis, TaxRate};
use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use super::error::Error;
use crate::service::{FrontendAction, StartRequest, Started};

fn bad(field: impl Into<String>, rule: impl std::fmt::Display) -> Error {
    Error::bad_request(field, rule.to_string())
}

/// Parses a JSON body, naming the problem.
pub fn parse_body<T: for<'de> Deserialize<'de>>(body: &[u8]) -> Result<T, Error> {
    serde_json::from_slice(body).map_err(|e| bad("body", format!("invalid JSON: {e}")))
}

/// One invoice line as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LineDto {
    /// `normal` (default), `discounted` or `discount`.
    pub kind: Option<String>,
    /// Item name without the `*简称*` prefix.
    pub name: String,
    /// 19-digit tax classification code.
    pub tax_code: String,
    /// Short name (简称) printed as `*简称*name`; the table in force supplies it when absent.
    pub tax_short_name: Option<String>,
    /// Specification.
    pub spec: Option<String>,
    /// Unit.
    pub unit: Option<String>,
    /// Quantity, decimal string.
    pub quantity: Option<String>,
    /// Unit price, decimal string (on `price_basis`).
    pub unit_price: Option<String>,
    /// Line amount in yuan, decimal string (on `price_basis`).
    pub amount: Option<String>,
    /// `tax_inclusive` (default) or `tax_exclusive`.
    pub price_basis: Option<String>,
    /// `0.13`, `13%`, `exempt`, `not_taxable`, …
    pub tax_rate: String,
}

impl LineDto {
    fn parse(self, index: usize, table: &TaxCategoryTable) -> Result<LineInput, Error> {
        let field = |name: &str| format!("lines[{index}].{name}");
        let kind = match self.kind.as_deref() {
            None | Some("normal") => LineKind::Normal,
            Some("discounted") => LineKind::Discounted,
            Some("discount") => LineKind::Discount,
            Some(other) => {
                return Err(bad(
                    field("kind"),
                    format!("unknown kind {other:?} (normal, discounted, discount)"),
                ));
            }
        };
        let basis = match self.price_basis.as_deref() {
            None | Some("tax_inclusive") => PriceBasis::TaxInclusive,
            Some("tax_exclusive") => PriceBasis::TaxExclusive,
            Some(other) => {
                return Err(bad(
                    field("price_basis"),
                    format!("unknown basis {other:?} (tax_inclusive, tax_exclusive)"),
                ));
            }
        };
        let code = TaxCategoryCode::parse(&self.tax_code).map_err(|e| bad(field("tax_code"), e))?;
        let rate = TaxRate::parse(&self.tax_rate).map_err(|e| bad(field("tax_rate"), e))?;
        let category = table
            .line_category(code, self.tax_short_name.as_deref(), rate)
            .map_err(|e| match e {
                InvoiceError::Field { field: name, rule } => bad(field(name), rule),
                other => bad(field("tax_code"), other),
            })?;
        Ok(LineInput {
            kind,
            name: ItemName::parse(&self.name).map_err(|e| bad(field("name"), e))?,
            category,
            spec: self.spec,
            unit: self.unit,
            quantity: self
                .quantity
                .as_deref()
                .map(Quantity::parse)
                .transpose()
                .map_err(|e| bad(field("quantity"), e))?,
            unit_price: self
                .unit_price
                .as_deref()
                .map(UnitPrice::parse)
                .transpose()
                .map_err(|e| bad(field("unit_price"), e))?,
            amount: self
                .amount
                .as_deref()
                .map(Fen::parse_yuan)
                .transpose()
                .map_err(|e| bad(field("amount"), e))?,
            basis,
            rate,
        })
    }
}

/// Parses every line, naming the first bad one; codes, rates and 简称 are checked against
/// `table` (the one in force on the invoice's date).
pub fn parse_lines(lines: Vec<LineDto>, table: &TaxCategoryTable) -> Result<Vec<LineInput>, Error> {
    if lines.is_empty() {
        return Err(bad("lines", "at least one line is required"));
    }
    lines
        .into_iter()
        .enumerate()
        .map(|(i, line)| line.parse(i, table))
        .collect()
}

/// A buyer as sent.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BuyerDto {
    /// `individual` or `organization`.
    pub kind: String,
    /// Name or company name.
    pub name: String,
    /// Taxpayer id (organizations) or personal id (natural persons).
    pub tax_id: Option<String>,
    /// Keep a tax id that fails its checksum (some issued codes do not verify).
    #[serde(default)]
    pub accept_unverified_tax_id: bool,
    /// Address.
    pub address: Option<String>,
    /// Phone.
    pub phone: Option<String>,
    /// Bank name.
    pub bank: Option<String>,
    /// Bank account.
    pub account: Option<String>,
}

impl BuyerDto {
    fn parse(self) -> Result<Buyer, Error> {
        let name = PartyName::parse(&self.name).map_err(|e| bad("buyer.name", e))?;
        let tax_id = match self.tax_id.as_deref().map(str::trim) {
            None | Some("") => None,
            Some(raw) => Some(match TaxpayerId::parse(raw) {
                Ok(id) => id,
                Err(e) if !self.accept_unverified_tax_id => return Err(bad("buyer.tax_id", e)),
                Err(_) => TaxpayerId::unverified(raw).map_err(|e| bad("buyer.tax_id", e))?,
            }),
        };
        match self.kind.as_str() {
            "individual" => Ok(match tax_id {
                Some(id) => Buyer::natural_person(name, Some(id)),
                None => Buyer::individual(name),
            }),
            "organization" => Buyer::organization(
                name,
                tax_id,
                self.address,
                self.phone,
                self.bank,
                self.account,
            )
            .map_err(|e| bad("buyer", e)),
            other => Err(bad(
                "buyer.kind",
                format!("unknown kind {other:?} (individual, organization)"),
            )),
        }
    }
}

/// `POST /v1/orders`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct CreateOrderDto {
    /// Scenario.
    pub scenario: String,
    /// Optional merchant order id.
    pub order_id: Option<String>,
    /// Seller key.
    pub seller: String,
    /// Lines.
    pub lines: Vec<LineDto>,
    /// Buyer, if known.
    pub buyer: Option<BuyerDto>,
    /// Auth page style 0 or 1.
    pub page_style: Option<i64>,
    /// Page to open after authorization (H5).
    pub redirect_url: Option<String>,
    /// Remark printed on the invoice.
    pub remark: Option<String>,
}

impl CreateOrderDto {
    /// Parses into a start request, checking the lines against `table`.
    ///
    /// # Errors
    /// [`Error::BadRequest`] naming the field.
    pub fn parse(self, table: &TaxCategoryTable) -> Result<StartRequest, Error> {
        let scenario = Scenario::parse(&self.scenario)
            .map_err(|e| bad("scenario", e.trim_start_matches("scenario: ")))?;
        let page_style = self
            .page_style
            .map(|code| {
                PageStyle::from_code(code).ok_or_else(|| bad("page_style", "must be 0 or 1"))
            })
            .transpose()?;
        Ok(StartRequest {
            scenario,
            order_id: self
                .order_id
                .as_deref()
                .map(OrderId::parse)
                .transpose()
                .map_err(|e| bad("order_id", e.rule))?,
            seller: SellerId::parse(&self.seller).map_err(|e| bad("seller", e.rule))?,
            lines: parse_lines(self.lines, table)?,
            buyer: self.buyer.map(BuyerDto::parse).transpose()?,
            page_style,
            redirect_url: self.redirect_url,
            remark: self.remark,
        })
    }
}

/// `POST /v1/invoices/preview`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PreviewDto {
    /// Lines.
    pub lines: Vec<LineDto>,
}

/// `POST /v1/orders/{id}/reject`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RejectDto {
    /// Reason shown to the buyer.
    pub reason: String,
    /// Optional link for the buyer.
    pub url: Option<String>,
}

/// The longest reject reason (Weixin shows it to the buyer).
pub const MAX_REJECT_REASON_CHARS: usize = 200;

impl RejectDto {
    /// Checks the reason (1 to 200 characters, something visible) and the link (`https://`, or
    /// `http://` when `http_links`, at most 1024 characters, no spaces or control characters).
    ///
    /// # Errors
    /// [`Error::BadRequest`] naming the field and the rule.
    pub fn validate(&self, http_links: bool) -> Result<(), Error> {
        let reason = self.reason.trim();
        let count = reason.chars().count();
        if reason.is_empty() {
            return Err(bad("reason", "must not be empty"));
        }
        if count > MAX_REJECT_REASON_CHARS {
            return Err(bad(
                "reason",
                format!("must be at most {MAX_REJECT_REASON_CHARS} characters, got {count}"),
            ));
        }
        if let Some(url) = &self.url {
            let scheme_ok =
                url.starts_with("https://") || (http_links && url.starts_with("http://"));
            if !scheme_ok {
                return Err(bad(
                    "url",
                    if http_links {
                        "must start with https:// or http://"
                    } else {
                        "must start with https://"
                    },
                ));
            }
            if url.len() > 1024 {
                return Err(bad("url", "must be at most 1024 characters"));
            }
            if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(bad("url", "must not hold spaces or control characters"));
            }
        }
        Ok(())
    }
}

/// `POST /v1/orders/{id}/reverse`.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ReverseDto {
    /// `invoicing_error`, `sales_return`, `service_termination` or `sales_allowance`.
    pub reason: String,
}

/// Renders computed lines and totals.
pub fn lines_view(lines: &InvoiceLines) -> Value {
    let totals = lines.totals();
    json!({
        "lines": lines.lines().iter().map(|line| json!({
            "name": line.face_name(),
            "spec": line.spec(),
            "unit": line.unit(),
            "quantity": line.quantity().map(|q| q.to_string()),
            "unit_price_excl": line.unit_price_excl().map(|p| p.normalize().to_string()),
            "amount_excl": line.amount_excl().to_yuan_string(),
            "tax_rate": line.rate().label(),
            "tax": if line.rate().is_tax_free_mark() { "***".to_owned() } else { line.tax().to_yuan_string() },
            "total": line.total().to_yuan_string(),
        })).collect::<Vec<_>>(),
        "amount_excl": totals.amount_excl.to_yuan_string(),
        "tax": if lines.tax_free_mark() { "***".to_owned() } else { totals.tax.to_yuan_string() },
        "total": totals.total.to_yuan_string(),
        "total_in_words": totals.total.in_words(),
    })
}

fn history_view(entry: &HistoryEntry) -> Value {
    json!({
        "seq": entry.seq,
        "from": entry.from.map(|s| s.code()),
        "to": entry.to.code(),
        "cause": entry.cause,
        "at": entry.at.to_string(),
    })
}

/// Renders an order.
pub fn order_view(order: &Order) -> Value {
    json!({
        "order_id": order.key().order_id.as_str(),
        "s_pappid": order.key().s_pappid.as_str(),
        "scenario": order.scenario().code(),
        "state": order.state().code(),
        "seller": order.seller().as_str(),
        "money": order.money().to_yuan_string(),
        "page_style": order.page_style().code(),
        "invoice_lines": lines_view(order.lines()),
        "buyer": order.buyer().map(|b| json!({
            "name": b.name(),
            "tax_id": b.tax_id().map(|id| id.as_str().to_owned()),
        })),
        "invoice": order.invoice().map(|inv| json!({
            "number": inv.number.to_string(),
            "issued_at": inv.issued_at.to_string(),
            "amount_excl": inv.totals.amount_excl.to_yuan_string(),
            "tax": inv.totals.tax.to_yuan_string(),
            "total": inv.totals.total.to_yuan_string(),
        })),
        "card": order.card().map(|c| json!({
            "card_id": c.card_id.as_str(),
            "code": c.code.as_ref().map(|code| code.as_str()),
            "openid": c.openid.as_ref().map(|openid| openid.as_str()),
            "reimbursement": c.reimbursement.code(),
            "note": c.code.is_none().then_some(
                "the card was inserted but the answer carrying its code was lost (Weixin answered \"order_id repeated\" to the repeat); the buyer has the card. The buyer's card list (card/user/getcardlist) did not single it out (the lookup off, failing, or the buyer holding several unaccounted cards of the template): it is learned from the first status push for this card, and until then the card cannot be cancelled or updated by fapiao"
            ),
        })),
        "attention": order.attention_details().map(|a| json!({
            "reason": a.reason.to_string(),
            "resume": a.resume.code(),
            "since": a.since.to_string(),
        })),
        "rejection": order.rejection(),
        "reversal": order.reversal().map(|r| json!({
            "reason": r.reason.label(),
            "red_invoice": r.red_invoice.as_ref().map(|inv| inv.number.to_string()),
            "card_cancelled": r.card_cancelled,
        })),
        "history": order.history().iter().map(history_view).collect::<Vec<_>>(),
        "created_at": order.created_at().to_string(),
        "updated_at": order.updated_at().to_string(),
    })
}

/// The step an order waits on (its next due job) with its attempts so far, the last error and
/// when it runs next; `null` when nothing is queued.
pub fn step_view(job: Option<&PendingJob>) -> Value {
    job.map_or(Value::Null, |job| {
        json!({
            "command": job.command.step().code(),
            "attempts": job.attempts,
            "last_error": job.last_error,
            "next_attempt_at": job.run_at.to_string(),
        })
    })
}

/// What the front end does next.
#[derive(Debug, Serialize)]
pub struct StartedView {
    /// The order.
    pub order: Value,
    /// The front end's next step.
    pub action: Value,
}

/// Renders a started order; `public_base` builds the QR code's short URL.
pub fn started_view(started: &Started, public_base: &str) -> StartedView {
    let order_id = started.order.key().order_id.as_str();
    let action = match &started.action {
        FrontendAction::Redirect { auth_url } => {
            json!({ "type": "redirect", "auth_url": auth_url })
        }
        FrontendAction::QrCode { token } => json!({
            "type": "qr_code",
            "url": format!("{public_base}/q/{token}"),
            "png": format!("/v1/orders/{order_id}/qr.png"),
            "svg": format!("/v1/orders/{order_id}/qr.svg"),
        }),
        FrontendAction::AppSdk { auth_url } => json!({
            "type": "app_sdk",
            "auth_url": auth_url,
            "ios": { "request": "WXInvoiceAuthInsertReq", "urlString": auth_url },
            "android": { "request": "WXInvoiceAuthInsert.Req", "url": auth_url },
        }),
        FrontendAction::MiniProgram { app_id, path } => json!({
            "type": "mini_program",
            "navigate_to_mini_program": { "appId": app_id.as_str(), "path": path },
        }),
        FrontendAction::PayRequestFlag { field, value } => json!({
            "type": "pay_request_flag",
            "field": field,
            "value": value,
            "note": "add this field to the WeChat Pay v2 order request (unifiedorder); use this order_id as the payment's transaction id mapping",
        }),
    };
    StartedView {
        order: order_view(&started.order),
        action,
    }
}
