//! Weixin's wire formats: one typed `…Request`/`…Response` pair per endpoint of the reference
//! §5, the `errcode`/`errmsg` status every answer carries, and the pushed XML events.
//!
//! Parsing is lenient exactly where Weixin is: `errcode` is absent on some successes and is a
//! string in some documented samples, ids that are 64-bit numbers come as strings or numbers,
//! and optional fields may be missing, `null` or empty. Nothing here knows the domain; the
//! hand-written conversions live in `convert`.

use serde::de::DeserializeOwned;
use serde::{Deserialize, Serialize};

pub(crate) mod convert;
pub mod lenient;
pub mod merchant;
pub mod platform;
pub mod push;
pub mod token;

pub use convert::ConvertError;
pub use merchant::*;
pub use platform::*;
pub use push::*;
pub use token::*;

/// HTTP method of an endpoint; a GET request is sent as query parameters, a POST as JSON.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Query parameters only.
    Get,
    /// JSON body.
    Post,
}

/// Static facts about one endpoint.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Endpoint {
    /// Short name for logs and metrics, e.g. `getauthurl` or `setbizattr.set_contact`.
    pub name: &'static str,
    /// Path below the base URL.
    pub path: &'static str,
    /// GET or POST.
    pub method: Method,
    /// The `action` query parameter of `setbizattr`.
    pub action: Option<&'static str>,
    /// Whether sending the request twice has the effect of sending it once, so a transport
    /// failure after sending may be retried.
    pub idempotent: bool,
}

/// A request sent with an `access_token`; ties it to its endpoint and response type.
pub trait WeixinRequest: Serialize + Send + Sync {
    /// The endpoint.
    const ENDPOINT: Endpoint;
    /// The typed answer on `errcode == 0`.
    type Response: DeserializeOwned + Send;
}

/// The status part of every Weixin answer.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct ApiStatus {
    /// 0 on success; absent on some successful answers.
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub errcode: i64,
    /// `ok` on success; carries a `hint:`/`rid:` suffix on errors. Never matched on.
    #[serde(default, deserialize_with = "lenient::string_or_default")]
    pub errmsg: String,
}

impl ApiStatus {
    /// Whether Weixin reported success.
    pub fn is_ok(&self) -> bool {
        self.errcode == 0
    }
}

/// The empty JSON object `{}` some endpoints take as their body.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct Empty {}

/// An answer that carries nothing but the status.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
pub struct StatusResponse {}

#[cfg(test)]
mod tests;
