//! Integration tests of fapiao-issuer: the PDF as a reader sees it, and the sandbox issuer
//! through the domain's `InvoiceIssuer` port.
#![allow(clippy::unwrap_used)] // Tests fail loudly by design.

mod pdf;
mod support;
