//! Why an order needs an operator: [`AttentionReason`] and the recorded [`Attention`].

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{OrderState, Step};
use crate::ids::SellerId;
use crate::time::Timestamp;
use crate::weixin::errcode_hint;

/// Why an order needs an operator.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum AttentionReason {
    /// Weixin answered a business error (72xxx, permissions) to a step.
    WeixinBusiness {
        /// The step.
        step: Step,
        /// `errcode`.
        errcode: i64,
        /// `errmsg`, verbatim.
        errmsg: String,
    },
    /// A step kept failing transiently until its retries ran out.
    RetriesExhausted {
        /// The step.
        step: Step,
        /// The last error.
        last_error: String,
    },
    /// The tax platform refused our configuration or credentials.
    IssuerConfiguration {
        /// The issuer's message.
        message: String,
    },
    /// The tax platform needs the drawer to log in or verify their identity.
    IssuerSessionRequired {
        /// The issuer's message.
        message: String,
    },
    /// The tax platform rejected the reversal.
    ReversalRejected {
        /// The issuer's message.
        message: String,
    },
    /// Neither the merchant nor the auth page supplied a buyer title.
    MissingBuyerTitle,
    /// The title the buyer chose on the auth page is unusable.
    InvalidBuyerTitle {
        /// What is wrong with it.
        detail: String,
    },
    /// `getauthdata` does not confirm an authorization the push announced.
    AuthorizationNotConfirmed {
        /// The status `getauthdata` reported.
        status: String,
    },
    /// The card payload failed validation before sending.
    InvalidCardData {
        /// The field and rule.
        detail: String,
    },
    /// The seller has no card template (setup incomplete).
    MissingCardTemplate {
        /// The seller.
        seller: SellerId,
    },
    /// The step's preconditions are broken in a way only an operator can judge.
    Inconsistent {
        /// What is inconsistent.
        detail: String,
    },
}

impl fmt::Display for AttentionReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            AttentionReason::WeixinBusiness {
                step,
                errcode,
                errmsg,
            } => {
                write!(f, "weixin refused {step} with errcode {errcode} ({errmsg})")?;
                if let Some(hint) = errcode_hint(*errcode) {
                    write!(f, ": {hint}")?;
                }
                Ok(())
            }
            AttentionReason::RetriesExhausted { step, last_error } => {
                write!(f, "{step} kept failing, retries exhausted: {last_error}")
            }
            AttentionReason::IssuerConfiguration { message } => {
                write!(
                    f,
                    "the tax platform refused the configuration or credentials: {message}"
                )
            }
            AttentionReason::IssuerSessionRequired { message } => write!(
                f,
                "the tax platform needs the drawer to log in or verify identity: {message}"
            ),
            AttentionReason::ReversalRejected { message } => {
                write!(f, "the tax platform rejected the reversal: {message}")
            }
            AttentionReason::MissingBuyerTitle => f.write_str(
                "no buyer title: the order has none and the auth page (style 0) collected none",
            ),
            AttentionReason::InvalidBuyerTitle { detail } => {
                write!(f, "the buyer's title is unusable: {detail}")
            }
            AttentionReason::AuthorizationNotConfirmed { status } => write!(
                f,
                "getauthdata does not confirm the authorization (invoice_status {status:?})"
            ),
            AttentionReason::InvalidCardData { detail } => {
                write!(f, "the invoice card payload is invalid: {detail}")
            }
            AttentionReason::MissingCardTemplate { seller } => {
                write!(f, "seller {seller} has no invoice card template; run setup")
            }
            AttentionReason::Inconsistent { detail } => f.write_str(detail),
        }
    }
}

/// Set when an order is in [`OrderState::NeedsAttention`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Attention {
    /// Why.
    pub reason: AttentionReason,
    /// The state to resume from on retry.
    pub resume: OrderState,
    /// Since when.
    pub since: Timestamp,
}
