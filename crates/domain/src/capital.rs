//! Amounts in capital numerals (大写), as printed in the 价税合计（大写） box of an invoice.
//!
//! The renderer makes one canonical choice within the People's Bank of China rules for filling
//! bills: `圆` rather than `元`, `整` after `圆` and after `角`, one `零` for a run of zeros, no
//! `零` where the rules make it optional, and `（负数）` before a red amount. The parser reads
//! that form back and also the variants other printers use: `元`/`圆`/`圓`, `整`/`正`, the
//! optional `零`s, a missing `整` after `角`, and the `⊗`, `（负数）` and `人民币` prefixes.
//!
//! The integer part is written in groups of four digits with the group units 万, 亿, 万亿 and,
//! for amounts beyond any invoice but within `i64` fen, 亿亿.

use crate::money::Fen;

const DIGITS: [char; 10] = ['零', '壹', '贰', '叁', '肆', '伍', '陆', '柒', '捌', '玖'];
const PLACES: [&str; 4] = ["", "拾", "佰", "仟"];
const GROUPS: [&str; 5] = ["", "万", "亿", "万亿", "亿亿"];
const NEGATIVE: &str = "（负数）";

/// A character of the input with its 1-based position, kept for error messages.
type Token = (usize, char);

/// A text could not be read as an amount in capital numerals.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum CapitalError {
    /// Nothing but prefixes and spaces.
    #[error("amount in words: empty")]
    Empty,
    /// A character breaks the grammar; positions count characters from 1 in the input.
    #[error("amount in words: character {position} is '{found}', {rule}")]
    Unexpected {
        /// 1-based character position in the input.
        position: usize,
        /// The character found there.
        found: char,
        /// What was expected instead, or the rule it breaks.
        rule: &'static str,
    },
    /// The text stops too early.
    #[error("amount in words: ends after character {position}, {rule}")]
    UnexpectedEnd {
        /// 1-based position of the last character.
        position: usize,
        /// What was expected.
        rule: &'static str,
    },
    /// The amount does not fit in `i64` fen.
    #[error("amount in words: the amount is out of range")]
    OutOfRange,
}

/// The amount in capital numerals, canonical form (see the module docs).
///
/// `0` → `零圆整`, `5` → `伍分`, `50` → `伍角整`, `32504` → `叁佰贰拾伍圆零肆分`,
/// `−1400000` → `（负数）壹万肆仟圆整`.
pub fn amount_in_words(fen: Fen) -> String {
    let value = fen.get();
    let abs = value.unsigned_abs();
    let yuan = abs / 100;
    let jiao = digit(abs / 10 % 10);
    let fen_digit = digit(abs % 10);

    let mut out = String::new();
    if value < 0 {
        out.push_str(NEGATIVE);
    }
    let integer = integer_words(yuan);
    let has_integer = !integer.is_empty();
    out.push_str(&integer);
    if has_integer {
        out.push('圆');
    }
    match (jiao, fen_digit) {
        ('零', '零') if has_integer => out.push('整'),
        ('零', '零') => out.push_str("零圆整"),
        (jiao, '零') => {
            out.push(jiao);
            out.push_str("角整");
        }
        ('零', fen_digit) => {
            if has_integer {
                out.push('零');
            }
            out.push(fen_digit);
            out.push('分');
        }
        (jiao, fen_digit) => {
            out.push(jiao);
            out.push('角');
            out.push(fen_digit);
            out.push('分');
        }
    }
    out
}

fn digit(value: u64) -> char {
    // `value` is always a single decimal digit here; '零' is an unreachable fallback.
    usize::try_from(value)
        .ok()
        .and_then(|index| DIGITS.get(index))
        .copied()
        .unwrap_or('零')
}

/// The integer part, empty for zero.
fn integer_words(yuan: u64) -> String {
    let mut groups = [0u64; GROUPS.len()];
    let mut rest = yuan;
    for group in &mut groups {
        *group = rest % 10_000;
        rest /= 10_000;
    }
    let mut out = String::new();
    let mut previous: Option<usize> = None;
    for (index, &group) in groups.iter().enumerate().rev() {
        if group == 0 {
            continue;
        }
        if let Some(higher) = previous
            && (higher - index > 1 || group < 1000)
        {
            out.push('零');
        }
        section_words(group, &mut out);
        out.push_str(GROUPS[index]);
        previous = Some(index);
    }
    out
}

