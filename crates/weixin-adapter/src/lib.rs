//! The Weixin adapter of fapiao: the invoice API client over reqwest, the access-token and
//! `wx_card` ticket lifecycle, and the security and parsing of event pushes.
//!
//! Only this crate knows Weixin's wire formats (field names, signatures, AES, XML); its wire
//! structs live in [`wire`] and are converted to domain types by hand. It depends on
//! `fapiao-domain` and on no other fapiao crate.

pub mod client;
pub mod crypto;
pub mod error;
pub mod event;
mod ports;
pub mod seal;
pub mod token;
pub mod wire;

pub use client::{
    Account, GetPdfAction, LIVE_BASE_URL, ReqwestWeixinClient, RetryPolicy, TokenEndpoint,
    WeixinConfig,
};
pub use error::CallError;
pub use event::{PushConfig, PushMode, PushReceiver};
pub use token::{InMemoryTokenCache, SystemClock, TokenManager, TokenSettings};
