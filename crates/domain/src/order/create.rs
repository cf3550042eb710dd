//! Creating an order: what the merchant supplies ([`NewOrder`]) and the scenario rules
//! [`Order::create`] checks.

use super::{Order, OrderState};
use crate::ids::{AppId, OrderKey, QrToken, SellerId};
use crate::invoice::{InvoiceKind, InvoiceLines};
use crate::party::Buyer;
use crate::scenario::{PageStyle, Scenario};
use crate::time::Timestamp;

/// What the merchant supplies to create an order.
#[derive(Debug, Clone, PartialEq)]
pub struct NewOrder {
    /// `(s_pappid, order_id)`.
    pub key: OrderKey,
    /// Scenario.
    pub scenario: Scenario,
    /// Invoicing entity.
    pub seller: SellerId,
    /// Invoice kind.
    pub kind: InvoiceKind,
    /// Computed lines (blue).
    pub lines: InvoiceLines,
    /// The buyer, if the merchant already has the title.
    pub buyer: Option<Buyer>,
    /// Auth page style.
    pub page_style: PageStyle,
    /// The account that authorizes (from setup, per scenario).
    pub authorizing_appid: AppId,
    /// Page to open after authorization (H5).
    pub redirect_url: Option<String>,
    /// Token of the printed QR code (scan scenario).
    pub qr_token: Option<QrToken>,
    /// Remark printed on the invoice.
    pub remark: Option<String>,
}

/// A creation request broke a scenario rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{field}: {rule}")]
pub struct NewOrderError {
    /// The field.
    pub field: &'static str,
    /// The rule.
    pub rule: String,
}

impl Order {
    /// Creates an order in [`OrderState::Created`] after checking the scenario's rules.
    ///
    /// # Errors
    /// [`NewOrderError`] naming the field: a page style the scenario does not allow, a missing
    /// buyer on page style 0, a QR order without a token, a redirect URL that is not http(s).
    pub fn create(new: NewOrder, at: Timestamp) -> Result<Order, NewOrderError> {
        new.scenario
            .check_page_style(new.page_style)
            .map_err(|rule| NewOrderError {
                field: "page_style",
                rule,
            })?;
        if new.page_style == PageStyle::Apply && new.buyer.is_none() {
            return Err(NewOrderError {
                field: "buyer",
                rule: "required with page style 0: that auth page collects no title".to_owned(),
            });
        }
        if new.scenario == Scenario::ScanQr && new.qr_token.is_none() {
            return Err(NewOrderError {
                field: "qr_token",
                rule: "required for the qr_code scenario".to_owned(),
            });
        }
        if let Some(url) = &new.redirect_url
            && (!(url.starts_with("https://") || url.starts_with("http://")) || url.len() > 1024)
        {
            return Err(NewOrderError {
                field: "redirect_url",
                rule: "must be an http(s) URL of at most 1024 characters".to_owned(),
            });
        }
        if !new.lines.totals().total.is_positive() {
            return Err(NewOrderError {
                field: "lines",
                rule: "the invoice total must be positive".to_owned(),
            });
        }
        let mut order = Order {
            key: new.key,
            scenario: new.scenario,
            seller: new.seller,
            kind: new.kind,
            lines: new.lines,
            buyer: new.buyer,
            page_style: new.page_style,
            authorizing_appid: new.authorizing_appid,
            redirect_url: new.redirect_url,
            qr_token: new.qr_token,
            remark: new.remark,
            state: OrderState::Created,
            authorization: None,
            issue_key: None,
            provider_ref: None,
            invoice: None,
            pdf: None,
            card: None,
            rejection: None,
            rejection_sent: false,
            attention: None,
            reversal: None,
            created_at: at,
            updated_at: at,
            version: 0,
            history: Vec::new(),
        };
        order.record(None, OrderState::Created, "created".to_owned(), at);
        Ok(order)
    }
}
