//! Event pushes: the URL verification GET, and POSTed events in plain, compatible and safe
//! mode, checked in this order: body size, timestamp window, signature (constant time),
//! decryption and appid, then XML.
//!
//! In plain mode the URL `signature` covers only token, timestamp and nonce, not the body, so a
//! captured URL could carry another body: turn on the timestamp window and deduplicate events
//! (by business identity) downstream. In safe mode `msg_signature` covers the ciphertext too.

use std::borrow::Cow;
use std::fmt;
use std::time::Duration;

use fapiao_domain::ports::{PushDecoder, PushError};
use fapiao_domain::weixin::WeixinEvent;
use fapiao_domain::{AppId, Timestamp};
use secrecy::{ExposeSecret, SecretString};

use crate::crypto::{self, CryptoError, EncryptedReply, KeyRing, RANDOM_LEN};
use crate::wire::convert::{self, ConvertError};
use crate::wire::push::{FieldLookup, PushFields, find_either};
use crate::wire::{PushEvent, PushQuery, XmlError, XmlFields};

/// The default body limit: Weixin's pushes are well under 10 KB, compatible mode about 3×.
pub const DEFAULT_MAX_BODY_BYTES: usize = 64 * 1024;

/// The message security mode configured on the Official Account.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PushMode {
    /// 明文: plaintext XML, URL `signature` only.
    Plain,
    /// 兼容: plaintext and ciphertext both; the ciphertext is what is trusted. Plaintext
    /// pushes (without `encrypt_type=aes`) are accepted too, for the switch-over.
    Compatible,
    /// 安全: ciphertext only; plaintext pushes are refused.
    Safe,
}

/// Configuration of [`PushReceiver`].
pub struct PushConfig {
    /// The Token configured for the server URL.
    pub token: SecretString,
    /// The Official Account's appid, checked against the decrypted trailer.
    pub appid: AppId,
    /// The configured mode.
    pub mode: PushMode,
    /// Current and previous EncodingAESKey; required unless the mode is plain.
    pub keys: Option<KeyRing>,
    /// Bodies larger than this are refused before any parsing.
    pub max_body_bytes: usize,
    /// When set, pushes whose `timestamp` is further than this from now are refused.
    pub timestamp_window: Option<Duration>,
}

impl fmt::Debug for PushConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PushConfig")
            .field("token", &"***")
            .field("appid", &self.appid)
            .field("mode", &self.mode)
            .field("keys", &self.keys.as_ref().map(|_| "***"))
            .field("max_body_bytes", &self.max_body_bytes)
            .field("timestamp_window", &self.timestamp_window)
            .finish()
    }
}

impl PushConfig {
    /// Plain mode with the default body limit and no timestamp window.
    pub fn plain(token: impl Into<String>, appid: AppId) -> Self {
        Self {
            token: SecretString::from(token.into()),
            appid,
            mode: PushMode::Plain,
            keys: None,
            max_body_bytes: DEFAULT_MAX_BODY_BYTES,
            timestamp_window: None,
        }
    }

    /// An encrypted mode (compatible or safe) with `keys`.
    pub fn encrypted(
        token: impl Into<String>,
        appid: AppId,
        mode: PushMode,
        keys: KeyRing,
    ) -> Self {
        Self {
            mode,
            keys: Some(keys),
            ..Self::plain(token, appid)
        }
    }
}

