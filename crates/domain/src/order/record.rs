//! What an order records along the way: the authorization, the uploaded PDF, the delivered card,
//! the reversal and the history of transitions.

use serde::{Deserialize, Serialize};

use super::OrderState;
use crate::ids::{AppId, CardCode, CardId, IssueKey, MediaId, OpenId};
use crate::invoice::{IssuedInvoice, RedReason};
use crate::scenario::AuthSource;
use crate::time::Timestamp;
use crate::weixin::ReimburseStatus;

/// The buyer's authorization as the order records it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Authorization {
    /// The buyer, when known (from the push).
    pub openid: Option<OpenId>,
    /// The account that obtained the auth URL, as reported.
    pub appid: Option<AppId>,
    /// Where the buyer authorized.
    pub source: Option<AuthSource>,
    /// When.
    pub at: Timestamp,
}

/// An uploaded PDF.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct UploadedPdf {
    /// `s_media_id`.
    pub media_id: MediaId,
    /// When it was uploaded.
    pub uploaded_at: Timestamp,
}

/// The card in the buyer's Cards & Offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct DeliveredCard {
    /// Template.
    pub card_id: CardId,
    /// Card code.
    pub code: CardCode,
    /// Receiving buyer.
    pub openid: OpenId,
    /// Reimbursement status.
    pub reimbursement: ReimburseStatus,
}

/// A reversal in progress or done.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Reversal {
    /// The red invoice's idempotency key.
    pub key: IssueKey,
    /// Reason.
    pub reason: RedReason,
    /// The red invoice once issued.
    pub red_invoice: Option<IssuedInvoice>,
    /// Whether the card was set to cancelled.
    pub card_cancelled: bool,
}

/// One recorded transition.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct HistoryEntry {
    /// 1-based sequence within the order.
    pub seq: u32,
    /// State before.
    pub from: Option<OrderState>,
    /// State after.
    pub to: OrderState,
    /// What caused it, in words.
    pub cause: String,
    /// When.
    pub at: Timestamp,
}
