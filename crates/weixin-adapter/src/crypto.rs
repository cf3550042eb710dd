//! Weixin's message crypto (the `WXBizMsgCrypt` scheme): SHA-1 signatures over sorted strings,
//! AES-256-CBC with a 32-byte PKCS#7 padding, the appid trailer, and the encrypted reply
//! envelope.
//!
//! Everything here is pure and deterministic; randomness (the 16-byte prefix of an encrypted
//! message, a reply nonce) comes in as an argument so the published vectors can be replayed.

use std::fmt;

use aes::Aes256;
use base64::Engine as _;
use base64::alphabet;
use base64::engine::general_purpose::{GeneralPurpose, GeneralPurposeConfig, STANDARD};
use cbc::cipher::block_padding::NoPadding;
use cbc::cipher::{BlockModeDecrypt, BlockModeEncrypt, KeyIvInit};
use secrecy::{ExposeSecret, SecretBox};
use sha1::{Digest, Sha1};
use subtle::ConstantTimeEq;

/// Weixin pads to 32-byte blocks although AES blocks are 16 bytes.
pub const PAD_BLOCK: usize = 32;

/// Length of the random prefix of every encrypted message.
pub const RANDOM_LEN: usize = 16;

/// Real EncodingAESKeys decode with non-zero trailing bits (43 characters carry 258 bits for a
/// 256-bit key), which the strict engine rejects.
const LENIENT_STANDARD: GeneralPurpose = GeneralPurpose::new(
    &alphabet::STANDARD,
    GeneralPurposeConfig::new().with_decode_allow_trailing_bits(true),
);

/// A failure to verify, decrypt or unwrap a message. Never carries key material.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CryptoError {
    /// The EncodingAESKey is not 43 characters of `[A-Za-z0-9]`.
    #[error("encoding aes key must be 43 characters of [A-Za-z0-9]")]
    InvalidKey,
    /// `Encrypt` is not valid standard base64.
    #[error("ciphertext is not valid base64")]
    Base64,
    /// The ciphertext is empty or not a whole number of AES blocks.
    #[error("ciphertext length {0} is not a positive multiple of 16")]
    CiphertextLength(usize),
    /// The last byte is not a valid 32-byte PKCS#7 pad, or the pad bytes disagree.
    #[error("invalid padding")]
    Padding,
    /// The plaintext is shorter than its header or its length prefix.
    #[error("decrypted message is truncated")]
    Truncated,
    /// The message is not UTF-8.
    #[error("decrypted message is not utf-8")]
    Utf8,
    /// The trailing appid is not the configured one.
    #[error("message is for another appid")]
    AppIdMismatch,
}

/// SHA-1 (lowercase hex) over the lexicographically sorted, concatenated parts: the scheme of
/// both the URL `signature` and `msg_signature`.
pub fn sorted_sha1(parts: &[&str]) -> String {
    let mut sorted = parts.to_vec();
    sorted.sort_unstable();
    let mut hasher = Sha1::new();
    for part in sorted {
        hasher.update(part.as_bytes());
    }
    hex::encode(hasher.finalize())
}

/// The URL `signature` of a push or of the verification GET: over token, timestamp and nonce.
pub fn url_signature(token: &str, timestamp: &str, nonce: &str) -> String {
    sorted_sha1(&[token, timestamp, nonce])
}

/// The `msg_signature` of an encrypted push or reply: over token, timestamp, nonce and
/// `Encrypt`.
pub fn msg_signature(token: &str, timestamp: &str, nonce: &str, encrypt: &str) -> String {
    sorted_sha1(&[token, timestamp, nonce, encrypt])
}

/// Compares a received signature with the expected one in constant time (for equal lengths;
/// the length of a SHA-1 hex string is public). Upper-case hex is accepted.
pub fn signature_matches(expected: &str, received: &str) -> bool {
    let received = received.to_ascii_lowercase();
    expected.as_bytes().ct_eq(received.as_bytes()).into()
}

/// Whether `received` is [`url_signature`] of the parts, as [`signature_matches`] compares, on
/// the stack: a push checks its signature without allocating.
pub fn url_signature_matches(token: &str, timestamp: &str, nonce: &str, received: &str) -> bool {
    sorted_sha1_matches([token, timestamp, nonce], received)
}