/// Why a push or a verification request was refused, in more detail than the domain's
/// [`PushError`] (which [`PushDecoder`] answers). None of these happens with Weixin in normal
/// operation; answer them with a 4xx and log.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ReceiveError {
    /// A required query parameter is absent.
    #[error("push query parameter {0} is missing")]
    MissingParameter(&'static str),
    /// `signature` or `msg_signature` does not match.
    #[error("push signature does not match")]
    Signature,
    /// `timestamp` is not an integer.
    #[error("push timestamp is not an integer")]
    InvalidTimestamp,
    /// `timestamp` is outside the configured window.
    #[error("push timestamp {timestamp} is outside the accepted window")]
    Stale {
        /// The push's timestamp, Unix seconds.
        timestamp: i64,
    },
    /// The body is larger than the limit.
    #[error("push body of {size} bytes exceeds the limit of {limit}")]
    BodyTooLarge {
        /// The body size.
        size: usize,
        /// The limit.
        limit: usize,
    },
    /// A plaintext push arrived while safe mode is configured.
    #[error("plaintext push refused in safe mode")]
    PlaintextRefused,
    /// An encrypted push arrived but no EncodingAESKey is configured.
    #[error("encrypted push received but no encoding aes key is configured")]
    NoKey,
    /// An encrypted push without an `Encrypt` element.
    #[error("encrypted push has no Encrypt element")]
    MissingEncrypt,
    /// Decryption or the appid check failed.
    #[error(transparent)]
    Crypto(#[from] CryptoError),
    /// The XML was refused.
    #[error(transparent)]
    Xml(#[from] XmlError),
    /// The configuration is unusable (an encrypted mode without keys).
    #[error("push configuration: {0}")]
    Config(&'static str),
    /// No randomness was available for an encrypted reply.
    #[error("no randomness available for the reply")]
    Random,
}

/// A verified, decrypted and parsed push.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Push {
    /// The message.
    pub event: PushEvent,
    /// Whether it arrived encrypted (so a reply, if any, must be encrypted).
    pub encrypted: bool,
}

impl Push {
    /// Weixin's retry key, `FromUserName` + `CreateTime`.
    pub fn dedupe_key(&self) -> String {
        self.event.dedupe_key()
    }
}

/// Verifies and parses pushes for one Official Account.
#[derive(Debug)]
pub struct PushReceiver {
    config: PushConfig,
}

fn required<'a>(value: Option<&'a str>, name: &'static str) -> Result<&'a str, ReceiveError> {
    value
        .filter(|v| !v.is_empty())
        .ok_or(ReceiveError::MissingParameter(name))
}

/// The query parameters a push is checked with, borrowed from the query string unless an
/// escape had to be decoded.
#[derive(Debug, Default)]
struct PushParams<'a> {
    signature: Option<Cow<'a, str>>,
    timestamp: Option<Cow<'a, str>>,
    nonce: Option<Cow<'a, str>>,
    encrypt_type: Option<Cow<'a, str>>,
    msg_signature: Option<Cow<'a, str>>,
}

impl<'a> PushParams<'a> {
    fn from_query(query: &'a PushQuery) -> Self {
        let borrow = |value: &'a Option<String>| value.as_deref().map(Cow::Borrowed);
        Self {
            signature: borrow(&query.signature),
            timestamp: borrow(&query.timestamp),
            nonce: borrow(&query.nonce),
            encrypt_type: borrow(&query.encrypt_type),
            msg_signature: borrow(&query.msg_signature),
        }
    }

    /// The parameters as [`PushQuery::parse`] reads them: a pair without `%` or `+` decodes to
    /// itself, so only the others go through the form decoder.
    fn parse(raw: &'a str) -> Self {
        let mut params = Self::default();
        // Weixin's parameters are hex, digits and `aes`: one check of the whole query usually
        // spares the check of each pair.
        let escaped = find_either(raw.as_bytes(), b'%', b'+').is_some();
        for pair in raw.split('&').filter(|pair| !pair.is_empty()) {
            let (name, value) = if escaped && pair.bytes().any(|b| b == b'%' || b == b'+') {
                match form_urlencoded::parse(pair.as_bytes()).next() {
                    Some(decoded) => decoded,
                    None => continue,
                }
            } else {
                let (name, value) = pair.split_once('=').unwrap_or((pair, ""));
                (Cow::Borrowed(name), Cow::Borrowed(value))
            };
            let slot = match name.as_ref() {
                "signature" => &mut params.signature,
                "timestamp" => &mut params.timestamp,
                "nonce" => &mut params.nonce,
                "encrypt_type" => &mut params.encrypt_type,
                "msg_signature" => &mut params.msg_signature,
                _ => continue,
            };
            *slot = Some(value);
        }
        params
    }
}

impl PushReceiver {
    /// A receiver.
    ///
    /// # Errors
    /// [`ReceiveError::Config`] when an encrypted mode has no keys or the body limit is zero.
    pub fn new(config: PushConfig) -> Result<Self, ReceiveError> {
        if config.mode != PushMode::Plain && config.keys.is_none() {
            return Err(ReceiveError::Config(
                "compatible and safe mode need an encoding aes key",
            ));
        }
        if config.max_body_bytes == 0 {
            return Err(ReceiveError::Config("max_body_bytes must be positive"));
        }
        Ok(Self { config })
    }

    /// The body limit, for the HTTP layer to enforce while reading.
    pub fn max_body_bytes(&self) -> usize {
        self.config.max_body_bytes
    }

    /// The configured mode.
    pub fn mode(&self) -> PushMode {
        self.config.mode
    }

    fn check_timestamp(&self, timestamp: &str, now: Timestamp) -> Result<(), ReceiveError> {
        let seconds: i64 = timestamp
            .trim()
            .parse()
            .map_err(|_| ReceiveError::InvalidTimestamp)?;
        if let Some(window) = self.config.timestamp_window {
            let window = i64::try_from(window.as_secs()).unwrap_or(i64::MAX);
            if now.unix_seconds().saturating_sub(seconds).saturating_abs() > window {
                return Err(ReceiveError::Stale { timestamp: seconds });
            }
        }
        Ok(())
    }

    fn token(&self) -> &str {
        self.config.token.expose_secret()
    }

    /// Answers the server-URL verification GET: the `echostr` to send back verbatim.
    ///
    /// The Official Account sends it in plain text in every mode (as far as known); if a
    /// `msg_signature` is present, the echo is treated as encrypted (the WeChat Work scheme),
    /// verified with `msg_signature` and decrypted.
    ///
    /// The timestamp window does not apply: the check runs once, when an operator saves the
    /// server URL.
    ///
    /// # Errors
    /// [`ReceiveError`] for missing parameters, a bad signature, or a bad ciphertext.
    pub fn verify_url(&self, query: &PushQuery) -> Result<String, ReceiveError> {
        let timestamp = required(query.timestamp.as_deref(), "timestamp")?;
        let nonce = required(query.nonce.as_deref(), "nonce")?;
        let echostr = required(query.echostr.as_deref(), "echostr")?;
        if let Some(msg_signature) = query.msg_signature.as_deref().filter(|s| !s.is_empty()) {
            if !crypto::msg_signature_matches(
                self.token(),
                timestamp,
                nonce,
                echostr,
                msg_signature,
            ) {
                return Err(ReceiveError::Signature);
            }
            let keys = self.config.keys.as_ref().ok_or(ReceiveError::NoKey)?;
            return Ok(keys.decrypt_for(echostr, self.config.appid.as_str())?);
        }
        let signature = required(query.signature.as_deref(), "signature")?;
        if !crypto::url_signature_matches(self.token(), timestamp, nonce, signature) {
            return Err(ReceiveError::Signature);
        }
        Ok(echostr.to_owned())
    }

    /// Verifies, decrypts and parses one pushed POST. `now` is the receipt time, used only for
    /// the timestamp window.
    ///
    /// # Errors
    /// A typed [`ReceiveError`] for every refusal; never panics, whatever the bytes.
    pub fn receive(
        &self,
        query: &PushQuery,
        body: &[u8],
        now: Timestamp,
    ) -> Result<Push, ReceiveError> {
        self.receive_with(
            &PushParams::from_query(query),
            body,
            now,
            |text, encrypted| {
                let event = PushEvent::from_fields(XmlFields::parse_text(text)?)?;
                Ok(Push { event, encrypted })
            },
        )
    }

    /// The checks of [`PushReceiver::receive`], handing the message's XML (checked UTF-8) and
    /// whether it arrived encrypted to `read`.
    fn receive_with<T>(
        &self,
        params: &PushParams<'_>,
        body: &[u8],
        now: Timestamp,
        read: impl FnOnce(&str, bool) -> Result<T, ReceiveError>,
    ) -> Result<T, ReceiveError> {
        if body.len() > self.config.max_body_bytes {
            return Err(ReceiveError::BodyTooLarge {
                size: body.len(),
                limit: self.config.max_body_bytes,
            });
        }
        let timestamp = required(params.timestamp.as_deref(), "timestamp")?;
        let nonce = required(params.nonce.as_deref(), "nonce")?;
        self.check_timestamp(timestamp, now)?;
        let encrypted = params
            .encrypt_type
            .as_deref()
            .is_some_and(|t| t.eq_ignore_ascii_case("aes"));

        if !encrypted {
            if self.config.mode == PushMode::Safe {
                return Err(ReceiveError::PlaintextRefused);
            }
            let signature = required(params.signature.as_deref(), "signature")?;
            if !crypto::url_signature_matches(self.token(), timestamp, nonce, signature) {
                return Err(ReceiveError::Signature);
            }
            let text = std::str::from_utf8(body).map_err(|_| XmlError::Utf8)?;
            return read(text, false);
        }

        let keys = self.config.keys.as_ref().ok_or(ReceiveError::NoKey)?;
        let msg_signature = required(params.msg_signature.as_deref(), "msg_signature")?;
        let envelope = std::str::from_utf8(body).map_err(|_| XmlError::Utf8)?;
        let envelope = PushFields::parse(envelope)?;
        let encrypt = envelope
            .non_empty_field("Encrypt")
            .ok_or(ReceiveError::MissingEncrypt)?;
        if !crypto::msg_signature_matches(self.token(), timestamp, nonce, encrypt, msg_signature) {
            return Err(ReceiveError::Signature);
        }
        let mut plain = Vec::new();
        let inner = keys.decrypt_in(encrypt, self.config.appid.as_str(), &mut plain)?;
        read(inner, true)
    }

    /// The body acknowledging an event: `success` (Weixin needs no reply message for invoice
    /// events, in any mode).
    pub fn ack(&self) -> &'static str {
        "success"
    }

    /// Encrypts a reply message for safe mode with a fresh nonce and random prefix.
    ///
    /// # Errors
    /// [`ReceiveError::NoKey`] without keys, [`ReceiveError::Random`] without randomness.
    pub fn encrypt_reply(&self, reply_xml: &str, now: Timestamp) -> Result<String, ReceiveError> {
        let keys = self.config.keys.as_ref().ok_or(ReceiveError::NoKey)?;
        let mut random = [0_u8; RANDOM_LEN];
        let mut nonce = [0_u8; 8];
        getrandom::fill(&mut random).map_err(|_| ReceiveError::Random)?;
        getrandom::fill(&mut nonce).map_err(|_| ReceiveError::Random)?;
        let nonce = u64::from_be_bytes(nonce).to_string();
        let reply = EncryptedReply::seal(
            self.token(),
            keys.current(),
            self.config.appid.as_str(),
            reply_xml,
            now.unix_seconds(),
            &nonce,
            &random,
        );
        Ok(reply.to_xml())
    }
}

