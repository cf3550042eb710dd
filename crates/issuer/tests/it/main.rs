//! Integration tests of fapiao-issuer: the PDF as a reader sees it, and the sandbox issuer
//! through the domain's `InvoiceIssuer` port.

mod pdf;
mod samples;
mod sandbox;
mod support;
