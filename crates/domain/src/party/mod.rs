//! The parties on an invoice: taxpayer ids (USCC per GB 32100-2015, legacy ids, resident ids),
//! names, the [`Buyer`] and the [`Seller`].
//!
//! Lengths that platforms count in GBK bytes are counted here the same way: one byte for an ASCII
//! character, two for any other.

mod buyer;
mod seller;
mod tax_id;

pub use buyer::Buyer;
pub use seller::Seller;
pub use tax_id::{TaxIdError, TaxpayerId, Uscc, UsccError};

use serde::{Deserialize, Serialize};

use crate::newtype::newtype_glue;

/// Limit of a party name, in GBK bytes.
pub const NAME_MAX_GBK_BYTES: usize = 100;

/// Limit of address + phone and of bank + account together, in GBK bytes.
pub const PAIR_MAX_GBK_BYTES: usize = 100;

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
        match crate::text::check_visible(name) {
            Ok(()) => {}
            Err(crate::text::Hidden::NothingVisible) => {
                return Err(PartyError::Empty { field: FIELD });
            }
            Err(crate::text::Hidden::Bidi { position, found }) => {
                return Err(PartyError::Character {
                    field: FIELD,
                    position,
                    found,
                    rule: "no bidi controls",
                });
            }
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

#[cfg(test)]
mod tests;

#[cfg(test)]
mod properties;
