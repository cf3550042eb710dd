//! Where an order is in its life: [`OrderState`].

use std::fmt;

use serde::{Deserialize, Serialize};

/// Where an order is in its life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OrderState {
    /// Stored; no auth URL handed out yet (a printed QR code not yet scanned, a post-payment
    /// order waiting for the buyer's tap on the receipt).
    Created,
    /// An auth URL was handed to the buyer's front end.
    AwaitingAuthorization,
    /// The buyer authorized; the title is being fetched with `getauthdata`.
    Authorized,
    /// The idempotency key is recorded and the tax platform is being asked to issue.
    Issuing,
    /// The tax platform accepted the request and issues asynchronously.
    IssuePending,
    /// The issue call's outcome is unknown (timeout after sending); the platform is queried
    /// with the same key, never asked again with a new one.
    IssueOutcomeUnknown,
    /// The tax invoice exists; its PDF is being uploaded to Weixin.
    Issued,
    /// The PDF is uploaded (`s_media_id` known); the card is being inserted.
    PdfUploaded,
    /// The invoice card is in the buyer's Cards & Offers.
    Delivered,
    /// The buyer's authorization failed (terminal).
    AuthorizationFailed,
    /// The merchant (or the tax platform) refused; the buyer was told why via `rejectinsert`
    /// (terminal).
    Rejected,
    /// Retries ran out or an operator decision is needed; the reason is recorded.
    NeedsAttention,
    /// A red invoice is being issued for the delivered invoice.
    Reversing,
    /// The invoice was reversed by a red invoice; the card is cancelled (terminal).
    Reversed,
}

impl OrderState {
    /// All states in lifecycle order.
    pub const ALL: [OrderState; 14] = [
        OrderState::Created,
        OrderState::AwaitingAuthorization,
        OrderState::Authorized,
        OrderState::Issuing,
        OrderState::IssuePending,
        OrderState::IssueOutcomeUnknown,
        OrderState::Issued,
        OrderState::PdfUploaded,
        OrderState::Delivered,
        OrderState::AuthorizationFailed,
        OrderState::Rejected,
        OrderState::NeedsAttention,
        OrderState::Reversing,
        OrderState::Reversed,
    ];

    /// The API name, e.g. `awaiting_authorization`.
    pub fn code(self) -> &'static str {
        match self {
            OrderState::Created => "created",
            OrderState::AwaitingAuthorization => "awaiting_authorization",
            OrderState::Authorized => "authorized",
            OrderState::Issuing => "issuing",
            OrderState::IssuePending => "issue_pending",
            OrderState::IssueOutcomeUnknown => "issue_outcome_unknown",
            OrderState::Issued => "issued",
            OrderState::PdfUploaded => "pdf_uploaded",
            OrderState::Delivered => "delivered",
            OrderState::AuthorizationFailed => "authorization_failed",
            OrderState::Rejected => "rejected",
            OrderState::NeedsAttention => "needs_attention",
            OrderState::Reversing => "reversing",
            OrderState::Reversed => "reversed",
        }
    }

    /// Parses the API name.
    pub fn parse(value: &str) -> Option<Self> {
        OrderState::ALL.into_iter().find(|s| s.code() == value)
    }

    /// Whether nothing more happens without an operator or the buyer.
    pub fn is_terminal(self) -> bool {
        matches!(
            self,
            OrderState::Delivered
                | OrderState::AuthorizationFailed
                | OrderState::Rejected
                | OrderState::Reversed
        )
    }
}

impl fmt::Display for OrderState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}
