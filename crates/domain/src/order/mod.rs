//! The invoice order and its state machine.
//!
//! An order is keyed by `(s_pappid, order_id)`. Every change goes through [`Order::apply`]:
//! a pure function of the current order and an [`Input`] that either fails with a
//! [`TransitionError`] (and changes nothing) or moves the order and returns the
//! [`Command`]s the application must run next. The application persists the new order and
//! enqueues the commands in one transaction, runs them through the ports, and feeds each result
//! back as another input.

mod apply;
mod attention;
mod command;
mod create;
mod input;
mod record;
mod state;

pub use attention::{Attention, AttentionReason};
pub use command::{Command, Step};
pub use create::{NewOrder, NewOrderError};
pub use input::{Input, IssueResult, TransitionError};
pub use record::{Authorization, DeliveredCard, HistoryEntry, Reversal, UploadedPdf};
pub use state::OrderState;

use serde::{Deserialize, Serialize};

use crate::ids::{AppId, IssueKey, OrderKey, ProviderRef, QrToken, SellerId};
use crate::invoice::{InvoiceKind, InvoiceLines, IssuedInvoice};
use crate::money::Fen;
use crate::party::Buyer;
use crate::scenario::{PageStyle, Scenario};
use crate::time::Timestamp;

/// How long an uploaded PDF stays attachable (`s_media_id` lives three days); re-upload after.
pub const PDF_MEDIA_TTL_MILLIS: i64 = 3 * 24 * 3600 * 1000;

/// Safety margin: a PDF older than TTL minus this margin is uploaded again before `insert`.
pub const PDF_MEDIA_MARGIN_MILLIS: i64 = 3600 * 1000;

/// An invoice order: one buyer request, at most one tax invoice, at most one card.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Order {
    key: OrderKey,
    scenario: Scenario,
    seller: SellerId,
    kind: InvoiceKind,
    lines: InvoiceLines,
    buyer: Option<Buyer>,
    page_style: PageStyle,
    authorizing_appid: AppId,
    redirect_url: Option<String>,
    qr_token: Option<QrToken>,
    remark: Option<String>,
    state: OrderState,
    authorization: Option<Authorization>,
    // Invariant: once set, never replaced (one tax invoice per order).
    issue_key: Option<IssueKey>,
    provider_ref: Option<ProviderRef>,
    // Invariant: once set, never replaced.
    invoice: Option<IssuedInvoice>,
    pdf: Option<UploadedPdf>,
    // Invariant: once set, never replaced (one card per order).
    card: Option<DeliveredCard>,
    rejection: Option<String>,
    rejection_sent: bool,
    attention: Option<Attention>,
    reversal: Option<Reversal>,
    created_at: Timestamp,
    updated_at: Timestamp,
    version: u64,
    history: Vec<HistoryEntry>,
}

impl Order {
    /// The state the pipeline is really in: the resume point while in needs-attention.
    pub fn effective_state(&self) -> OrderState {
        match (&self.state, &self.attention) {
            (OrderState::NeedsAttention, Some(attention)) => attention.resume,
            (state, _) => *state,
        }
    }

    /// Whether a tax invoice exists or may exist (a request was accepted or its outcome is
    /// unknown): such an order can no longer be rejected, only reversed.
    pub fn may_have_invoice(&self) -> bool {
        self.invoice.is_some()
            || matches!(
                self.effective_state(),
                OrderState::Issuing
                    | OrderState::IssuePending
                    | OrderState::IssueOutcomeUnknown
                    | OrderState::Issued
                    | OrderState::PdfUploaded
                    | OrderState::Delivered
                    | OrderState::Reversing
                    | OrderState::Reversed
            )
    }

    /// Marks the order as stored at its next version; call after a successful save.
    pub fn mark_saved(&mut self) {
        self.version = self.version.saturating_add(1);
    }

    /// Whether the uploaded PDF can still be attached at `now`.
    pub fn pdf_attachable(&self, now: Timestamp) -> bool {
        self.pdf.as_ref().is_some_and(|pdf| {
            now.millis() < pdf.uploaded_at.millis() + PDF_MEDIA_TTL_MILLIS - PDF_MEDIA_MARGIN_MILLIS
        })
    }

    /// The key.
    pub fn key(&self) -> &OrderKey {
        &self.key
    }
    /// The scenario.
    pub fn scenario(&self) -> Scenario {
        self.scenario
    }
    /// The invoicing entity.
    pub fn seller(&self) -> &SellerId {
        &self.seller
    }
    /// Invoice kind.
    pub fn kind(&self) -> InvoiceKind {
        self.kind
    }
    /// The computed lines and totals.
    pub fn lines(&self) -> &InvoiceLines {
        &self.lines
    }
    /// The amount including tax (`money` of `getauthurl`).
    pub fn money(&self) -> Fen {
        self.lines.totals().total
    }
    /// The buyer, once known.
    pub fn buyer(&self) -> Option<&Buyer> {
        self.buyer.as_ref()
    }
    /// Auth page style.
    pub fn page_style(&self) -> PageStyle {
        self.page_style
    }
    /// The appid that authorizes the order (configured per scenario).
    pub fn authorizing_appid(&self) -> &AppId {
        &self.authorizing_appid
    }
    /// The appid to name in `insert`: the one the push reported, else the configured one.
    pub fn insert_appid(&self) -> &AppId {
        self.authorization
            .as_ref()
            .and_then(|a| a.appid.as_ref())
            .unwrap_or(&self.authorizing_appid)
    }
    /// Redirect URL after authorization.
    pub fn redirect_url(&self) -> Option<&str> {
        self.redirect_url.as_deref()
    }
    /// QR token (scan scenario).
    pub fn qr_token(&self) -> Option<&QrToken> {
        self.qr_token.as_ref()
    }
    /// Remark printed on the invoice.
    pub fn remark(&self) -> Option<&str> {
        self.remark.as_deref()
    }
    /// Current state.
    pub fn state(&self) -> OrderState {
        self.state
    }
    /// The buyer's authorization.
    pub fn authorization(&self) -> Option<&Authorization> {
        self.authorization.as_ref()
    }
    /// The recorded idempotency key.
    pub fn issue_key(&self) -> Option<&IssueKey> {
        self.issue_key.as_ref()
    }
    /// The tax platform's reference.
    pub fn provider_ref(&self) -> Option<&ProviderRef> {
        self.provider_ref.as_ref()
    }
    /// The issued invoice.
    pub fn invoice(&self) -> Option<&IssuedInvoice> {
        self.invoice.as_ref()
    }
    /// The uploaded PDF.
    pub fn pdf(&self) -> Option<&UploadedPdf> {
        self.pdf.as_ref()
    }
    /// The delivered card.
    pub fn card(&self) -> Option<&DeliveredCard> {
        self.card.as_ref()
    }
    /// The rejection reason shown to the buyer.
    pub fn rejection(&self) -> Option<&str> {
        self.rejection.as_deref()
    }
    /// Needs-attention details.
    pub fn attention_details(&self) -> Option<&Attention> {
        self.attention.as_ref()
    }
    /// The reversal.
    pub fn reversal(&self) -> Option<&Reversal> {
        self.reversal.as_ref()
    }
    /// Creation time.
    pub fn created_at(&self) -> Timestamp {
        self.created_at
    }
    /// Last change.
    pub fn updated_at(&self) -> Timestamp {
        self.updated_at
    }
    /// Stored version (optimistic concurrency).
    pub fn version(&self) -> u64 {
        self.version
    }
    /// Every transition, oldest first.
    pub fn history(&self) -> &[HistoryEntry] {
        &self.history
    }
}

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
