//! What happens to an order: [`Input`], the issuer's [`IssueResult`], and the
//! [`TransitionError`] of an input the order refuses.

use serde::{Deserialize, Serialize};

use super::{AttentionReason, Authorization, OrderState, UploadedPdf};
use crate::ids::{CardCode, CardId, IssueKey, OpenId, ProviderRef};
use crate::invoice::{IssuedInvoice, RedReason};
use crate::party::Buyer;
use crate::time::Timestamp;
use crate::weixin::{InsertedCard, ReimburseStatus};

/// Something that happened to an order.
#[derive(Debug, Clone, PartialEq)]
pub enum Input {
    /// An auth URL was handed out (again, for a re-scanned QR code).
    AuthUrlIssued,
    /// The buyer authorized (push or `getauthdata` reconciliation).
    BuyerAuthorized(Authorization),
    /// The buyer's authorization failed.
    AuthorizationFailed {
        /// When.
        at: Timestamp,
    },
    /// `getauthdata` confirmed the authorization; `buyer` is the title from the auth page, if
    /// any. `issue_key` is a fresh idempotency key to record.
    AuthDataFetched {
        /// Title from the auth page.
        buyer: Option<Buyer>,
        /// Note on how the title was read (e.g. unverified tax id).
        note: Option<String>,
        /// Fresh idempotency key.
        issue_key: IssueKey,
    },
    /// The tax platform answered an issue or query.
    IssueAnswered(IssueResult),
    /// The PDF was uploaded.
    PdfUploaded(UploadedPdf),
    /// The uploaded PDF is too old to attach; upload again.
    PdfMediaExpired,
    /// The card was inserted.
    CardInserted {
        /// Template used.
        card_id: CardId,
        /// Weixin's answer.
        card: InsertedCard,
    },
    /// Weixin says the order already has its card (72056/72018 to an insert): an earlier
    /// insert was applied and its answer lost. The card code is not in this answer.
    CardAlreadyInserted {
        /// Template used.
        card_id: CardId,
        /// The code, when the buyer's card list named exactly one card of the template that no
        /// other order holds (`card/user/getcardlist`); `None` until a status push names it.
        code: Option<CardCode>,
    },
    /// A status push named the card whose code was unknown (matched by template and buyer).
    CardCodeLearned {
        /// The card code.
        code: CardCode,
        /// The buyer.
        openid: OpenId,
    },
    /// The merchant refuses to invoice this order.
    RejectRequested {
        /// Reason shown to the buyer.
        reason: String,
        /// Optional link.
        url: Option<String>,
    },
    /// `rejectinsert` succeeded.
    RejectionSent,
    /// A step failed in a way that needs an operator.
    StepFailed(AttentionReason),
    /// An operator asks to resume from needs-attention.
    RetryRequested,
    /// The merchant asks for a full reversal with a fresh key.
    ReverseRequested {
        /// Reason.
        reason: RedReason,
        /// Idempotency key of the red invoice.
        key: IssueKey,
    },
    /// The red invoice was issued.
    RedIssued(IssuedInvoice),
    /// The red invoice is not issued yet (pending, awaiting confirmation).
    RedPending,
    /// Our `updatestatus` call succeeded.
    CardStatusUpdated(ReimburseStatus),
    /// A reimburser changed the card's status (`update_invoice_status`); `at` is the push's
    /// `CreateTime` (pushes can arrive out of order).
    ReimbursementChanged {
        /// The new status.
        status: ReimburseStatus,
        /// When the reimburser changed it.
        at: Timestamp,
    },
}

impl Input {
    pub(super) fn name(&self) -> &'static str {
        match self {
            Input::AuthUrlIssued => "auth_url_issued",
            Input::BuyerAuthorized(_) => "buyer_authorized",
            Input::AuthorizationFailed { .. } => "authorization_failed",
            Input::AuthDataFetched { .. } => "auth_data_fetched",
            Input::IssueAnswered(IssueResult::Issued(_)) => "issued",
            Input::IssueAnswered(IssueResult::Pending(_)) => "issue_pending",
            Input::IssueAnswered(IssueResult::Rejected { .. }) => "issue_rejected",
            Input::IssueAnswered(IssueResult::OutcomeUnknown { .. }) => "issue_outcome_unknown",
            Input::PdfUploaded(_) => "pdf_uploaded",
            Input::PdfMediaExpired => "pdf_media_expired",
            Input::CardInserted { .. } => "card_inserted",
            Input::CardAlreadyInserted { .. } => "card_already_inserted",
            Input::CardCodeLearned { .. } => "card_code_learned",
            Input::RejectRequested { .. } => "reject_requested",
            Input::RejectionSent => "rejection_sent",
            Input::StepFailed(_) => "step_failed",
            Input::RetryRequested => "retry_requested",
            Input::ReverseRequested { .. } => "reverse_requested",
            Input::RedIssued(_) => "red_issued",
            Input::RedPending => "red_pending",
            Input::CardStatusUpdated(_) => "card_status_updated",
            Input::ReimbursementChanged { .. } => "reimbursement_changed",
        }
    }
}

/// The result of an issue or query call, as an input to the order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IssueResult {
    /// The invoice exists.
    Issued(IssuedInvoice),
    /// Accepted, not yet issued.
    Pending(Option<ProviderRef>),
    /// Definitively refused; `reason` is shown to the buyer.
    Rejected {
        /// Reason from the tax platform.
        reason: String,
    },
    /// The call may or may not have reached the platform.
    OutcomeUnknown {
        /// What happened.
        detail: String,
    },
}

/// An input that the order's current state does not allow.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TransitionError {
    /// The input is not allowed in this state.
    #[error("order {order}: {input} is not allowed in state {state}")]
    NotAllowed {
        /// The order.
        order: String,
        /// The state.
        state: OrderState,
        /// The input's name.
        input: &'static str,
    },
    /// The input is allowed but its data contradicts the order.
    #[error("order {order}: {detail}")]
    Invalid {
        /// The order.
        order: String,
        /// What is wrong.
        detail: String,
    },
}