impl From<ReceiveError> for PushError {
    fn from(error: ReceiveError) -> Self {
        match error {
            ReceiveError::MissingParameter(name) => PushError::Missing(name),
            ReceiveError::Signature => PushError::BadSignature,
            ReceiveError::Stale { .. } => PushError::Stale,
            ReceiveError::InvalidTimestamp => {
                PushError::Malformed("timestamp is not an integer".to_owned())
            }
            ReceiveError::BodyTooLarge { size, .. } => PushError::TooLarge(size),
            // Safe mode needs the encrypted form: the plaintext one lacks its signature.
            ReceiveError::PlaintextRefused => PushError::Missing("msg_signature"),
            ReceiveError::MissingEncrypt => PushError::Missing("Encrypt"),
            ReceiveError::Crypto(CryptoError::AppIdMismatch) => PushError::WrongAppId,
            ReceiveError::Crypto(error) => PushError::Decrypt(error.to_string()),
            ReceiveError::NoKey => PushError::Decrypt(ReceiveError::NoKey.to_string()),
            ReceiveError::Xml(XmlError::MissingField(field)) => PushError::Missing(field),
            ReceiveError::Xml(error) => PushError::Malformed(error.to_string()),
            error @ (ReceiveError::Config(_) | ReceiveError::Random) => {
                PushError::Malformed(error.to_string())
            }
        }
    }
}

impl PushDecoder for PushReceiver {
    fn verify_url(&self, query: &str) -> Result<String, PushError> {
        Ok(PushReceiver::verify_url(self, &PushQuery::parse(query))?)
    }

    fn decode(&self, query: &str, body: &[u8], now: Timestamp) -> Result<WeixinEvent, PushError> {
        // What `receive` and `WeixinEvent::try_from` answer, read from borrowed query
        // parameters and fields without the owned wire structs in between.
        let event: Result<WeixinEvent, ConvertError> =
            self.receive_with(&PushParams::parse(query), body, now, |text, _| {
                Ok(convert::weixin_event(&PushFields::parse(text)?)?)
            })?;
        event.map_err(|e| PushError::Malformed(e.to_string()))
    }
}

#[cfg(test)]
mod tests;
