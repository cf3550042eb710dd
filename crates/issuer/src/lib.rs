//! Invoice issuers for fapiao: adapters behind the domain's `InvoiceIssuer` port.
//!
//! - [`pdf`] draws the face of a 数电 invoice to PDF with an embedded CJK font subset.
//!
//! This crate depends on `fapiao-domain` and never on another adapter or on `app`.

pub mod pdf;

pub use pdf::{FaceParty, FaceRow, InvoiceFace, InvoicePdfRenderer, PdfError};
