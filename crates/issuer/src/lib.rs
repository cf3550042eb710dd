//! Invoice issuers for fapiao: adapters behind the domain's `InvoiceIssuer` port.
//!
//! - [`sandbox`]: the sandbox tax platform, gap-free test numbers, idempotent by key, with
//!   pending and fault modes, and real PDFs.
//! - [`gateway`]: a merchant's own issuing service over HTTP, signed both ways with a shared
//!   secret (`docs/issuers/gateway.md`).
//! - [`nuonuo`]: Nuonuo's 诺税通saas open platform (HMAC-SHA1 signed calls, the shared token
//!   with its 50-calls-per-30-days budget, asynchronous issue, the 数电 红字确认单 flow).
//! - [`pdf`]: draws the face of a 数电 invoice to PDF with an embedded CJK font subset;
//!   [`face`] turns a domain invoice into the text of that face.
//!
//! This crate depends on `fapiao-domain` and never on another adapter or on `app`.

pub mod face;
pub mod gateway;
pub mod nuonuo;
pub mod pdf;
pub mod sandbox;

pub use face::invoice_face;
pub use gateway::{GatewayConfig, GatewayConfigError, HttpGatewayIssuer};
pub use nuonuo::{NuonuoConfig, NuonuoConfigError, NuonuoIssuer, TokenBudget, TokenPolicy};
pub use pdf::{FaceParty, FaceRow, InvoiceFace, InvoicePdfRenderer, RenderError};
pub use sandbox::{
    InMemorySandboxLedger, LedgerError, MIX_REJECTION_CODE, ModeMix, SANDBOX_MARK, SandboxIssuer,
    SandboxLedger, SandboxMode, SandboxRecord, SandboxResult,
};
