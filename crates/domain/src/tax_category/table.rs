//! One version of the table: lookup by code (binary search over sorted `u64`s), search by
//! name, 简称 or code prefix, and the rows for building a merged table.

use std::borrow::Cow;
use std::collections::BTreeMap;

use super::embedded_table::RawTable;
use super::rows::{self, Row, SUMMARY_FLAG, TABLE_RATES};
use crate::invoice::TaxCategoryCode;
use crate::time::Date;

/// One version of the 商品和服务税收分类编码 table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TaxCategoryTable {
    version: Cow<'static, str>,
    effective_from: Date,
    source: Cow<'static, str>,
    // Invariant: sorted ascending, unique; every other slice has one item per code.
    codes: Cow<'static, [u64]>,
    flags: Cow<'static, [u8]>,
    name_ends: Cow<'static, [u32]>,
    names: Cow<'static, str>,
    short_ids: Cow<'static, [u16]>,
    short_ends: Cow<'static, [u32]>,
    shorts: Cow<'static, str>,
}

/// One row of a table.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TaxCategoryEntry<'a> {
    code: u64,
    name: &'a str,
    short_name: &'a str,
    flags: u8,
}

impl<'a> TaxCategoryEntry<'a> {
    /// The 19-digit code.
    pub fn code(&self) -> String {
        format!("{:019}", self.code)
    }

    /// 货物和劳务名称, e.g. `糕点`.
    pub fn name(&self) -> &'a str {
        self.name
    }

    /// 商品和服务分类简称, e.g. `焙烤食品`.
    pub fn short_name(&self) -> &'a str {
        self.short_name
    }

    /// The VAT rates the table allows, in percent, highest first (empty on most summary rows).
    pub fn rates(&self) -> Vec<u8> {
        TABLE_RATES
            .iter()
            .filter(|(_, bit)| self.flags & bit != 0)
            .map(|(rate, _)| *rate)
            .collect()
    }

    /// Whether the table allows `percent` for this code.
    pub fn allows_percent(&self, percent: u8) -> bool {
        TABLE_RATES
            .iter()
            .any(|(rate, bit)| *rate == percent && self.flags & bit != 0)
    }

    /// The rates as words: `13%`, `13% or 9%`.
    pub fn rates_label(&self) -> String {
        let rates: Vec<String> = self.rates().iter().map(|r| format!("{r}%")).collect();
        if rates.is_empty() {
            "no rate".to_owned()
        } else {
            rates.join(" or ")
        }
    }

    /// Whether this is a summary row (汇总项): it has sub-codes, or the table gives it no rate.
    /// A summary code cannot be used on an invoice line.
    pub fn is_summary(&self) -> bool {
        self.flags & SUMMARY_FLAG != 0
    }

    /// The parent code, `None` for the six roots.
    pub fn parent(&self) -> Option<String> {
        rows::parent(self.code).map(|parent| format!("{parent:019}"))
    }
}

/// How a caller pages through search results.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Page {
    /// Results skipped.
    pub offset: usize,
    /// Most results returned.
    pub limit: usize,
}

impl TaxCategoryTable {
    pub(super) fn from_raw(raw: &'static RawTable) -> TaxCategoryTable {
        let (year, month, day) = raw.effective_from;
        TaxCategoryTable {
            version: Cow::Borrowed(raw.version),
            // The build script only writes dates it parsed; the fallback is never taken.
            effective_from: Date::new(year, month, day).unwrap_or(Date::EPOCH),
            source: Cow::Borrowed("embedded"),
            codes: Cow::Borrowed(raw.codes),
            flags: Cow::Borrowed(raw.flags),
            name_ends: Cow::Borrowed(raw.name_ends),
            names: Cow::Borrowed(raw.names),
            short_ids: Cow::Borrowed(raw.short_ids),
            short_ends: Cow::Borrowed(raw.short_ends),
            shorts: Cow::Borrowed(raw.shorts),
        }
    }

    /// A table from rows that passed [`rows::check`]; sorts them and marks summary rows.
    pub(super) fn from_rows(
        version: String,
        effective_from: Date,
        source: String,
        rows: Vec<Row>,
    ) -> TaxCategoryTable {
        let rows = rows::finish(rows);
        let mut names = String::new();
        let mut shorts = String::new();
        let mut short_ends = Vec::new();
        let mut short_index: BTreeMap<&str, u16> = BTreeMap::new();
        let mut table = TaxCategoryTable {
            version: Cow::Owned(version),
            effective_from,
            source: Cow::Owned(source),
            codes: Cow::Owned(rows.iter().map(|row| row.code).collect()),
            flags: Cow::Owned(rows.iter().map(|row| row.rates).collect()),
            name_ends: Cow::Owned(Vec::with_capacity(rows.len())),
            names: Cow::Borrowed(""),
            short_ids: Cow::Owned(Vec::with_capacity(rows.len())),
            short_ends: Cow::Borrowed(&[]),
            shorts: Cow::Borrowed(""),
        };
        for row in &rows {
            names.push_str(&row.name);
            table.name_ends.to_mut().push(offset(names.len()));
            let next = u16::try_from(short_index.len()).unwrap_or(u16::MAX);
            let id = *short_index.entry(&row.short_name).or_insert_with(|| {
                shorts.push_str(&row.short_name);
                short_ends.push(offset(shorts.len()));
                next
            });
            table.short_ids.to_mut().push(id);
        }
        table.names = Cow::Owned(names);
        table.shorts = Cow::Owned(shorts);
        table.short_ends = Cow::Owned(short_ends);
        table
    }

