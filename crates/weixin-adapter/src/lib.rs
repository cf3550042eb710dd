//! The Weixin adapter of fapiao: the invoice API client over reqwest, the access-token and
//! `wx_card` ticket lifecycle, and the security and parsing of event pushes.
//!
//! Only this crate knows Weixin's wire formats (field names, signatures, AES, XML); its wire
//! structs live in [`wire`] and are converted to domain types by hand. It depends on
//! `fapiao-domain` and on no other fapiao crate.

pub mod crypto;
pub mod wire;
