//! The parties on an invoice: taxpayer ids (USCC per GB 32100-2015, legacy ids, resident ids),
//! names, the [`Buyer`] and the [`Seller`].
//!
//! Lengths that platforms count in GBK bytes are counted here the same way: one byte for an ASCII
//! character, two for any other.

use std::fmt;

use crate::newtype::newtype_glue;
use serde::{Deserialize, Serialize};

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

/// Limit of a party name, in GBK bytes.
pub const NAME_MAX_GBK_BYTES: usize = 100;
/// Limit of address + phone and of bank + account together, in GBK bytes.
pub const PAIR_MAX_GBK_BYTES: usize = 100;

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

/// A party field broke its rule.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PartyError {
    /// A required text is empty.
    #[error("{field}: must not be empty")]
    Empty {
        /// The field.
        field: &'static str,
    },
    /// A text is longer than the platforms accept.
    #[error("{field}: {bytes} GBK bytes exceed the limit of {limit}")]
    TooLong {
        /// The field (or fields, for the pairs counted together).
        field: &'static str,
        /// The GBK byte count found.
        bytes: usize,
        /// The limit.
        limit: usize,
    },
    /// A character that may not appear.
    #[error("{field}: character {position} is {found:?}, which is not allowed ({rule})")]
    Character {
        /// The field.
        field: &'static str,
        /// 1-based position in the trimmed text.
        position: usize,
        /// The character.
        found: char,
        /// The rule.
        rule: &'static str,
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

/// Length in GBK bytes as the platforms count it: 1 per ASCII character, 2 per other character.
pub fn gbk_len(text: &str) -> usize {
    text.chars().map(|c| if c.is_ascii() { 1 } else { 2 }).sum()
}

/// A buyer or seller name (名称): non-empty after trimming, at most 100 GBK bytes, no `<` or `>`
/// and no control characters.
#[derive(Clone, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(try_from = "String", into = "String")]
// Invariant: trimmed, non-empty, ≤ NAME_MAX_GBK_BYTES, no '<', '>' or control characters.
pub struct PartyName(String);

impl PartyName {
    /// Trims and validates a name.
    ///
    /// # Errors
    /// [`PartyError`] naming the rule.
    pub fn parse(input: &str) -> Result<PartyName, PartyError> {
        const FIELD: &str = "name";
        let name = input.trim();
        if name.is_empty() {
            return Err(PartyError::Empty { field: FIELD });
        }
        if let Some((index, found)) = name
            .chars()
            .enumerate()
            .find(|(_, c)| matches!(c, '<' | '>') || c.is_control())
        {
            return Err(PartyError::Character {
                field: FIELD,
                position: index + 1,
                found,
                rule: "no '<', '>' or control characters",
            });
        }
        let bytes = gbk_len(name);
        if bytes > NAME_MAX_GBK_BYTES {
            return Err(PartyError::TooLong {
                field: FIELD,
                bytes,
                limit: NAME_MAX_GBK_BYTES,
            });
        }
        Ok(PartyName(name.to_owned()))
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

newtype_glue!(string PartyName, PartyError);

/// Trims an optional text; empty becomes `None`.
fn optional_text(value: Option<String>) -> Option<String> {
    value
        .map(|text| text.trim().to_owned())
        .filter(|text| !text.is_empty())
}

fn check_pair(
    field: &'static str,
    first: Option<&str>,
    second: Option<&str>,
) -> Result<(), PartyError> {
    let bytes = first.map_or(0, gbk_len) + second.map_or(0, gbk_len);
    if bytes > PAIR_MAX_GBK_BYTES {
        return Err(PartyError::TooLong {
            field,
            bytes,
            limit: PAIR_MAX_GBK_BYTES,
        });
    }
    Ok(())
}

/// The buyer (购买方).
///
/// Build it with [`Buyer::individual`], [`Buyer::natural_person`] or [`Buyer::organization`],
/// which check the limits; deserialising runs the same checks.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "BuyerRepr", into = "BuyerRepr")]
pub enum Buyer {
    /// A person (or a 个体工商户 buying under a personal title).
    Individual {
        /// Name.
        name: PartyName,
        /// The natural person's taxpayer id (usually the resident id), if given.
        personal_id: Option<TaxpayerId>,
        /// Whether the invoice goes to the person's own invoice folder (`naturalPersonFlag`);
        /// never set for a 个体工商户.
        natural_person: bool,
    },
    /// A company, government body, institution or other organisation.
    Organization {
        /// Name.
        name: PartyName,
        /// Taxpayer id; required for enterprises and for 专票.
        tax_id: Option<TaxpayerId>,
        /// Address (地址).
        address: Option<String>,
        /// Phone (电话).
        phone: Option<String>,
        /// Bank name (开户行).
        bank: Option<String>,
        /// Bank account (账号).
        account: Option<String>,
    },
}

impl Buyer {
    /// A person buying under a personal title, not flagged as a natural person.
    pub fn individual(name: PartyName) -> Buyer {
        Buyer::Individual {
            name,
            personal_id: None,
            natural_person: false,
        }
    }

    /// A natural-person buyer (`naturalPersonFlag=1`): the invoice lands in the person's own
    /// invoice folder when the id is given.
    pub fn natural_person(name: PartyName, personal_id: Option<TaxpayerId>) -> Buyer {
        Buyer::Individual {
            name,
            personal_id,
            natural_person: true,
        }
    }

    /// An organisation. Optional texts are trimmed (empty becomes `None`); address + phone and
    /// bank + account may each take at most 100 GBK bytes together.
    ///
    /// # Errors
    /// [`PartyError::TooLong`] naming the pair.
    pub fn organization(
        name: PartyName,
        tax_id: Option<TaxpayerId>,
        address: Option<String>,
        phone: Option<String>,
        bank: Option<String>,
        account: Option<String>,
    ) -> Result<Buyer, PartyError> {
        let (address, phone) = (optional_text(address), optional_text(phone));
        let (bank, account) = (optional_text(bank), optional_text(account));
        check_pair(
            "buyer.address + buyer.phone",
            address.as_deref(),
            phone.as_deref(),
        )?;
        check_pair(
            "buyer.bank + buyer.account",
            bank.as_deref(),
            account.as_deref(),
        )?;
        Ok(Buyer::Organization {
            name,
            tax_id,
            address,
            phone,
            bank,
            account,
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.party_name().as_str()
    }

    /// The name as a [`PartyName`].
    pub fn party_name(&self) -> &PartyName {
        match self {
            Buyer::Individual { name, .. } | Buyer::Organization { name, .. } => name,
        }
    }

    /// The id printed in the buyer's 纳税人识别号 field: the organisation's tax id or the natural
    /// person's id.
    pub fn tax_id(&self) -> Option<&TaxpayerId> {
        match self {
            Buyer::Individual { personal_id, .. } => personal_id.as_ref(),
            Buyer::Organization { tax_id, .. } => tax_id.as_ref(),
        }
    }

    /// Whether the buyer is flagged as a natural person.
    pub fn is_natural_person(&self) -> bool {
        matches!(
            self,
            Buyer::Individual {
                natural_person: true,
                ..
            }
        )
    }
}

#[derive(Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
enum BuyerRepr {
    Individual {
        name: PartyName,
        #[serde(default)]
        personal_id: Option<TaxpayerId>,
        #[serde(default)]
        natural_person: bool,
    },
    Organization {
        name: PartyName,
        #[serde(default)]
        tax_id: Option<TaxpayerId>,
        #[serde(default)]
        address: Option<String>,
        #[serde(default)]
        phone: Option<String>,
        #[serde(default)]
        bank: Option<String>,
        #[serde(default)]
        account: Option<String>,
    },
}

impl TryFrom<BuyerRepr> for Buyer {
    type Error = PartyError;
    fn try_from(repr: BuyerRepr) -> Result<Self, PartyError> {
        match repr {
            BuyerRepr::Individual {
                name,
                personal_id,
                natural_person,
            } => Ok(Buyer::Individual {
                name,
                personal_id,
                natural_person,
            }),
            BuyerRepr::Organization {
                name,
                tax_id,
                address,
                phone,
                bank,
                account,
            } => Buyer::organization(name, tax_id, address, phone, bank, account),
        }
    }
}

impl From<Buyer> for BuyerRepr {
    fn from(buyer: Buyer) -> Self {
        match buyer {
            Buyer::Individual {
                name,
                personal_id,
                natural_person,
            } => BuyerRepr::Individual {
                name,
                personal_id,
                natural_person,
            },
            Buyer::Organization {
                name,
                tax_id,
                address,
                phone,
                bank,
                account,
            } => BuyerRepr::Organization {
                name,
                tax_id,
                address,
                phone,
                bank,
                account,
            },
        }
    }
}

/// The seller (销售方): one invoicing entity of the merchant.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(try_from = "SellerRepr", into = "SellerRepr")]
pub struct Seller {
    name: PartyName,
    tax_id: TaxpayerId,
    // Invariant: trimmed, non-empty, ≤ PAIR_MAX_GBK_BYTES.
    address_phone: Option<String>,
    // Invariant: trimmed, non-empty, ≤ PAIR_MAX_GBK_BYTES.
    bank_account: Option<String>,
    // Invariant: trimmed, non-empty.
    drawer: String,
}

impl Seller {
    /// A seller. `address_phone` and `bank_account` are trimmed (empty becomes `None`) and take
    /// at most 100 GBK bytes each; `drawer` (开票人) must be the name of the tax-bureau account
    /// that issues, so it cannot be empty.
    ///
    /// # Errors
    /// [`PartyError`] naming the field.
    pub fn new(
        name: PartyName,
        tax_id: TaxpayerId,
        address_phone: Option<String>,
        bank_account: Option<String>,
        drawer: &str,
    ) -> Result<Seller, PartyError> {
        let address_phone = optional_text(address_phone);
        let bank_account = optional_text(bank_account);
        check_pair("seller.address_phone", address_phone.as_deref(), None)?;
        check_pair("seller.bank_account", bank_account.as_deref(), None)?;
        let drawer = drawer.trim();
        if drawer.is_empty() {
            return Err(PartyError::Empty {
                field: "seller.drawer",
            });
        }
        if let Some((index, found)) = drawer.chars().enumerate().find(|(_, c)| c.is_control()) {
            return Err(PartyError::Character {
                field: "seller.drawer",
                position: index + 1,
                found,
                rule: "no control characters",
            });
        }
        Ok(Seller {
            name,
            tax_id,
            address_phone,
            bank_account,
            drawer: drawer.to_owned(),
        })
    }

    /// The name.
    pub fn name(&self) -> &str {
        self.name.as_str()
    }

    /// The name as a [`PartyName`].
    pub fn party_name(&self) -> &PartyName {
        &self.name
    }

    /// The taxpayer id.
    pub fn tax_id(&self) -> &TaxpayerId {
        &self.tax_id
    }

    /// Address and phone, as one text.
    pub fn address_phone(&self) -> Option<&str> {
        self.address_phone.as_deref()
    }

    /// Bank and account, as one text.
    pub fn bank_account(&self) -> Option<&str> {
        self.bank_account.as_deref()
    }

    /// The drawer (开票人).
    pub fn drawer(&self) -> &str {
        &self.drawer
    }
}

#[derive(Serialize, Deserialize)]
struct SellerRepr {
    name: PartyName,
    tax_id: TaxpayerId,
    #[serde(default)]
    address_phone: Option<String>,
    #[serde(default)]
    bank_account: Option<String>,
    drawer: String,
}

impl TryFrom<SellerRepr> for Seller {
    type Error = PartyError;
    fn try_from(repr: SellerRepr) -> Result<Self, PartyError> {
        Seller::new(
            repr.name,
            repr.tax_id,
            repr.address_phone,
            repr.bank_account,
            &repr.drawer,
        )
    }
}

impl From<Seller> for SellerRepr {
    fn from(seller: Seller) -> Self {
        SellerRepr {
            name: seller.name,
            tax_id: seller.tax_id,
            address_phone: seller.address_phone,
            bank_account: seller.bank_account,
            drawer: seller.drawer,
        }
    }
}

#[cfg(test)]
mod tests;
