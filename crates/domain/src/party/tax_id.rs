//! Taxpayer ids: the unified social credit code ([`Uscc`], GB 32100-2015 check character),
//! legacy ids, resident ids and operator-accepted unverified ids ([`TaxpayerId`]).

use std::fmt;

use serde::{Deserialize, Serialize};

use crate::newtype::newtype_glue;

/// The 31 symbols of the USCC alphabet; a symbol's value is its index.
const USCC_ALPHABET: &str = "0123456789ABCDEFGHJKLMNPQRTUWXY";

/// Weights of positions 1–17 (3^(i−1) mod 31).
const USCC_WEIGHTS: [u32; 17] = [
    1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28,
];

/// Registration authority codes (登记管理部门代码), position 1.
const USCC_AUTHORITIES: &str = "123456789ANY";

/// Weights of the GB 11714 organisation code check over positions 9–16.
const ORG_CODE_WEIGHTS: [u32; 8] = [3, 7, 9, 10, 5, 8, 4, 2];

/// Weights of the resident id check (ISO 7064 MOD 11-2) over positions 1–17.
const RESIDENT_ID_WEIGHTS: [u32; 17] = [7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2];
const RESIDENT_ID_CHECK: [char; 11] = ['1', '0', 'X', '9', '8', '7', '6', '5', '4', '3', '2'];

/// A unified social credit code broke GB 32100-2015. Positions count from 1 in the normalised
/// code (trimmed, upper-cased, inner spaces removed).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum UsccError {
    /// Not 18 characters.
    #[error("tax_id: a unified social credit code has 18 characters, got {length}")]
    Length {
        /// The length found.
        length: usize,
    },
    /// A character outside the alphabet.
    #[error(
        "tax_id: character {position} is {found:?}, not in the USCC alphabet (digits and upper-case letters except I, O, S, V, Z)"
    )]
    Alphabet {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
    },
    /// An unknown registration authority code.
    #[error("tax_id: character 1 is {found:?}, not a registration authority code (1–9, A, N, Y)")]
    Authority {
        /// The character.
        found: char,
    },
    /// The check character does not match.
    #[error("tax_id: character 18 is {found:?}, expected check character {expected:?}")]
    CheckCharacter {
        /// The character found.
        found: char,
        /// The one the weights give.
        expected: char,
    },
}

/// A taxpayer id broke its rule. Positions count from 1 in the normalised id.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum TaxIdError {
    /// An 18-character id that is not a valid USCC.
    #[error(transparent)]
    Uscc(#[from] UsccError),
    /// An 18-character resident id whose check character does not match.
    #[error("tax_id: character 18 is {found:?}, expected resident id check character {expected:?}")]
    ResidentIdCheck {
        /// The character found.
        found: char,
        /// The one ISO 7064 MOD 11-2 gives.
        expected: char,
    },
    /// Nothing given.
    #[error("tax_id: must not be empty")]
    Empty,
    /// A length no taxpayer id has.
    #[error("tax_id: must be 15, 17, 18 or 20 characters, got {length}")]
    Length {
        /// The length found.
        length: usize,
    },
    /// An unverified id outside 15–20 characters.
    #[error("tax_id: must be 15 to 20 characters, got {length}")]
    UnverifiedLength {
        /// The length found.
        length: usize,
    },
    /// A character other than a digit or an upper-case letter.
    #[error("tax_id: character {position} is {found:?}, expected a digit or an upper-case letter")]
    Charset {
        /// 1-based position.
        position: usize,
        /// The character.
        found: char,
    },
}

/// Trims, upper-cases and removes inner whitespace.
fn normalize_id(input: &str) -> String {
    input
        .chars()
        .filter(|c| !c.is_whitespace())
        .map(|c| c.to_ascii_uppercase())
        .collect()
}

fn uscc_value(c: char) -> Option<u32> {
    USCC_ALPHABET
        .chars()
        .position(|a| a == c)
        .and_then(|index| u32::try_from(index).ok())
}

fn uscc_symbol(value: u32) -> char {
    // `value` is below 31 by construction; '0' is an unreachable fallback.
    usize::try_from(value)
        .ok()
        .and_then(|index| USCC_ALPHABET.chars().nth(index))
        .unwrap_or('0')
}

