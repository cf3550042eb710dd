//! The real id generator (the real clock is the Weixin adapter's `SystemClock`).

use fapiao_domain::ids::{IssueKey, OrderId, QrToken};
use fapiao_domain::ports::{Clock, IdGenerator};
use fapiao_weixin::SystemClock;

const ALPHABET: &[u8; 36] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ";

/// Ids from the OS's random source, prefixed with the time so keys sort by creation.
#[derive(Debug, Clone, Copy, Default)]
pub struct RandomIds;

impl RandomIds {
    fn random(len: usize) -> String {
        let mut bytes = vec![0u8; len];
        // The OS random source failing is not recoverable for id generation; fall back to the
        // clock-derived prefix alone would risk duplicates, so mix in the time instead.
        if getrandom::fill(&mut bytes).is_err() {
            let seed = SystemClock.now().millis().unsigned_abs();
            for (i, b) in bytes.iter_mut().enumerate() {
                *b = (seed.rotate_left(i as u32 * 7) & 0xff) as u8;
            }
        }
        bytes
            .iter()
            .map(|b| ALPHABET[usize::from(*b) % 36] as char)
            .collect()
    }

    fn base36(mut value: u64, width: usize) -> String {
        let mut digits = vec![b'0'; width];
        for slot in digits.iter_mut().rev() {
            *slot = ALPHABET[(value % 36) as usize];
            value /= 36;
        }
        String::from_utf8(digits).unwrap_or_default()
    }

    fn time_prefix() -> String {
        Self::base36(SystemClock.now().millis().unsigned_abs(), 9)
    }
}

impl IdGenerator for RandomIds {
    fn issue_key(&self) -> IssueKey {
        // 9 characters of time + 11 random = 20, the most every tax platform accepts.
        let text = format!("{}{}", Self::time_prefix(), Self::random(11));
        IssueKey::parse(&text).unwrap_or_else(|_| {
            IssueKey::parse("K0000000000000000000").unwrap_or_else(|_| unreachable_id())
        })
    }

    fn order_id(&self) -> OrderId {
        let text = format!("FP{}{}", Self::time_prefix(), Self::random(8));
        OrderId::parse(&text).unwrap_or_else(|_| unreachable_id())
    }

    fn qr_token(&self) -> QrToken {
        QrToken::parse(&Self::random(16)).unwrap_or_else(|_| unreachable_id())
    }

    fn nonce(&self) -> String {
        Self::random(16)
    }
}

// Every format above is valid by construction: fixed alphabets within the length rules.
#[allow(clippy::panic)]
fn unreachable_id<T>() -> T {
    panic!("generated ids are valid by construction")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_valid_and_distinct() {
        let ids = RandomIds;
        let a = ids.issue_key();
        let b = ids.issue_key();
        assert_eq!(a.as_str().len(), 20);
        assert_ne!(a, b);
        assert_eq!(ids.qr_token().as_str().len(), 16);
        assert!(ids.order_id().as_str().starts_with("FP"));
    }
}
