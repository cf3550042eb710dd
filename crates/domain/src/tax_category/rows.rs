//! The CSV shape of a 商品和服务税收分类编码 table (`code,name,short_name,rates,note`) and the
//! checks every table passes: 19-digit unique codes, every parent present, a non-empty 简称,
//! rates from the current VAT rates.
//!
//! Standard library only: the build script that embeds the official table includes this file
//! with `#[path]`, so the embedded table and a merchant's override file are read and checked by
//! the same code.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;

/// The columns a table file starts with (more columns, such as `note`, are ignored).
pub const COLUMNS: [&str; 4] = ["code", "name", "short_name", "rates"];

/// Longest 简称, in characters (the invoice face prints it between asterisks).
pub const SHORT_NAME_LIMIT: usize = 40;

/// VAT rates a table may list for a code, in percent, and their bit in a rate set.
pub const TABLE_RATES: [(u8, u8); 6] = [
    (13, 1),
    (9, 1 << 1),
    (6, 1 << 2),
    (5, 1 << 3),
    (3, 1 << 4),
    (0, 1 << 5),
];

/// The rate-set bit that marks a summary row (汇总项) in the packed flags.
pub const SUMMARY_FLAG: u8 = 1 << 7;

/// One row of a table file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Row {
    /// The line of the file the row starts on (the header is line 1).
    pub line: usize,
    /// The 19-digit code as a number (19 digits always fit in a `u64`).
    pub code: u64,
    /// 货物和劳务名称.
    pub name: String,
    /// 商品和服务分类简称.
    pub short_name: String,
    /// The rate set: [`TABLE_RATES`] bits.
    pub rates: u8,
}

/// A table file broke a rule; `line` 0 means the file as a whole.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableError {
    /// The line of the file (1 is the header), 0 for the whole file.
    pub line: usize,
    /// The column or `file`.
    pub field: &'static str,
    /// The rule that was broken.
    pub rule: String,
}

impl fmt::Display for TableError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.line == 0 {
            write!(f, "{}: {}", self.field, self.rule)
        } else {
            write!(f, "line {}: {}: {}", self.line, self.field, self.rule)
        }
    }
}

impl std::error::Error for TableError {}

fn error(line: usize, field: &'static str, rule: impl Into<String>) -> TableError {
    TableError {
        line,
        field,
        rule: rule.into(),
    }
}

/// Splits RFC 4180 text (CRLF or LF, `"` quoting) into records with the line each starts on.
fn records(text: &str) -> Result<Vec<(usize, Vec<String>)>, TableError> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    let mut record = Vec::new();
    let mut field = String::new();
    let mut line = 1;
    let mut start = 1;
    let mut quoted = false;
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        if quoted {
            match c {
                '"' if chars.peek() == Some(&'"') => {
                    chars.next();
                    field.push('"');
                }
                '"' => quoted = false,
                '\n' => {
                    line += 1;
                    field.push(c);
                }
                _ => field.push(c),
            }
            continue;
        }
        match c {
            '"' if field.is_empty() => quoted = true,
            '"' => return Err(error(line, "file", "a quote inside an unquoted field")),
            ',' => record.push(std::mem::take(&mut field)),
            '\r' if chars.peek() == Some(&'\n') => {}
            '\n' => {
                record.push(std::mem::take(&mut field));
                out.push((start, std::mem::take(&mut record)));
                line += 1;
                start = line;
            }
            _ => field.push(c),
        }
    }
    if quoted {
        return Err(error(start, "file", "a quoted field is not closed"));
    }
    if !field.is_empty() || !record.is_empty() {
        record.push(field);
        out.push((start, record));
    }
    Ok(out)
}

/// The digits of a code as written: 19 ASCII digits, the first one 1–6.
fn parse_code(line: usize, text: &str) -> Result<u64, TableError> {
    if text.len() != 19 || !text.bytes().all(|b| b.is_ascii_digit()) {
        return Err(error(
            line,
            "code",
            format!("{text:?} is not 19 digits (商品和服务税收分类编码)"),
        ));
    }
    if !matches!(text.as_bytes()[0], b'1'..=b'6') {
        return Err(error(
            line,
            "code",
            format!("{text} starts with {}, expected 1–6", &text[..1]),
        ));
    }
    text.parse()
        .map_err(|_| error(line, "code", format!("{text:?} is not a number")))
}