/// A unified social credit code (统一社会信用代码, GB 32100-2015), checksum verified.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
// Invariant: 18 characters of the USCC alphabet, a known registration authority, and a matching
// check character.
pub struct Uscc(String);

impl Uscc {
    /// Normalises (trim, upper-case, remove inner spaces) and validates a code.
    ///
    /// # Errors
    /// [`UsccError`] naming the position and, for a bad check character, the expected one.
    pub fn parse(input: &str) -> Result<Uscc, UsccError> {
        let code = normalize_id(input);
        let chars: Vec<char> = code.chars().collect();
        if chars.len() != 18 {
            return Err(UsccError::Length {
                length: chars.len(),
            });
        }
        let mut values = [0u32; 18];
        for (index, &c) in chars.iter().enumerate() {
            values[index] = uscc_value(c).ok_or(UsccError::Alphabet {
                position: index + 1,
                found: c,
            })?;
        }
        if !USCC_AUTHORITIES.contains(chars[0]) {
            return Err(UsccError::Authority { found: chars[0] });
        }
        let sum: u32 = values
            .iter()
            .zip(USCC_WEIGHTS)
            .map(|(value, weight)| value * weight)
            .sum();
        let expected = uscc_symbol((31 - sum % 31) % 31);
        if chars[17] != expected {
            return Err(UsccError::CheckCharacter {
                found: chars[17],
                expected,
            });
        }
        Ok(Uscc(code))
    }

    /// The code.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The registration authority code (position 1), e.g. `'9'` for 工商.
    pub fn registration_authority(&self) -> char {
        self.0.chars().next().unwrap_or('0')
    }

    /// The check character of the embedded GB 11714 organisation code (positions 9–16) that
    /// position 17 should carry.
    pub fn expected_inner_check(&self) -> char {
        let sum: u32 = self
            .0
            .chars()
            .skip(8)
            .take(8)
            .zip(ORG_CODE_WEIGHTS)
            .map(|(c, weight)| c.to_digit(36).unwrap_or(0) * weight)
            .sum();
        match 11 - sum % 11 {
            10 => 'X',
            11 => '0',
            value => char::from_digit(value, 10).unwrap_or('0'),
        }
    }

    /// Whether position 17 passes the GB 11714 organisation code check. Real codes do, but
    /// synthetic test data often does not: treat a failure as a warning, never as a rejection.
    pub fn inner_check_ok(&self) -> bool {
        self.0.chars().nth(16) == Some(self.expected_inner_check())
    }
}

newtype_glue!(string Uscc, UsccError);

/// A taxpayer id (纳税人识别号) as printed in the buyer or seller block.
///
/// Serialised as the id string, except [`TaxpayerId::Unverified`], which is serialised as
/// `{"unverified": "<id>"}` so that reading it back does not re-run the checks it failed.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub enum TaxpayerId {
    /// A unified social credit code, checksum verified.
    Uscc(Uscc),
    /// A legacy id of 15, 17 or 20 digits and upper-case letters (no public checksum).
    Legacy(String),
    /// An 18-character resident id with a valid ISO 7064 MOD 11-2 check (a natural person).
    PersonalId(String),
    /// An id accepted by an operator without verification (some issued codes do not verify):
    /// digits and upper-case letters, 15–20 characters.
    Unverified(String),
}

impl TaxpayerId {
    /// Normalises (trim, upper-case, remove inner spaces) and classifies an id: 18 characters are
    /// a USCC, or a resident id when they read as one (17 digits with a plausible birth date and
    /// a valid check character); 15, 17 or 20 digits and upper-case letters are a legacy id.
    ///
    /// # Errors
    /// [`TaxIdError`] naming the position and rule; use [`TaxpayerId::unverified`] to accept an
    /// id that fails anyway.
    pub fn parse(input: &str) -> Result<TaxpayerId, TaxIdError> {
        let id = normalize_id(input);
        let length = id.chars().count();
        match length {
            0 => Err(TaxIdError::Empty),
            18 => {
                if looks_like_resident_id(&id) {
                    let expected = resident_id_check(&id);
                    let found = id.chars().nth(17).unwrap_or('0');
                    if found == expected {
                        return Ok(TaxpayerId::PersonalId(id));
                    }
                    return match Uscc::parse(&id) {
                        Ok(uscc) => Ok(TaxpayerId::Uscc(uscc)),
                        Err(_) => Err(TaxIdError::ResidentIdCheck { found, expected }),
                    };
                }
                Ok(TaxpayerId::Uscc(Uscc::parse(&id)?))
            }
            15 | 17 | 20 => {
                check_id_charset(&id)?;
                Ok(TaxpayerId::Legacy(id))
            }
            length => Err(TaxIdError::Length { length }),
        }
    }