/// A group of four digits (`0 < group < 10000`) without its leading zeros.
fn section_words(group: u64, out: &mut String) {
    let mut started = false;
    let mut zero_pending = false;
    for place in (0..4u32).rev() {
        let value = group / 10u64.pow(place) % 10;
        if value == 0 {
            zero_pending = started;
            continue;
        }
        if zero_pending {
            out.push('零');
            zero_pending = false;
        }
        out.push(digit(value));
        out.push_str(PLACES[place as usize]);
        started = true;
    }
}

/// Reads an amount in capital numerals back into fen.
///
/// Accepts the canonical form of [`amount_in_words`] and the variants listed in the module docs;
/// rejects everything else with the position of the first offending character.
///
/// # Errors
/// [`CapitalError`] naming the position and the rule.
pub fn parse_amount_in_words(input: &str) -> Result<Fen, CapitalError> {
    let all: Vec<Token> = input
        .chars()
        .enumerate()
        .map(|(index, c)| (index + 1, c))
        .collect();
    let mut tokens: &[Token] = &all;
    while let Some(((_, c), rest)) = tokens.split_first()
        && c.is_whitespace()
    {
        tokens = rest;
    }
    while let Some(((_, c), rest)) = tokens.split_last()
        && c.is_whitespace()
    {
        tokens = rest;
    }

    let mut negative = false;
    let mut seen_mark = false;
    let mut seen_currency = false;
    loop {
        if !seen_mark && let Some(rest) = strip_prefix(tokens, "⊗") {
            seen_mark = true;
            tokens = rest;
        } else if !negative && let Some(rest) = strip_prefix(tokens, NEGATIVE) {
            negative = true;
            tokens = rest;
        } else if !seen_currency && let Some(rest) = strip_prefix(tokens, "人民币") {
            seen_currency = true;
            tokens = rest;
        } else {
            break;
        }
    }
    if tokens.is_empty() {
        return Err(CapitalError::Empty);
    }
    let tokens: Vec<Token> = tokens
        .iter()
        .map(|&(position, c)| {
            let c = match c {
                '元' | '圓' => '圆',
                '正' => '整',
                other => other,
            };
            (position, c)
        })
        .collect();

    let (integer, fraction, after_yuan) = match tokens.iter().position(|&(_, c)| c == '圆') {
        Some(index) => (&tokens[..index], &tokens[index + 1..], Some(tokens[index])),
        None => (&tokens[..0], &tokens[..], None),
    };

    let (yuan, jiao_fen) = match after_yuan {
        Some(yuan_token) => {
            let integer_value = if let [(_, '零')] = integer {
                None
            } else if integer.is_empty() {
                return Err(CapitalError::Unexpected {
                    position: yuan_token.0,
                    found: yuan_token.1,
                    rule: "expected a digit before 圆",
                });
            } else {
                Some(parse_integer(integer)?)
            };
            let jiao_fen = parse_fraction_after_yuan(integer_value, fraction, yuan_token)?;
            (integer_value.unwrap_or(0), jiao_fen)
        }
        None => (0, parse_fraction_only(fraction)?),
    };

    let total = yuan
        .checked_mul(100)
        .and_then(|fen| fen.checked_add(u128::from(jiao_fen)))
        .ok_or(CapitalError::OutOfRange)?;
    let total = i128::try_from(total).map_err(|_| CapitalError::OutOfRange)?;
    let total = if negative { -total } else { total };
    i64::try_from(total)
        .map(Fen::new)
        .map_err(|_| CapitalError::OutOfRange)
}

fn strip_prefix<'a>(tokens: &'a [Token], prefix: &str) -> Option<&'a [Token]> {
    let mut rest = tokens;
    for expected in prefix.chars() {
        match rest.split_first() {
            Some((&(_, c), tail)) if c == expected => rest = tail,
            _ => return None,
        }
    }
    Some(rest)
}

fn digit_value(c: char) -> Option<u32> {
    DIGITS
        .iter()
        .position(|&d| d == c)
        .and_then(|index| u32::try_from(index).ok())
}

fn nonzero_digit(c: char) -> Option<u32> {
    digit_value(c).filter(|&value| value > 0)
}

fn place_value(c: char) -> Option<u32> {
    match c {
        '拾' => Some(1),
        '佰' => Some(2),
        '仟' => Some(3),
        _ => None,
    }
}