/// Whether `received` is [`msg_signature`] of the parts, as [`signature_matches`] compares, on
/// the stack.
pub fn msg_signature_matches(
    token: &str,
    timestamp: &str,
    nonce: &str,
    encrypt: &str,
    received: &str,
) -> bool {
    sorted_sha1_matches([token, timestamp, nonce, encrypt], received)
}

/// Length of a SHA-1 digest in hex.
const SHA1_HEX_LEN: usize = 40;

fn sorted_sha1_matches<const N: usize>(mut parts: [&str; N], received: &str) -> bool {
    // Any other length cannot match; a SHA-1 hex string's length is public.
    let Ok(received) = <&[u8; SHA1_HEX_LEN]>::try_from(received.as_bytes()) else {
        return false;
    };
    parts.sort_unstable();
    let mut hasher = Sha1::new();
    for part in parts {
        hasher.update(part.as_bytes());
    }
    let mut expected = [0_u8; SHA1_HEX_LEN];
    hex::encode_to_slice(hasher.finalize(), &mut expected)
        .expect("40 bytes hold the hex of a 20-byte digest");
    // One constant-time test of the OR of every byte difference, rather than one per byte.
    let difference = expected
        .iter()
        .zip(received)
        .fold(0_u8, |difference, (expected, received)| {
            difference | (expected ^ received.to_ascii_lowercase())
        });
    difference.ct_eq(&0).into()
}

/// The 32-byte AES key behind an EncodingAESKey. Never printed, zeroed on drop.
pub struct AesKey(SecretBox<[u8; 32]>);

impl AesKey {
    /// Parses the 43-character EncodingAESKey configured on the Official Account:
    /// `base64_decode(key + "=")`, tolerating the non-zero trailing bits real keys have.
    ///
    /// # Errors
    /// [`CryptoError::InvalidKey`] when the key is not 43 characters of `[A-Za-z0-9]`.
    pub fn from_encoding_aes_key(encoding_aes_key: &str) -> Result<Self, CryptoError> {
        let key = encoding_aes_key.trim();
        if key.len() != 43 || !key.bytes().all(|b| b.is_ascii_alphanumeric()) {
            return Err(CryptoError::InvalidKey);
        }
        let mut padded = String::with_capacity(44);
        padded.push_str(key);
        padded.push('=');
        let decoded = LENIENT_STANDARD
            .decode(padded.as_bytes())
            .map_err(|_| CryptoError::InvalidKey)?;
        let bytes: [u8; 32] = decoded
            .as_slice()
            .try_into()
            .map_err(|_| CryptoError::InvalidKey)?;
        Ok(Self::from_bytes(bytes))
    }

    /// A key from its raw 32 bytes.
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(SecretBox::new(Box::new(bytes)))
    }

    fn bytes(&self) -> &[u8; 32] {
        self.0.expose_secret()
    }

    /// Weixin uses the first 16 bytes of the key as the CBC IV.
    fn iv(&self) -> &[u8] {
        &self.bytes()[..16]
    }
}

impl fmt::Debug for AesKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("AesKey(***)")
    }
}

/// A decrypted message with its trailer, before the appid check.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Decrypted {
    /// The message (the inner XML of a push, or `echostr`).
    pub message: String,
    /// The appid trailer.
    pub appid: String,
}

/// Encrypts `message` for `appid`: `random(16) || len(msg) as u32 BE || msg || appid`, padded
/// with 32-byte PKCS#7, AES-256-CBC with IV = first 16 key bytes, standard base64.
pub fn encrypt(key: &AesKey, random: &[u8; RANDOM_LEN], message: &[u8], appid: &str) -> String {
    // A push body is far below 4 GiB; saturating keeps this total without a panic path.
    let len = u32::try_from(message.len()).unwrap_or(u32::MAX);
    let mut plain = Vec::with_capacity(RANDOM_LEN + 4 + message.len() + appid.len() + PAD_BLOCK);
    plain.extend_from_slice(random);
    plain.extend_from_slice(&len.to_be_bytes());
    plain.extend_from_slice(message);
    plain.extend_from_slice(appid.as_bytes());
    let pad = PAD_BLOCK - plain.len() % PAD_BLOCK;
    // `pad` is in 1..=32.
    plain.resize(plain.len() + pad, pad as u8);
    let plain_len = plain.len();
    let encryptor = cbc::Encryptor::<Aes256>::new_from_slices(key.bytes(), key.iv())
        .expect("a 32-byte key and a 16-byte iv are the sizes AES-256-CBC takes");
    let cipher = encryptor
        .encrypt_padded::<NoPadding>(&mut plain, plain_len)
        .expect("the buffer is padded to a multiple of 32, so of the AES block size");
    STANDARD.encode(cipher)
}