    /// Accepts an id without its checksum (operator override): after normalising, only the
    /// character set (digits and upper-case letters) and the length (15–20) are checked.
    ///
    /// # Errors
    /// [`TaxIdError`] for an empty id, a bad character or a bad length.
    pub fn unverified(input: &str) -> Result<TaxpayerId, TaxIdError> {
        let id = normalize_id(input);
        let length = id.chars().count();
        if length == 0 {
            return Err(TaxIdError::Empty);
        }
        check_id_charset(&id)?;
        if !(15..=20).contains(&length) {
            return Err(TaxIdError::UnverifiedLength { length });
        }
        Ok(TaxpayerId::Unverified(id))
    }

    /// The id.
    pub fn as_str(&self) -> &str {
        match self {
            TaxpayerId::Uscc(uscc) => uscc.as_str(),
            TaxpayerId::Legacy(id) | TaxpayerId::PersonalId(id) | TaxpayerId::Unverified(id) => id,
        }
    }

    /// Whether the id was accepted without verification.
    pub fn is_unverified(&self) -> bool {
        matches!(self, TaxpayerId::Unverified(_))
    }
}

fn check_id_charset(id: &str) -> Result<(), TaxIdError> {
    match id
        .chars()
        .enumerate()
        .find(|(_, c)| !(c.is_ascii_digit() || c.is_ascii_uppercase()))
    {
        Some((index, found)) => Err(TaxIdError::Charset {
            position: index + 1,
            found,
        }),
        None => Ok(()),
    }
}

/// 17 digits, a digit or `X`, and positions 7–14 a date of 1900–2099.
fn looks_like_resident_id(id: &str) -> bool {
    let bytes = id.as_bytes();
    if bytes.len() != 18
        || !bytes[..17].iter().all(u8::is_ascii_digit)
        || !(bytes[17].is_ascii_digit() || bytes[17] == b'X')
    {
        return false;
    }
    let number = |range: std::ops::Range<usize>| {
        id.get(range)
            .and_then(|s| s.parse::<u32>().ok())
            .unwrap_or(0)
    };
    let (year, month, day) = (number(6..10), number(10..12), number(12..14));
    (1900..=2099).contains(&year) && (1..=12).contains(&month) && (1..=31).contains(&day)
}

fn resident_id_check(id: &str) -> char {
    let sum: u32 = id
        .chars()
        .take(17)
        .zip(RESIDENT_ID_WEIGHTS)
        .map(|(c, weight)| c.to_digit(10).unwrap_or(0) * weight)
        .sum();
    RESIDENT_ID_CHECK[(sum % 11) as usize]
}

impl fmt::Display for TaxpayerId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Serialize, Deserialize)]
#[serde(untagged)]
enum TaxpayerIdRepr {
    Checked(String),
    Unverified { unverified: String },
}

impl Serialize for TaxpayerId {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        match self {
            TaxpayerId::Unverified(id) => TaxpayerIdRepr::Unverified {
                unverified: id.clone(),
            },
            other => TaxpayerIdRepr::Checked(other.as_str().to_owned()),
        }
        .serialize(serializer)
    }
}

impl<'de> Deserialize<'de> for TaxpayerId {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        match TaxpayerIdRepr::deserialize(deserializer)? {
            TaxpayerIdRepr::Checked(id) => TaxpayerId::parse(&id),
            TaxpayerIdRepr::Unverified { unverified } => TaxpayerId::unverified(&unverified),
        }
        .map_err(serde::de::Error::custom)
    }
}
