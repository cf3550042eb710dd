//! The work an order asks for: [`Command`], the pipeline [`Step`] it performs, and which commands
//! an order still accepts.

use std::fmt;

use serde::{Deserialize, Serialize};

use super::{Order, OrderState};
use crate::ids::IssueKey;
use crate::invoice::RedReason;
use crate::weixin::ReimburseStatus;

/// A unit of work the application runs through a port for an order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case", tag = "command")]
pub enum Command {
    /// `getauthdata`: confirm the authorization and read the buyer's title.
    FetchAuthData,
    /// Ask the tax platform to issue, with the recorded idempotency key.
    IssueInvoice {
        /// Idempotency key.
        key: IssueKey,
    },
    /// Ask the tax platform what became of the request with this key.
    QueryIssue {
        /// Idempotency key.
        key: IssueKey,
    },
    /// Fetch the invoice PDF from the issuer, check it, and `setpdf` it.
    UploadPdf,
    /// `insert` the invoice card.
    InsertCard,
    /// `rejectinsert` with the reason.
    RejectInsert {
        /// Reason shown to the buyer.
        reason: String,
        /// Optional link for the buyer's next step.
        url: Option<String>,
    },
    /// Issue the red invoice for a full reversal.
    ReverseInvoice {
        /// Idempotency key of the red invoice.
        key: IssueKey,
        /// Reversal reason.
        reason: RedReason,
    },
    /// `updatestatus` on the card.
    UpdateCardStatus {
        /// The status to set.
        status: ReimburseStatus,
    },
}

impl Command {
    /// The pipeline step this command performs.
    pub fn step(&self) -> Step {
        match self {
            Command::FetchAuthData => Step::FetchAuthData,
            Command::IssueInvoice { .. } => Step::Issue,
            Command::QueryIssue { .. } => Step::QueryIssue,
            Command::UploadPdf => Step::UploadPdf,
            Command::InsertCard => Step::InsertCard,
            Command::RejectInsert { .. } => Step::RejectInsert,
            Command::ReverseInvoice { .. } => Step::Reverse,
            Command::UpdateCardStatus { .. } => Step::UpdateCardStatus,
        }
    }
}

/// A pipeline step, for reasons, metrics and logs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Step {
    /// `getauthurl`.
    AuthUrl,
    /// `getauthdata`.
    FetchAuthData,
    /// Issue at the tax platform.
    Issue,
    /// Query the tax platform.
    QueryIssue,
    /// `setpdf`.
    UploadPdf,
    /// `insert`.
    InsertCard,
    /// `rejectinsert`.
    RejectInsert,
    /// Red invoice.
    Reverse,
    /// `updatestatus`.
    UpdateCardStatus,
}

impl Step {
    /// The name used in metrics and reasons.
    pub fn code(self) -> &'static str {
        match self {
            Step::AuthUrl => "auth_url",
            Step::FetchAuthData => "fetch_auth_data",
            Step::Issue => "issue",
            Step::QueryIssue => "query_issue",
            Step::UploadPdf => "upload_pdf",
            Step::InsertCard => "insert_card",
            Step::RejectInsert => "reject_insert",
            Step::Reverse => "reverse",
            Step::UpdateCardStatus => "update_card_status",
        }
    }
}

impl fmt::Display for Step {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

impl Order {
    /// Whether the order, as it is now, still accepts `command`.
    ///
    /// A queued command can outlive the state that made it (an operator retried, a reversal or a
    /// repeated push moved the order on), so the application runs a command only while its order
    /// accepts it: the state that asks for it, and for the issuer calls the very key the order
    /// recorded.
    pub fn accepts(&self, command: &Command) -> bool {
        use OrderState as S;
        match command {
            Command::FetchAuthData => self.state() == S::Authorized,
            Command::IssueInvoice { key } | Command::QueryIssue { key } => {
                matches!(
                    self.state(),
                    S::Issuing | S::IssueOutcomeUnknown | S::IssuePending
                ) && self.issue_key() == Some(key)
            }
            Command::UploadPdf => self.state() == S::Issued,
            Command::InsertCard => self.state() == S::PdfUploaded,
            Command::RejectInsert { .. } => {
                self.state() == S::Rejected && self.rejection().is_some()
            }
            Command::ReverseInvoice { key, .. } => {
                self.state() == S::Reversing && self.reversal().is_some_and(|r| &r.key == key)
            }
            Command::UpdateCardStatus { .. } => {
                self.card().is_some() && self.state() == S::Reversed
            }
        }
    }
}