/// Decrypts a base64 `Encrypt` value and splits off the appid trailer (not yet checked).
///
/// # Errors
/// [`CryptoError`] for bad base64, a ciphertext that is not whole blocks, a bad pad, a
/// truncated message or non-UTF-8 content; never panics.
pub fn decrypt(key: &AesKey, encrypt: &str) -> Result<Decrypted, CryptoError> {
    let mut buf = Vec::new();
    let (message, appid) = decrypt_in(key, encrypt, &mut buf)?;
    Ok(Decrypted {
        message: message.to_owned(),
        appid: appid.to_owned(),
    })
}

/// [`decrypt`] into `buf` (cleared first, so one buffer serves many messages): the message
/// and the appid trailer, borrowed from `buf`.
fn decrypt_in<'b>(
    key: &AesKey,
    encrypt: &str,
    buf: &'b mut Vec<u8>,
) -> Result<(&'b str, &'b str), CryptoError> {
    buf.clear();
    STANDARD
        .decode_vec(encrypt.trim().as_bytes(), buf)
        .map_err(|_| CryptoError::Base64)?;
    if buf.is_empty() || !buf.len().is_multiple_of(16) {
        return Err(CryptoError::CiphertextLength(buf.len()));
    }
    let decryptor = cbc::Decryptor::<Aes256>::new_from_slices(key.bytes(), key.iv())
        .expect("a 32-byte key and a 16-byte iv are the sizes AES-256-CBC takes");
    let plain = decryptor
        .decrypt_padded::<NoPadding>(buf)
        .map_err(|_| CryptoError::CiphertextLength(0))?;
    let plain = strip_pkcs7_32(plain)?;
    if plain.len() < RANDOM_LEN + 4 {
        return Err(CryptoError::Truncated);
    }
    let (_random, rest) = plain.split_at(RANDOM_LEN);
    let (len_bytes, rest) = rest.split_at(4);
    let len_bytes: [u8; 4] = len_bytes.try_into().map_err(|_| CryptoError::Truncated)?;
    let msg_len =
        usize::try_from(u32::from_be_bytes(len_bytes)).map_err(|_| CryptoError::Truncated)?;
    if msg_len > rest.len() {
        return Err(CryptoError::Truncated);
    }
    let (message, appid) = rest.split_at(msg_len);
    let message = std::str::from_utf8(message).map_err(|_| CryptoError::Utf8)?;
    let appid = std::str::from_utf8(appid).map_err(|_| CryptoError::Utf8)?;
    Ok((message, appid))
}

/// Strips a PKCS#7 pad of 1 to 32 bytes, checking every pad byte.
fn strip_pkcs7_32(plain: &[u8]) -> Result<&[u8], CryptoError> {
    let Some(&last) = plain.last() else {
        return Err(CryptoError::Padding);
    };
    let pad = usize::from(last);
    if pad == 0 || pad > PAD_BLOCK || pad > plain.len() {
        return Err(CryptoError::Padding);
    }
    let (body, tail) = plain.split_at(plain.len() - pad);
    if tail.iter().any(|&b| b != last) {
        return Err(CryptoError::Padding);
    }
    Ok(body)
}

/// The current EncodingAESKey and, during a rotation, the previous one.
#[derive(Debug)]
pub struct KeyRing {
    current: AesKey,
    previous: Option<AesKey>,
}

impl KeyRing {
    /// A ring with one key.
    pub fn new(current: AesKey) -> Self {
        Self {
            current,
            previous: None,
        }
    }

    /// A ring that also accepts messages encrypted with the previous key.
    pub fn with_previous(current: AesKey, previous: AesKey) -> Self {
        Self {
            current,
            previous: Some(previous),
        }
    }

    /// The key replies are encrypted with.
    pub fn current(&self) -> &AesKey {
        &self.current
    }