/// The integer part before 圆: sections of up to four digits, each followed by a group unit
/// (or none for the last), with the 零 rules of the renderer plus the optional 零 of PBOC rule 4.
fn parse_integer(tokens: &[Token]) -> Result<u128, CapitalError> {
    let mut total: u128 = 0;
    let mut index = 0;
    // (group index, section value) of the last section written.
    let mut previous: Option<(usize, u32)> = None;
    while index < tokens.len() {
        let zero = match tokens[index] {
            (position, '零') => {
                if previous.is_none() {
                    return Err(CapitalError::Unexpected {
                        position,
                        found: '零',
                        rule: "an amount cannot start with 零",
                    });
                }
                index += 1;
                Some(position)
            }
            _ => None,
        };
        let section_start = index;
        let (value, next) = parse_section(tokens, index, previous.is_none())?;
        index = next;
        let (group, next) = match (tokens.get(index), tokens.get(index + 1)) {
            (Some((_, '万')), Some((_, '亿'))) => (3, index + 2),
            (Some((_, '亿')), Some((_, '亿'))) => (4, index + 2),
            (Some((_, '亿')), _) => (2, index + 1),
            (Some((_, '万')), _) => (1, index + 1),
            (None, _) => (0, index),
            (Some(&(position, found)), _) => {
                return Err(CapitalError::Unexpected {
                    position,
                    found,
                    rule: "expected 万, 亿 or 圆 after a group of digits",
                });
            }
        };
        if let Some((higher, higher_value)) = previous {
            if group >= higher {
                let (position, found) = tokens.get(index).copied().unwrap_or((0, '圆'));
                return Err(CapitalError::Unexpected {
                    position,
                    found,
                    rule: "group units must decrease (亿亿, 万亿, 亿, 万)",
                });
            }
            let required = higher - group > 1 || value < 1000;
            // PBOC rule 4: when the higher group ends in zero (its 万 or 亿 digit is 0), one
            // 零 may be written before a following 仟 digit.
            let optional = !required && higher_value % 10 == 0;
            match zero {
                None if required => {
                    let (position, found) = tokens.get(section_start).copied().unwrap_or((0, '圆'));
                    return Err(CapitalError::Unexpected {
                        position,
                        found,
                        rule: "expected 零 before this group (a zero digit or group is skipped)",
                    });
                }
                Some(position) if !required && !optional => {
                    return Err(CapitalError::Unexpected {
                        position,
                        found: '零',
                        rule: "no digit is skipped here, so 零 must not be written",
                    });
                }
                _ => {}
            }
        }
        total = 10_000u128
            .checked_pow(u32::try_from(group).unwrap_or(u32::MAX))
            .and_then(|unit| unit.checked_mul(u128::from(value)))
            .and_then(|term| total.checked_add(term))
            .ok_or(CapitalError::OutOfRange)?;
        previous = Some((group, value));
        index = next;
    }
    Ok(total)
}

/// One group of up to four digits starting at `start`, e.g. `壹仟零壹拾`; returns its value and
/// the index after it. A bare leading 拾 (`拾伍` for 15) is accepted at the start of the amount.
fn parse_section(
    tokens: &[Token],
    start: usize,
    first: bool,
) -> Result<(u32, usize), CapitalError> {
    let mut value = 0u32;
    let mut index = start;
    let mut last_place: Option<u32> = None;
    let mut zero: Option<usize> = None;
    while let Some(&(position, c)) = tokens.get(index) {
        if c == '零' && last_place.is_some() {
            if zero.is_some() {
                return Err(CapitalError::Unexpected {
                    position,
                    found: c,
                    rule: "write one 零 for a run of zeros",
                });
            }
            zero = Some(position);
            index += 1;
            continue;
        }
        let (digit, place, width) = if let Some(digit) = nonzero_digit(c) {
            match tokens
                .get(index + 1)
                .and_then(|&(_, unit)| place_value(unit))
            {
                Some(place) => (digit, place, 2),
                None => (digit, 0, 1),
            }
        } else if c == '拾' && first && index == start {
            (1, 1, 1)
        } else {
            break;
        };
        if let Some(higher) = last_place {
            if place >= higher {
                return Err(CapitalError::Unexpected {
                    position: tokens[index + width - 1].0,
                    found: tokens[index + width - 1].1,
                    rule: "digit places must decrease (仟, 佰, 拾, units)",
                });
            }
            let skipped = higher - place > 1;
            match zero {
                None if skipped => {
                    return Err(CapitalError::Unexpected {
                        position,
                        found: c,
                        rule: "expected 零 before this digit (a zero digit is skipped)",
                    });
                }
                Some(zero_position) if !skipped => {
                    return Err(CapitalError::Unexpected {
                        position: zero_position,
                        found: '零',
                        rule: "no digit is skipped here, so 零 must not be written",
                    });
                }
                _ => {}
            }
        }
        value += digit * 10u32.pow(place);
        last_place = Some(place);
        zero = None;
        index += width;
        if place == 0 {
            break;
        }
    }
    if let Some(position) = zero {
        return Err(CapitalError::Unexpected {
            position,
            found: '零',
            rule: "零 must be followed by a digit",
        });
    }
    if last_place.is_none() {
        return Err(match tokens.get(start) {
            Some(&(position, found)) => CapitalError::Unexpected {
                position,
                found,
                rule: "expected a digit 壹–玖",
            },
            None => CapitalError::UnexpectedEnd {
                position: tokens.last().map_or(0, |&(position, _)| position),
                rule: "expected a digit 壹–玖",
            },
        });
    }
    Ok((value, index))
}

