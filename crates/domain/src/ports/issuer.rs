use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::ids::{IssueKey, OrderKey, ProviderRef};
use crate::invoice::{InvoiceDraft, InvoiceKind, IssuedInvoice, RedReason};

/// What a tax platform adapter can do; the application chooses polling or waiting from it and
/// hides actions the platform lacks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssuerCapabilities {
    /// Adapter name, e.g. `sandbox`.
    pub name: String,
    /// Invoice kinds it issues.
    pub kinds: Vec<InvoiceKind>,
    /// Whether `issue` normally answers `Issued` at once.
    pub synchronous: bool,
    /// Full reversal supported.
    pub full_reversal: bool,
    /// Partial reversal supported.
    pub partial_reversal: bool,
    /// Most lines per invoice.
    pub max_lines: usize,
}

/// A request to issue one invoice.
#[derive(Debug, Clone, PartialEq)]
pub struct IssueRequest {
    /// Idempotency key: the same key never yields a second invoice.
    pub key: IssueKey,
    /// The order it is for (reference only).
    pub order: OrderKey,
    /// The validated invoice.
    pub draft: InvoiceDraft,
}

/// A definitive refusal by the tax platform.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct IssueRejection {
    /// The platform's reason, in words.
    pub reason: String,
    /// The platform's code, if any.
    pub code: Option<String>,
    /// Whether the key is dead (a retry needs a new key).
    pub serial_is_dead: bool,
}

/// The platform's answer to `issue` or `query`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum IssueOutcome {
    /// Issued.
    Issued(IssuedInvoice),
    /// Accepted, issued later; query again.
    Pending(Option<ProviderRef>),
    /// Refused.
    Rejected(IssueRejection),
}

/// A request for a full reversal (red invoice).
#[derive(Debug, Clone, PartialEq)]
pub struct ReverseRequest {
    /// Idempotency key of the red invoice.
    pub key: IssueKey,
    /// The blue invoice's key.
    pub original_key: IssueKey,
    /// The blue invoice.
    pub original: IssuedInvoice,
    /// The red invoice (negated lines).
    pub draft: InvoiceDraft,
    /// Reason.
    pub reason: RedReason,
}

/// The platform's answer to `reverse`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum ReverseOutcome {
    /// The red invoice is issued.
    RedIssued(IssuedInvoice),
    /// Waiting (pending issue, or a red form awaiting the buyer's confirmation).
    Pending {
        /// Red form id or platform reference.
        reference: Option<String>,
    },
    /// Refused.
    Rejected(IssueRejection),
}

/// An invoice PDF that passed the checks Weixin's `setpdf` applies.
#[derive(Clone, PartialEq, Eq)]
pub struct PdfDocument(Vec<u8>);

/// Largest PDF fapiao uploads (Weixin documents no limit; real invoices are tens of KB).
pub const MAX_PDF_BYTES: usize = 5 * 1024 * 1024;

/// A PDF failed the pre-upload checks.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PdfError {
    /// Empty body.
    #[error("pdf: empty document")]
    Empty,
    /// Over [`MAX_PDF_BYTES`].
    #[error("pdf: {0} bytes exceeds the {MAX_PDF_BYTES}-byte limit")]
    TooLarge(usize),
    /// Not a PDF.
    #[error("pdf: does not start with the %PDF- header")]
    NotPdf,
    /// Truncated.
    #[error("pdf: no %%EOF marker at the end (truncated?)")]
    Truncated,
}

impl PdfDocument {
    /// Checks the bytes: non-empty, within the size limit, `%PDF-` header, `%%EOF` trailer.
    ///
    /// # Errors
    /// [`PdfError`] naming the failed check.
    pub fn parse(bytes: Vec<u8>) -> Result<Self, PdfError> {
        if bytes.is_empty() {
            return Err(PdfError::Empty);
        }
        if bytes.len() > MAX_PDF_BYTES {
            return Err(PdfError::TooLarge(bytes.len()));
        }
        if !bytes.starts_with(b"%PDF-") {
            return Err(PdfError::NotPdf);
        }
        let tail_start = bytes.len().saturating_sub(1024);
        let tail = bytes.get(tail_start..).unwrap_or_default();
        if !tail.windows(5).any(|w| w == b"%%EOF") {
            return Err(PdfError::Truncated);
        }
        Ok(Self(bytes))
    }

    /// The bytes.
    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }

    /// Consumes the document into its bytes.
    pub fn into_bytes(self) -> Vec<u8> {
        self.0
    }
}

impl std::fmt::Debug for PdfDocument {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "PdfDocument({} bytes)", self.0.len())
    }
}

/// A failed issuer call, split by what the workflow may do next.
#[derive(Debug, thiserror::Error)]
pub enum IssueError {
    /// The request certainly did not reach the platform: retry later with the same key.
    #[error("not sent to the tax platform: {0}")]
    NotSent(String),
    /// The request may have been applied (timeout after sending): query with the same key;
    /// never issue with a new one.
    #[error("outcome unknown at the tax platform: {0}")]
    OutcomeUnknown(String),
    /// Credentials or configuration are wrong: an operator must act.
    #[error("tax platform configuration error: {0}")]
    Configuration(String),
    /// The platform needs the drawer's login or identity verification.
    #[error("tax platform session required: {0}")]
    SessionRequired(String),
    /// The invoice or document does not exist at the platform.
    #[error("not found at the tax platform: {0}")]
    NotFound(String),
    /// Anything else.
    #[error("tax platform call failed")]
    Other(#[source] Box<dyn std::error::Error + Send + Sync>),
}

/// A tax platform that issues invoices (one adapter per platform, plus the sandbox).
///
/// # Errors
/// Every method uses [`IssueError`] as documented on its variants; in particular an adapter
/// MUST answer [`IssueError::OutcomeUnknown`] (never `NotSent`) when a request may have been
/// applied, and MUST make `issue` with a key it has seen return the invoice of that key.
#[cfg_attr(any(test, feature = "mocks"), mockall::automock)]
#[async_trait]
pub trait InvoiceIssuer: Send + Sync {
    /// Static description of the platform.
    fn capabilities(&self) -> IssuerCapabilities;

    /// Issues the invoice, idempotently by `request.key`.
    async fn issue(&self, request: &IssueRequest) -> Result<IssueOutcome, IssueError>;

    /// What became of the request with `key`; `None` when the platform has never seen it.
    async fn query(&self, key: &IssueKey) -> Result<Option<IssueOutcome>, IssueError>;

    /// The invoice PDF (required by Weixin `setpdf`).
    async fn fetch_pdf(
        &self,
        key: &IssueKey,
        invoice: &IssuedInvoice,
    ) -> Result<PdfDocument, IssueError>;

    /// Issues the red invoice of a full reversal, idempotently by `request.key`.
    async fn reverse(&self, request: &ReverseRequest) -> Result<ReverseOutcome, IssueError>;
}