/// Parses `13%`, `13%,9%` (the source's `、` also accepted) or empty into a rate set.
pub fn parse_rates(line: usize, text: &str) -> Result<u8, TableError> {
    let mut set = 0;
    for part in text
        .split([',', '、'])
        .map(str::trim)
        .filter(|p| !p.is_empty())
    {
        let bit = part
            .strip_suffix('%')
            .and_then(|n| n.parse::<u8>().ok())
            .and_then(|n| TABLE_RATES.iter().find(|(r, _)| *r == n))
            .map(|(_, bit)| *bit)
            .ok_or_else(|| {
                error(
                    line,
                    "rates",
                    format!("{part:?} is not a current VAT rate (13%, 9%, 6%, 5%, 3%, 0%)"),
                )
            })?;
        set |= bit;
    }
    Ok(set)
}

fn check_text(line: usize, field: &'static str, text: &str) -> Result<String, TableError> {
    let text = text.trim();
    if text.is_empty() {
        return Err(error(line, field, "must not be empty"));
    }
    if let Some(c) = text.chars().find(|c| c.is_control()) {
        return Err(error(
            line,
            field,
            format!("holds the control character {c:?}"),
        ));
    }
    Ok(text.to_owned())
}

/// Reads a table file into rows, checking each row on its own (codes, names, 简称, rates).
///
/// # Errors
/// [`TableError`] naming the line, the column and the rule.
pub fn parse(text: &str) -> Result<Vec<Row>, TableError> {
    let mut records = records(text)?.into_iter();
    let (_, header) = records.next().ok_or_else(|| {
        error(
            0,
            "file",
            "is empty (expected the header code,name,short_name,rates,note)",
        )
    })?;
    let header: Vec<&str> = header.iter().map(|h| h.trim()).collect();
    if header.len() < COLUMNS.len() || header[..COLUMNS.len()] != COLUMNS {
        return Err(error(
            1,
            "header",
            format!(
                "is {:?}, expected code,name,short_name,rates,note",
                header.join(",")
            ),
        ));
    }
    let mut rows = Vec::new();
    for (line, fields) in records {
        if fields.iter().all(|f| f.trim().is_empty()) {
            continue;
        }
        if fields.len() < COLUMNS.len() {
            return Err(error(
                line,
                "file",
                format!(
                    "{} columns, expected at least 4 (code,name,short_name,rates)",
                    fields.len()
                ),
            ));
        }
        let short_name = check_text(line, "short_name", &fields[2])?;
        if short_name.contains('*') {
            return Err(error(
                line,
                "short_name",
                "must not hold '*' (the face prints *简称*name)",
            ));
        }
        let chars = short_name.chars().count();
        if chars > SHORT_NAME_LIMIT {
            return Err(error(
                line,
                "short_name",
                format!("{chars} characters exceed the limit of {SHORT_NAME_LIMIT}"),
            ));
        }
        rows.push(Row {
            line,
            code: parse_code(line, fields[0].trim())?,
            name: check_text(line, "name", &fields[1])?,
            short_name,
            rates: parse_rates(line, &fields[3])?,
        });
    }
    Ok(rows)
}

/// The parent of a code: the code with its last non-zero two-digit segment set to zero (the
/// first digit, 篇, is a segment of its own and the root has no parent).
pub fn parent(code: u64) -> Option<u64> {
    let mut scale = 1u64;
    for _ in 0..9 {
        let segment = (code / scale) % 100;
        if segment != 0 {
            return Some(code - segment * scale);
        }
        scale *= 100;
    }
    None
}

/// Checks a whole table: codes unique, every parent present in the table or in `base` (the
/// table an override adds to).
///
/// # Errors
/// [`TableError`] naming the line, the column and the rule.
pub fn check(rows: &[Row], base: &dyn Fn(u64) -> bool) -> Result<(), TableError> {
    let mut seen: BTreeMap<u64, usize> = BTreeMap::new();
    for row in rows {
        if let Some(first) = seen.insert(row.code, row.line) {
            return Err(error(
                row.line,
                "code",
                format!(
                    "{:019} repeats the code of line {first} (codes are unique)",
                    row.code
                ),
            ));
        }
    }
    for row in rows {
        if let Some(parent) = parent(row.code)
            && !seen.contains_key(&parent)
            && !base(parent)
        {
            return Err(error(
                row.line,
                "code",
                format!(
                    "the parent {parent:019} of {:019} is not in the table (every parent must be present)",
                    row.code
                ),
            ));
        }
    }
    Ok(())
}

/// Sorts the rows by code and marks summary rows (汇总项): rows with a child, and rows without
/// any rate (the source marks such rows as summary rows whose children it lacks).
pub fn finish(mut rows: Vec<Row>) -> Vec<Row> {
    rows.sort_by_key(|row| row.code);
    let parents: BTreeSet<u64> = rows.iter().filter_map(|row| parent(row.code)).collect();
    for row in &mut rows {
        if row.rates == 0 || parents.contains(&row.code) {
            row.rates |= SUMMARY_FLAG;
        }
    }
    rows
}
