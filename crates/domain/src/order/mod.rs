//! The invoice order and its state machine.
//!
//! An order is keyed by `(s_pappid, order_id)`. Every change goes through [`Order::apply`]:
//! a pure function of the current order and an [`Input`] that either fails with a
//! [`TransitionError`] (and changes nothing) or moves the order and returns the
//! [`Command`]s the application must run next. The application persists the new order and
//! enqueues the commands in one transaction, runs them through the ports, and feeds each result
//! back as another input.

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::ids::{
    AppId, CardCode, CardId, IssueKey, MediaId, OpenId, OrderKey, ProviderRef, QrToken, SellerId,
};
use crate::invoice::{InvoiceKind, InvoiceLines, IssuedInvoice, RedReason};
use crate::money::Fen;
use crate::party::Buyer;
use crate::scenario::{AuthSource, PageStyle, Scenario};
use crate::time::Timestamp;
use crate::weixin::{InsertedCard, ReimburseStatus};

/// How long an uploaded PDF stays attachable (`s_media_id` lives three days); re-upload after.
pub const PDF_MEDIA_TTL_MILLIS: i64 = 3 * 24 * 3600 * 1000;
/// Safety margin: a PDF older than TTL minus this margin is uploaded again before `insert`.
pub const PDF_MEDIA_MARGIN_MILLIS: i64 = 3600 * 1000;

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

/// What an operator should know about an errcode that lands an order in needs-attention.
pub fn errcode_hint(errcode: i64) -> Option<&'static str> {
    Some(match errcode {
        72035 => {
            "the order was rejected with rejectinsert and can never get a card; reverse the invoice or reissue under a new order id"
        }
        72042 => "this invoice number is already on a card (another order or buyer)",
        72038 => {
            "Weixin has no authorization for this order_id, appid and s_pappid; check that they come from setup"
        }
        72056 | 72018 => {
            "a card was already inserted for this order_id; a reissue needs a new order id and a new authorization"
        }
        72063 => "the merchant contact is not set; run setup",
        72029 => "the auth page fields are not set; run setup",
        72028 => "the WeChat Pay merchant id is not bound; run setup",
        72015 | 48001 => "the account lacks the e-invoice permission for this call",
        72040 => "Weixin rejected the PDF",
        40078 => {
            "the card template is not usable yet (card capability, or too soon after createcard)"
        }
        72039 | 72060 | 72061 => "the card is locked, closed or cancelled by a reimburser",
        _ => return None,
    })
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
    /// A reimburser changed the card's status (`update_invoice_status`).
    ReimbursementChanged(ReimburseStatus),
}