/// What follows 圆. `integer` is `None` for `零圆`, otherwise the integer value.
fn parse_fraction_after_yuan(
    integer: Option<u128>,
    tokens: &[Token],
    yuan: Token,
) -> Result<u32, CapitalError> {
    let end = |rule| CapitalError::UnexpectedEnd {
        position: tokens.last().map_or(yuan.0, |&(position, _)| position),
        rule,
    };
    let unexpected = |&(position, found): &Token, rule| CapitalError::Unexpected {
        position,
        found,
        rule,
    };
    let Some(first) = tokens.first() else {
        return Err(end("expected 整 after 圆"));
    };
    if first.1 == '整' {
        return match tokens.get(1) {
            None => Ok(0),
            Some(token) => Err(unexpected(token, "nothing may follow 整")),
        };
    }
    let Some(integer) = integer else {
        return Err(unexpected(first, "expected 整 after 零圆"));
    };
    let (zero, rest) = match tokens.split_first() {
        Some((&(position, '零'), rest)) => (Some(position), rest),
        _ => (None, tokens),
    };
    let (jiao_fen, after) = parse_jiao_fen(rest)?;
    if let Some(token) = after.first() {
        return Err(unexpected(token, "nothing may follow 分 or 角整"));
    }
    let has_jiao = jiao_fen >= 10;
    match zero {
        None if !has_jiao => {
            let token = rest.first().unwrap_or(first);
            Err(unexpected(
                token,
                "expected 零 between 圆 and 分 when 角 is zero",
            ))
        }
        Some(position) if has_jiao && integer % 10 != 0 => Err(CapitalError::Unexpected {
            position,
            found: '零',
            rule: "零 before 角 is written only when the 圆 digit is 0",
        }),
        _ => Ok(jiao_fen),
    }
}

/// The whole text when there is no 圆 (amounts below one yuan).
fn parse_fraction_only(tokens: &[Token]) -> Result<u32, CapitalError> {
    let (jiao_fen, after) = parse_jiao_fen(tokens)?;
    match after.first() {
        None => Ok(jiao_fen),
        Some(&(position, found)) => Err(CapitalError::Unexpected {
            position,
            found,
            rule: "nothing may follow 分 or 角整",
        }),
    }
}

/// `D角`, `D角整`, `D角D分` or `D分`; returns `角 × 10 + 分` and the tokens after.
fn parse_jiao_fen(tokens: &[Token]) -> Result<(u32, &[Token]), CapitalError> {
    let end = |rule| CapitalError::UnexpectedEnd {
        position: tokens.last().map_or(0, |&(position, _)| position),
        rule,
    };
    let unexpected = |&(position, found): &Token, rule| CapitalError::Unexpected {
        position,
        found,
        rule,
    };
    let Some(first) = tokens.first() else {
        return Err(end("expected a digit 壹–玖"));
    };
    let Some(digit) = nonzero_digit(first.1) else {
        return Err(unexpected(first, "expected a digit 壹–玖"));
    };
    match tokens.get(1) {
        None => Err(end("expected 角 or 分 after the digit")),
        Some((_, '分')) => Ok((digit, &tokens[2..])),
        Some((_, '角')) => match tokens.get(2) {
            None => Ok((digit * 10, &tokens[2..])),
            Some((_, '整')) => Ok((digit * 10, &tokens[3..])),
            Some(&(position, c)) => {
                let Some(fen_digit) = nonzero_digit(c) else {
                    return Err(CapitalError::Unexpected {
                        position,
                        found: c,
                        rule: "expected 整 or a digit 壹–玖 after 角",
                    });
                };
                match tokens.get(3) {
                    Some((_, '分')) => Ok((digit * 10 + fen_digit, &tokens[4..])),
                    Some(token) => Err(unexpected(token, "expected 分 after the digit")),
                    None => Err(end("expected 分 after the digit")),
                }
            }
        },
        Some(token) => Err(unexpected(token, "expected 角 or 分 after the digit")),
    }
}

#[cfg(test)]
mod tests;