    /// Decrypts with the current key, then with the previous one, and checks the appid.
    ///
    /// # Errors
    /// The current key's [`CryptoError`] when no key yields a message for `appid`.
    pub fn decrypt_for(&self, encrypt: &str, appid: &str) -> Result<String, CryptoError> {
        let mut buf = Vec::new();
        self.decrypt_in(encrypt, appid, &mut buf).map(str::to_owned)
    }

    /// [`KeyRing::decrypt_for`] into `buf`: the message, borrowed from `buf`.
    pub(crate) fn decrypt_in<'b>(
        &self,
        encrypt: &str,
        appid: &str,
        buf: &'b mut Vec<u8>,
    ) -> Result<&'b str, CryptoError> {
        let Some(previous) = &self.previous else {
            return decrypt_checked(&self.current, encrypt, appid, buf);
        };
        // Only during a rotation: the first attempt's borrow of `buf` must end before the
        // second, so the message is located first and borrowed afterwards.
        let located = match decrypt_checked(&self.current, encrypt, appid, buf) {
            Ok(message) => Ok(message.len()),
            Err(first) => match decrypt_checked(previous, encrypt, appid, buf) {
                Ok(message) => Ok(message.len()),
                Err(_) => Err(first),
            },
        };
        let len = located?;
        message_at_end(buf, len, appid)
    }
}

/// The message that [`decrypt_checked`] left in `buf`: the `len` bytes before the appid
/// trailer and the pad.
fn message_at_end<'b>(buf: &'b [u8], len: usize, appid: &str) -> Result<&'b str, CryptoError> {
    let pad = buf.last().map_or(0, |&last| usize::from(last));
    let end = buf
        .len()
        .checked_sub(pad + appid.len())
        .ok_or(CryptoError::Truncated)?;
    let start = end.checked_sub(len).ok_or(CryptoError::Truncated)?;
    let message = buf.get(start..end).ok_or(CryptoError::Truncated)?;
    std::str::from_utf8(message).map_err(|_| CryptoError::Utf8)
}

fn decrypt_checked<'b>(
    key: &AesKey,
    encrypt: &str,
    appid: &str,
    buf: &'b mut Vec<u8>,
) -> Result<&'b str, CryptoError> {
    let (message, trailer) = decrypt_in(key, encrypt, buf)?;
    if !bool::from(trailer.as_bytes().ct_eq(appid.as_bytes())) {
        return Err(CryptoError::AppIdMismatch);
    }
    Ok(message)
}

/// The encrypted reply of safe mode:
/// `<xml><Encrypt/><MsgSignature/><TimeStamp/><Nonce/></xml>`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct EncryptedReply {
    /// Base64 ciphertext.
    pub encrypt: String,
    /// `msg_signature` over token, timestamp, nonce and `encrypt`.
    pub msg_signature: String,
    /// Unix seconds.
    pub timestamp: i64,
    /// Nonce, as sent.
    pub nonce: String,
}

impl EncryptedReply {
    /// Encrypts `reply_xml` and signs it.
    pub fn seal(
        token: &str,
        key: &AesKey,
        appid: &str,
        reply_xml: &str,
        timestamp: i64,
        nonce: &str,
        random: &[u8; RANDOM_LEN],
    ) -> Self {
        let encrypt = encrypt(key, random, reply_xml.as_bytes(), appid);
        let msg_signature = msg_signature(token, &timestamp.to_string(), nonce, &encrypt);
        Self {
            encrypt,
            msg_signature,
            timestamp,
            nonce: nonce.to_owned(),
        }
    }

    /// The XML envelope.
    pub fn to_xml(&self) -> String {
        format!(
            "<xml><Encrypt>{}</Encrypt><MsgSignature>{}</MsgSignature><TimeStamp>{}</TimeStamp><Nonce>{}</Nonce></xml>",
            cdata(&self.encrypt),
            cdata(&self.msg_signature),
            self.timestamp,
            cdata(&self.nonce)
        )
    }
}

/// Wraps text in CDATA, splitting any `]]>` inside so the content survives unchanged.
pub(crate) fn cdata(text: &str) -> String {
    format!("<![CDATA[{}]]>", text.replace("]]>", "]]]]><![CDATA[>"))
}

#[cfg(test)]
mod tests;
