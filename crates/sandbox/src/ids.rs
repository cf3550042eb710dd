//! Identifiers minted by the sandbox, in the shapes real Weixin uses, from seeded generators so
//! a run with the same seed produces the same ids.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::URL_SAFE_NO_PAD;
use rand::rngs::StdRng;
use rand::{RngExt as _, SeedableRng as _};

const URL_SAFE: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
const ALNUM: &[u8; 62] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789";

/// FNV-1a, a stable (across platforms and releases) hash to derive seeds from strings.
pub fn fnv1a(bytes: &[u8]) -> u64 {
    let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
    for byte in bytes {
        hash ^= u64::from(*byte);
        hash = hash.wrapping_mul(0x0000_0100_0000_01b3);
    }
    hash
}

/// A generator seeded from the sandbox seed and a purpose, independent of every other.
pub fn derived_rng(seed: u64, purpose: &str) -> StdRng {
    StdRng::seed_from_u64(seed ^ fnv1a(purpose.as_bytes()))
}

/// The account's stable `s_pappid`: `base64url(appid + "_" + 32 bytes)`, the 32 bytes derived
/// from the appid and the seed (reference §4.2: same value on every `seturl`).
pub fn s_pappid(seed: u64, appid: &str) -> String {
    let mut rng = derived_rng(seed, &format!("s_pappid:{appid}"));
    let mut raw = Vec::with_capacity(appid.len() + 33);
    raw.extend_from_slice(appid.as_bytes());
    raw.push(b'_');
    let mut opaque = [0_u8; 32];
    rng.fill(&mut opaque);
    raw.extend_from_slice(&opaque);
    URL_SAFE_NO_PAD.encode(raw)
}

/// The original id (`gh_` + 12 hex digits) of an account without a configured one.
pub fn original_id(appid: &str) -> String {
    format!("gh_{:012x}", fnv1a(appid.as_bytes()) & 0xffff_ffff_ffff)
}

/// The openid of a simulated buyer under an account: `o` + 27 URL-safe characters, stable
/// for the same account, buyer label and seed.
pub fn openid(seed: u64, appid: &str, buyer: &str) -> String {
    let mut rng = derived_rng(seed, &format!("openid:{appid}:{buyer}"));
    let mut id = String::from("o");
    push_chars(&mut rng, &mut id, URL_SAFE, 27);
    id
}

fn push_chars(rng: &mut StdRng, out: &mut String, alphabet: &[u8], count: usize) {
    for _ in 0..count {
        let index = rng.random_range(0..alphabet.len());
        out.push(char::from(alphabet[index]));
    }
}

/// Prefix of every access token the sandbox mints; a token that has it but is unknown was
/// minted by an earlier run and is answered 40001 rather than 40014.
pub const TOKEN_PREFIX: &str = "SBX";

/// A run's id epoch when the configuration names none: the wall clock in Unix milliseconds,
/// and always above the last one handed out in this process, so two sandboxes started in the
/// same millisecond still differ.
pub fn next_epoch() -> u64 {
    static LAST: AtomicU64 = AtomicU64::new(0);
    let now = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX));
    let mut last = LAST.load(Ordering::Relaxed);
    loop {
        let epoch = now.max(last.saturating_add(1));
        match LAST.compare_exchange_weak(last, epoch, Ordering::Relaxed, Ordering::Relaxed) {
            Ok(_) => return epoch,
            Err(seen) => last = seen,
        }
    }
}

/// Mints the ids that are not derived from their inputs.
///
/// The random ones come from the seed and the run's epoch; card codes are the epoch followed
/// by a count of the run's cards, so no two runs (of different epochs) ever share a code.
#[derive(Debug)]
pub struct Minter {
    rng: StdRng,
    epoch: u64,
    cards: u64,
}

impl Minter {
    /// A minter for `seed` in the run of `epoch` (see [`next_epoch`]).
    pub fn new(seed: u64, epoch: u64) -> Self {
        Self {
            rng: derived_rng(seed, &format!("minter:{epoch}")),
            epoch,
            cards: 0,
        }
    }

    fn chars(&mut self, prefix: &str, alphabet: &[u8], count: usize) -> String {
        let mut out = String::with_capacity(prefix.len() + count);
        out.push_str(prefix);
        push_chars(&mut self.rng, &mut out, alphabet, count);
        out
    }

    fn digits(&mut self, count: usize) -> String {
        let mut out = String::with_capacity(count);
        out.push(char::from(b'1' + self.rng.random_range(0..9_u8)));
        for _ in 1..count {
            out.push(char::from(b'0' + self.rng.random_range(0..10_u8)));
        }
        out
    }

    /// An access token: `SBX_` + 132 URL-safe characters.
    pub fn access_token(&mut self) -> String {
        self.chars(&format!("{TOKEN_PREFIX}_"), URL_SAFE, 132)
    }

    /// A `wx_card` (or `jsapi`) ticket: 86 URL-safe characters.
    pub fn ticket(&mut self) -> String {
        self.chars("", URL_SAFE, 86)
    }

    /// A card template id: `p` + 27 URL-safe characters.
    pub fn card_id(&mut self) -> String {
        self.chars("p", URL_SAFE, 27)
    }

    /// An `s_media_id`: a 64-bit integer rendered as 17 digits.
    pub fn media_id(&mut self) -> String {
        self.digits(17)
    }

    /// A card code: the epoch, then the run's card count in at least 7 digits (20 digits for
    /// a start-time epoch). Weixin's codes are 12 random digits; these are longer so they are
    /// unique across runs without any state kept between them.
    pub fn card_code(&mut self) -> String {
        self.cards += 1;
        format!("{}{:07}", self.epoch, self.cards)
    }

    /// A WeChat Pay `transaction_id`: 28 digits starting `4200`.
    pub fn transaction_id(&mut self) -> String {
        format!("4200{}", self.digits(24))
    }

    /// A merchant `out_trade_no` for a simulated payment that did not name one.
    pub fn out_trade_no(&mut self) -> String {
        self.chars("SBX", ALNUM, 20)
    }

    /// The key in an auth URL that lets the auth page find its order.
    pub fn auth_key(&mut self) -> String {
        self.chars("", ALNUM, 16)
    }

    /// A push `nonce`: 10 digits.
    pub fn nonce(&mut self) -> String {
        self.digits(10)
    }

    /// The 16 random bytes that start an encrypted message.
    pub fn aes_random(&mut self) -> [u8; 16] {
        let mut random = [0_u8; 16];
        self.rng.fill(&mut random);
        random
    }
}

#[cfg(test)]
mod tests;