    /// The version label, e.g. `2026.6.1`.
    pub fn version(&self) -> &str {
        &self.version
    }

    /// The date the table is in force from.
    pub fn effective_from(&self) -> Date {
        self.effective_from
    }

    /// Where the table comes from: `embedded`, or the override file.
    pub fn source(&self) -> &str {
        &self.source
    }

    /// Number of codes.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether the table has no codes (never true of a loaded table).
    pub fn is_empty(&self) -> bool {
        self.codes.is_empty()
    }

    fn entry(&self, index: usize) -> TaxCategoryEntry<'_> {
        let start = |ends: &[u32], i: usize| if i == 0 { 0 } else { ends[i - 1] as usize };
        let short = usize::from(self.short_ids[index]);
        TaxCategoryEntry {
            code: self.codes[index],
            name: &self.names[start(&self.name_ends, index)..self.name_ends[index] as usize],
            short_name: &self.shorts
                [start(&self.short_ends, short)..self.short_ends[short] as usize],
            flags: self.flags[index],
        }
    }

    /// Every row, in code order.
    pub fn entries(&self) -> impl Iterator<Item = TaxCategoryEntry<'_>> + '_ {
        (0..self.len()).map(|index| self.entry(index))
    }

    /// The row of `code`, if the table has it.
    pub fn get(&self, code: &TaxCategoryCode) -> Option<TaxCategoryEntry<'_>> {
        self.get_number(code.as_str().parse().ok()?)
    }

    /// The row of a code given as its number.
    pub fn get_number(&self, code: u64) -> Option<TaxCategoryEntry<'_>> {
        self.codes
            .binary_search(&code)
            .ok()
            .map(|index| self.entry(index))
    }

    /// Whether the table has a sub-code of `entry` (sub-codes sort right after their parent).
    pub fn has_sub_codes(&self, entry: &TaxCategoryEntry<'_>) -> bool {
        let Ok(index) = self.codes.binary_search(&entry.code) else {
            return false;
        };
        let mut next = self.codes.get(index + 1).copied();
        while let Some(code) = next {
            if code == entry.code {
                return true;
            }
            next = rows::parent(code);
        }
        false
    }

    /// Rows whose name or 简称 contains `query`, or, for a query of digits, whose code starts
    /// with it; in code order. Returns the number of matches and the requested page.
    pub fn search(&self, query: &str, page: Page) -> (usize, Vec<TaxCategoryEntry<'_>>) {
        let query = query.trim();
        let digits = !query.is_empty() && query.bytes().all(|b| b.is_ascii_digit());
        // A prefix of L digits matches the codes whose first L digits it is.
        let prefix = (digits && query.len() <= 19)
            .then(|| query.parse::<u64>().ok())
            .flatten()
            .zip(u32::try_from(19 - query.len().min(19)).ok())
            .map(|(prefix, rest)| (prefix, 10u64.pow(rest)));
        let matches = |entry: &TaxCategoryEntry<'_>| {
            if digits {
                prefix.is_some_and(|(prefix, scale)| entry.code / scale == prefix)
            } else {
                entry.name.contains(query) || entry.short_name.contains(query)
            }
        };
        let mut total = 0;
        let mut found = Vec::new();
        for index in 0..self.len() {
            let entry = self.entry(index);
            if matches(&entry) {
                if total >= page.offset && found.len() < page.limit {
                    found.push(entry);
                }
                total += 1;
            }
        }
        (total, found)
    }

    /// The rows as read from a file, summary marks removed (for a merged table).
    pub(super) fn rows(&self) -> impl Iterator<Item = Row> + '_ {
        (0..self.len()).map(|index| {
            let entry = self.entry(index);
            Row {
                line: 0,
                code: entry.code,
                name: entry.name.to_owned(),
                short_name: entry.short_name.to_owned(),
                rates: entry.flags & !SUMMARY_FLAG,
            }
        })
    }

    /// Bytes of the table's arrays and texts (what embedding it costs the binary).
    pub fn data_bytes(&self) -> usize {
        self.codes.len() * 8
            + self.flags.len()
            + self.name_ends.len() * 4
            + self.names.len()
            + self.short_ids.len() * 2
            + self.short_ends.len() * 4
            + self.shorts.len()
    }
}

fn offset(length: usize) -> u32 {
    // A table's texts are a few hundred kilobytes; a file that large is refused before this.
    u32::try_from(length).unwrap_or(u32::MAX)
}
