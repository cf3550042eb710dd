//! Credentials: `/cgi-bin/token`, `/cgi-bin/stable_token` and the `wx_card` ticket.

use secrecy::{ExposeSecret, SecretString};
use serde::{Deserialize, Serialize, Serializer};

use super::{Endpoint, Method, WeixinRequest, lenient};

/// Query of `GET /cgi-bin/token`.
#[derive(Debug, Serialize)]
pub struct TokenRequest<'a> {
    /// Always `client_credential`.
    pub grant_type: &'static str,
    /// The account's appid.
    pub appid: &'a str,
    /// The account's AppSecret.
    #[serde(serialize_with = "expose")]
    pub secret: &'a SecretString,
}

impl TokenRequest<'_> {
    /// The endpoint (called without an access token).
    pub const ENDPOINT: Endpoint = Endpoint {
        name: "token",
        path: "/cgi-bin/token",
        method: Method::Get,
        action: None,
        idempotent: true,
    };
}

/// Body of `POST /cgi-bin/stable_token`.
#[derive(Debug, Serialize)]
pub struct StableTokenRequest<'a> {
    /// Always `client_credential`.
    pub grant_type: &'static str,
    /// The account's appid.
    pub appid: &'a str,
    /// The account's AppSecret.
    #[serde(serialize_with = "expose")]
    pub secret: &'a SecretString,
    /// `true` rotates the token at once (at most 20 times a day, 30 s apart).
    pub force_refresh: bool,
}

impl StableTokenRequest<'_> {
    /// The endpoint (called without an access token).
    pub const ENDPOINT: Endpoint = Endpoint {
        name: "stable_token",
        path: "/cgi-bin/stable_token",
        method: Method::Post,
        action: None,
        idempotent: true,
    };
}

/// Answer of both token endpoints. `Debug` never shows the token.
#[derive(Debug, Deserialize)]
pub struct TokenResponse {
    /// The access token (up to 512 characters).
    pub access_token: SecretString,
    /// Lifetime in seconds (at most 7200).
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub expires_in: i64,
}

/// Query of `GET /cgi-bin/ticket/getticket`.
#[derive(Debug, Clone, Copy, Serialize)]
pub struct TicketRequest {
    /// `wx_card` (the auth page ticket); `jsapi` is a different ticket.
    #[serde(rename = "type")]
    pub kind: &'static str,
}

impl TicketRequest {
    /// The `wx_card` ticket request.
    pub const WX_CARD: Self = Self { kind: "wx_card" };
}

impl WeixinRequest for TicketRequest {
    const ENDPOINT: Endpoint = Endpoint {
        name: "getticket",
        path: "/cgi-bin/ticket/getticket",
        method: Method::Get,
        action: None,
        idempotent: true,
    };
    type Response = TicketResponse;
}

/// Answer of `getticket`. `Debug` never shows the ticket.
#[derive(Debug, Deserialize)]
pub struct TicketResponse {
    /// The ticket.
    pub ticket: SecretString,
    /// Lifetime in seconds (normally 7200).
    #[serde(default, deserialize_with = "lenient::i64_or_string")]
    pub expires_in: i64,
}

fn expose<S: Serializer>(secret: &&SecretString, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(secret.expose_secret())
}