impl Input {
    fn name(&self) -> &'static str {
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
            Input::RejectRequested { .. } => "reject_requested",
            Input::RejectionSent => "rejection_sent",
            Input::StepFailed(_) => "step_failed",
            Input::RetryRequested => "retry_requested",
            Input::ReverseRequested { .. } => "reverse_requested",
            Input::RedIssued(_) => "red_issued",
            Input::RedPending => "red_pending",
            Input::CardStatusUpdated(_) => "card_status_updated",
            Input::ReimbursementChanged(_) => "reimbursement_changed",
        }
    }
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

    /// Applies an input: on success the order has moved (or, for a repeated input, stayed
    /// unchanged) and the returned commands must run; on error nothing changed.
    ///
    /// # Errors
    /// [`TransitionError`] when the input is not allowed in the current state or contradicts
    /// the order.
    pub fn apply(&mut self, input: Input, at: Timestamp) -> Result<Vec<Command>, TransitionError> {
        let mut next = self.clone();
        let commands = next.transition(input, at)?;
        *self = next;
        Ok(commands)
    }

    fn not_allowed(&self, input: &Input) -> TransitionError {
        TransitionError::NotAllowed {
            order: self.key.order_id.to_string(),
            state: self.state,
            input: input.name(),
        }
    }

    fn invalid(&self, detail: impl Into<String>) -> TransitionError {
        TransitionError::Invalid {
            order: self.key.order_id.to_string(),
            detail: detail.into(),
        }
    }

    fn record(&mut self, from: Option<OrderState>, to: OrderState, cause: String, at: Timestamp) {
        let seq = u32::try_from(self.history.len())
            .unwrap_or(u32::MAX)
            .saturating_add(1);
        self.history.push(HistoryEntry {
            seq,
            from,
            to,
            cause,
            at,
        });
        self.updated_at = at;
    }

    fn move_to(&mut self, to: OrderState, cause: impl Into<String>, at: Timestamp) {
        let from = self.state;
        self.state = to;
        self.record(Some(from), to, cause.into(), at);
    }

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
                OrderState::IssuePending
                    | OrderState::IssueOutcomeUnknown
                    | OrderState::Issued
                    | OrderState::PdfUploaded
                    | OrderState::Delivered
                    | OrderState::Reversing
                    | OrderState::Reversed
            )
    }

    fn attention(&mut self, reason: AttentionReason, at: Timestamp) {
        let resume = match self.state {
            OrderState::NeedsAttention => self
                .attention
                .as_ref()
                .map_or(OrderState::Created, |a| a.resume),
            other => other,
        };
        let cause = reason.to_string();
        self.attention = Some(Attention {
            reason,
            resume,
            since: at,
        });
        self.move_to(OrderState::NeedsAttention, cause, at);
    }

    /// The command that continues the pipeline from `state`, if any.
    fn resume_command(&self, state: OrderState) -> Option<Command> {
        match state {
            OrderState::Authorized => Some(Command::FetchAuthData),
            OrderState::Issuing => self
                .issue_key
                .clone()
                .map(|key| Command::IssueInvoice { key }),
            OrderState::IssuePending | OrderState::IssueOutcomeUnknown => self
                .issue_key
                .clone()
                .map(|key| Command::QueryIssue { key }),
            OrderState::Issued => Some(Command::UploadPdf),
            OrderState::PdfUploaded => Some(Command::InsertCard),
            OrderState::Rejected if !self.rejection_sent => self
                .rejection
                .clone()
                .map(|reason| Command::RejectInsert { reason, url: None }),
            OrderState::Reversing => self.reversal.as_ref().map(|r| Command::ReverseInvoice {
                key: r.key.clone(),
                reason: r.reason,
            }),
            OrderState::Reversed => match (&self.reversal, &self.card) {
                (Some(r), Some(_)) if !r.card_cancelled => Some(Command::UpdateCardStatus {
                    status: ReimburseStatus::Cancel,
                }),
                _ => None,
            },
            _ => None,
        }
    }

    fn transition(&mut self, input: Input, at: Timestamp) -> Result<Vec<Command>, TransitionError> {
        use OrderState as S;
        match (self.state, input) {
            // --- authorization -------------------------------------------------------------
            (S::Created, Input::AuthUrlIssued) if !self.scenario.is_buyer_initiated() => {
                self.move_to(S::AwaitingAuthorization, "auth URL issued", at);
                Ok(vec![])
            }
            // A re-scanned QR code or a re-opened H5 page gets a fresh URL; nothing changes.
            (S::AwaitingAuthorization, Input::AuthUrlIssued) => Ok(vec![]),
            (
                S::Created | S::AwaitingAuthorization | S::AuthorizationFailed,
                Input::BuyerAuthorized(auth),
            ) => {
                let cause = match (&auth.appid, &auth.source) {
                    (Some(appid), Some(source)) => {
                        format!("buyer authorized via {} ({appid})", source.code())
                    }
                    (Some(appid), None) => format!("buyer authorized ({appid})"),
                    _ => "buyer authorized".to_owned(),
                };
                self.authorization = Some(auth);
                self.move_to(S::Authorized, cause, at);
                Ok(vec![Command::FetchAuthData])
            }
            // A repeated authorization changes nothing.
            (
                S::Authorized
                | S::Issuing
                | S::IssuePending
                | S::IssueOutcomeUnknown
                | S::Issued
                | S::PdfUploaded
                | S::Delivered
                | S::Reversing
                | S::Reversed,
                Input::BuyerAuthorized(_),
            ) => Ok(vec![]),
            (S::NeedsAttention, Input::BuyerAuthorized(_)) if self.authorization.is_some() => {
                Ok(vec![])
            }
            (S::Created | S::AwaitingAuthorization, Input::AuthorizationFailed { .. }) => {
                self.move_to(S::AuthorizationFailed, "buyer's authorization failed", at);
                Ok(vec![])
            }
            (S::AuthorizationFailed, Input::AuthorizationFailed { .. }) => Ok(vec![]),
            (
                S::Authorized,
                Input::AuthDataFetched {
                    buyer,
                    note,
                    issue_key,
                },
            ) => {
                // The title the buyer chose on a style-1 page wins over one the merchant guessed.
                let buyer = match (buyer, self.page_style) {
                    (Some(from_page), PageStyle::FillTitle) => Some(from_page),
                    (from_page, _) => self.buyer.clone().or(from_page),
                };
                let Some(buyer) = buyer else {
                    self.attention(AttentionReason::MissingBuyerTitle, at);
                    return Ok(vec![]);
                };
                self.buyer = Some(buyer);
                let key = self.issue_key.get_or_insert(issue_key).clone();
                let mut cause = format!("auth data fetched; issuing with key {key}");
                if let Some(note) = note {
                    cause.push_str("; ");
                    cause.push_str(&note);
                }
                self.move_to(S::Issuing, cause, at);
                Ok(vec![Command::IssueInvoice { key }])
            }
            // --- issuing -------------------------------------------------------------------
            (
                S::Issuing | S::IssuePending | S::IssueOutcomeUnknown,
                Input::IssueAnswered(result),
            ) => self.issue_answered(result, at),
            (
                S::Issued | S::PdfUploaded | S::Delivered,
                Input::IssueAnswered(IssueResult::Issued(inv)),
            ) if self.invoice.as_ref() == Some(&inv) => Ok(vec![]),
            // --- delivery ------------------------------------------------------------------
            (S::Issued, Input::PdfUploaded(pdf)) => {
                let cause = format!("PDF uploaded as s_media_id {}", pdf.media_id);
                self.pdf = Some(pdf);
                self.move_to(S::PdfUploaded, cause, at);
                Ok(vec![Command::InsertCard])
            }
            (S::PdfUploaded, Input::PdfMediaExpired) => {
                self.pdf = None;
                self.move_to(
                    S::Issued,
                    "uploaded PDF expired before insert; uploading again",
                    at,
                );
                Ok(vec![Command::UploadPdf])
            }
            (S::PdfUploaded, Input::CardInserted { card_id, card }) => {
                let cause = format!("card {card_id}/{} inserted for {}", card.code, card.openid);
                self.card = Some(DeliveredCard {
                    card_id,
                    code: card.code,
                    openid: card.openid,
                    reimbursement: ReimburseStatus::Init,
                });
                self.move_to(S::Delivered, cause, at);
                Ok(vec![])
            }
            (S::Delivered, Input::CardInserted { card_id, card }) => match &self.card {
                Some(c) if c.card_id == card_id && c.code == card.code => Ok(vec![]),
                _ => Err(self.invalid("a second card for an order that already has one")),
            },
            // --- rejection -----------------------------------------------------------------
            (
                S::Created | S::AwaitingAuthorization | S::Authorized | S::NeedsAttention,
                Input::RejectRequested { reason, url },
            ) => {
                if self.may_have_invoice() {
                    return Err(self.invalid(
                        "a tax invoice exists or may exist for this order; reverse it instead of rejecting",
                    ));
                }
                let reason = reason.trim().to_owned();
                if reason.is_empty() || reason.chars().count() > 200 {
                    return Err(self.invalid("reason: must be 1 to 200 characters"));
                }
                self.rejection = Some(reason.clone());
                self.attention = None;
                self.move_to(S::Rejected, format!("rejected: {reason}"), at);
                Ok(vec![Command::RejectInsert { reason, url }])
            }
            (S::Rejected, Input::RejectRequested { .. }) => Ok(vec![]),
            (
                S::Issuing
                | S::IssuePending
                | S::IssueOutcomeUnknown
                | S::Issued
                | S::PdfUploaded
                | S::Delivered
                | S::Reversing,
                Input::RejectRequested { .. },
            ) => Err(self.invalid(
                "a tax invoice exists or may exist for this order; reverse it instead of rejecting",
            )),
            (S::Rejected, Input::RejectionSent) => {
                if !self.rejection_sent {
                    self.rejection_sent = true;
                    self.record(
                        Some(S::Rejected),
                        S::Rejected,
                        "buyer told via rejectinsert".into(),
                        at,
                    );
                }
                Ok(vec![])
            }
            // --- attention and retry -------------------------------------------------------
            (state, Input::StepFailed(reason))
                if !state.is_terminal() || state == S::Rejected || state == S::Reversed =>
            {
                self.attention(reason, at);
                Ok(vec![])
            }
            (S::NeedsAttention, Input::RetryRequested) => {
                let Some(attention) = self.attention.take() else {
                    return Err(self.invalid("needs attention without a recorded reason"));
                };
                let resume = attention.resume;
                let command = self.resume_command(resume);
                self.move_to(
                    resume,
                    format!("operator retry after: {}", attention.reason),
                    at,
                );
                Ok(command.into_iter().collect())
            }
            // --- reversal ------------------------------------------------------------------
            (
                S::Issued | S::PdfUploaded | S::Delivered | S::NeedsAttention,
                Input::ReverseRequested { reason, key },
            ) => {
                if self.invoice.is_none() {
                    return Err(self.invalid("no tax invoice to reverse"));
                }
                if self.state == S::NeedsAttention
                    && self
                        .attention
                        .as_ref()
                        .is_some_and(|a| a.resume == S::Reversing || a.resume == S::Reversed)
                {
                    return Err(self.invalid("a reversal is already under way; retry it instead"));
                }
                self.attention = None;
                self.reversal = Some(Reversal {
                    key: key.clone(),
                    reason,
                    red_invoice: None,
                    card_cancelled: false,
                });
                self.move_to(
                    S::Reversing,
                    format!("reversal requested ({})", reason.label()),
                    at,
                );
                Ok(vec![Command::ReverseInvoice { key, reason }])
            }
            (S::Reversing, Input::RedIssued(red)) => {
                let cause = format!("red invoice {} issued", red.number);
                if let Some(reversal) = self.reversal.as_mut() {
                    reversal.red_invoice = Some(red);
                }
                self.move_to(S::Reversed, cause, at);
                Ok(self.resume_command(S::Reversed).into_iter().collect())
            }
            (S::Reversing, Input::RedPending) => Ok(vec![]),
            (S::Reversed, Input::CardStatusUpdated(ReimburseStatus::Cancel)) => {
                if let Some(reversal) = self.reversal.as_mut() {
                    reversal.card_cancelled = true;
                }
                if let Some(card) = self.card.as_mut() {
                    card.reimbursement = ReimburseStatus::Cancel;
                }
                self.record(
                    Some(S::Reversed),
                    S::Reversed,
                    "card set to INVOICE_REIMBURSE_CANCEL".into(),
                    at,
                );
                Ok(vec![])
            }
            // --- reimbursement track -------------------------------------------------------
            (
                S::Delivered | S::Reversed | S::Reversing | S::NeedsAttention,
                Input::ReimbursementChanged(status),
            ) => {
                let order = self.key.order_id.to_string();
                let Some(card) = self.card.as_mut() else {
                    return Err(TransitionError::Invalid {
                        order,
                        detail: "a status change for an order without a card".into(),
                    });
                };
                if card.reimbursement == status {
                    return Ok(vec![]);
                }
                if card.reimbursement.is_final() {
                    return Err(TransitionError::Invalid {
                        order,
                        detail: format!(
                            "card is {} (final); {} is not possible",
                            card.reimbursement, status
                        ),
                    });
                }
                let cause = format!("reimbursement {} -> {}", card.reimbursement, status);
                card.reimbursement = status;
                let state = self.state;
                self.record(Some(state), state, cause, at);
                Ok(vec![])
            }
            (_, input) => Err(self.not_allowed(&input)),
        }
    }

    fn issue_answered(
        &mut self,
        result: IssueResult,
        at: Timestamp,
    ) -> Result<Vec<Command>, TransitionError> {
        use OrderState as S;
        let Some(key) = self.issue_key.clone() else {
            return Err(self.invalid("an issue answer for an order without an idempotency key"));
        };
        match result {
            IssueResult::Issued(invoice) => {
                if invoice.totals != self.lines.totals() {
                    return Err(self.invalid(format!(
                        "the issued invoice's totals ({} / {} / {}) differ from the order's ({} / {} / {})",
                        invoice.totals.amount_excl, invoice.totals.tax, invoice.totals.total,
                        self.lines.totals().amount_excl, self.lines.totals().tax, self.lines.totals().total
                    )));
                }
                let cause = format!("invoice {} issued", invoice.number);
                if let Some(reference) = &invoice.provider_ref {
                    self.provider_ref = Some(reference.clone());
                }
                self.invoice = Some(invoice);
                self.move_to(S::Issued, cause, at);
                Ok(vec![Command::UploadPdf])
            }
            IssueResult::Pending(reference) => {
                if reference.is_some() {
                    self.provider_ref = reference;
                }
                if self.state != S::IssuePending {
                    self.move_to(S::IssuePending, "pending at the tax platform", at);
                }
                Ok(vec![Command::QueryIssue { key }])
            }
            IssueResult::OutcomeUnknown { detail } => {
                if self.state != S::IssueOutcomeUnknown {
                    self.move_to(
                        S::IssueOutcomeUnknown,
                        format!("issue outcome unknown ({detail}); querying with the same key"),
                        at,
                    );
                }
                Ok(vec![Command::QueryIssue { key }])
            }
            IssueResult::Rejected { reason } => {
                let buyer_reason = format!("开票失败：{reason}");
                self.rejection = Some(buyer_reason.clone());
                self.move_to(
                    S::Rejected,
                    format!("tax platform rejected the invoice: {reason}"),
                    at,
                );
                Ok(vec![Command::RejectInsert {
                    reason: buyer_reason,
                    url: None,
                }])
            }
        }
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
