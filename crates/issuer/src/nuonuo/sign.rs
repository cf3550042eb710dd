//! The Nuonuo open-platform request signature (reference §1.4): `X-Nuonuo-Sign` is
//! `base64(HMAC-SHA1(appSecret, "a=services&l=v1&p=open&k={appKey}&i={senid}&n={nonce}&t={timestamp}&f={body}"))`.
//!
//! The body is signed as the exact bytes sent: nothing is re-serialised, URL-encoded, sorted
//! or escaped. The path prefix is fixed because sandbox and production share `/open/v1/services`.
//! The emulator verifies with the same functions, so the two can never drift apart.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, KeyInit, Mac};
use sha1::Sha1;
use subtle::ConstantTimeEq;

/// The fixed start of every string to sign: the path segments `services`, `v1`, `open`.
pub const SIGN_PREFIX: &str = "a=services&l=v1&p=open";

/// The public parameters of one signed call, sent in the URL query.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignParams<'a> {
    /// The app key (`appkey`).
    pub app_key: &'a str,
    /// The 32-character random request id (`senid`).
    pub senid: &'a str,
    /// The random positive integer (`nonce`).
    pub nonce: &'a str,
    /// Unix seconds (`timestamp`).
    pub timestamp: &'a str,
}

/// The bytes that are signed: the prefix, the four parameters and the body as sent.
pub fn string_to_sign(params: &SignParams<'_>, body: &[u8]) -> Vec<u8> {
    let head = format!(
        "{SIGN_PREFIX}&k={}&i={}&n={}&t={}&f=",
        params.app_key, params.senid, params.nonce, params.timestamp
    );
    let mut message = Vec::with_capacity(head.len() + body.len());
    message.extend_from_slice(head.as_bytes());
    message.extend_from_slice(body);
    message
}

/// `X-Nuonuo-Sign` of a call: base64 of the HMAC-SHA1 of [`string_to_sign`] keyed with the app
/// secret's UTF-8 bytes.
pub fn sign(app_secret: &str, params: &SignParams<'_>, body: &[u8]) -> String {
    STANDARD.encode(mac(app_secret, &string_to_sign(params, body)))
}

/// Whether `given` is the signature of the call, compared in constant time.
pub fn verify(app_secret: &str, params: &SignParams<'_>, body: &[u8], given: &str) -> bool {
    let Ok(given) = STANDARD.decode(given.trim()) else {
        return false;
    };
    let expected = mac(app_secret, &string_to_sign(params, body));
    given.len() == expected.len() && bool::from(expected.as_slice().ct_eq(given.as_slice()))
}

fn mac(app_secret: &str, message: &[u8]) -> [u8; 20] {
    let mut mac =
        Hmac::<Sha1>::new_from_slice(app_secret.as_bytes()).expect("HMAC takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().into()
}
