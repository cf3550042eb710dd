//! Time as a value: the domain never reads a clock, it is handed [`Timestamp`]s.

use std::fmt;

use serde::{Deserialize, Serialize};

/// Milliseconds since the Unix epoch (UTC).
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Timestamp(i64);

impl Timestamp {
    /// A timestamp from Unix milliseconds.
    pub const fn from_millis(millis: i64) -> Self {
        Self(millis)
    }

    /// A timestamp from Unix seconds (Weixin's 10-digit timestamps).
    pub const fn from_unix_seconds(seconds: i64) -> Self {
        Self(seconds.saturating_mul(1000))
    }

    /// Unix milliseconds.
    pub const fn millis(self) -> i64 {
        self.0
    }

    /// Unix seconds, rounded down.
    pub const fn unix_seconds(self) -> i64 {
        self.0.div_euclid(1000)
    }

    /// This timestamp moved by `millis` (negative moves back), saturating.
    pub const fn plus_millis(self, millis: i64) -> Self {
        Self(self.0.saturating_add(millis))
    }

    /// The civil date and time in China Standard Time (UTC+8, no daylight saving), as
    /// `(year, month, day, hour, minute, second)`; invoices are dated in this zone.
    pub fn china_civil(self) -> (i64, u32, u32, u32, u32, u32) {
        let secs = self.unix_seconds() + 8 * 3600;
        let days = secs.div_euclid(86_400);
        let rem = secs.rem_euclid(86_400);
        let (year, month, day) = civil_from_days(days);
        let rem = u32::try_from(rem).unwrap_or(0);
        (year, month, day, rem / 3600, rem / 60 % 60, rem % 60)
    }
}

// Howard Hinnant's days-to-civil algorithm (proleptic Gregorian calendar).
fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let year = yoe + era * 400;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = if month <= 2 { year + 1 } else { year };
    (
        year,
        u32::try_from(month).unwrap_or(1),
        u32::try_from(day).unwrap_or(1),
    )
}

impl fmt::Debug for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, mo, d, h, mi, s) = self.china_civil();
        write!(f, "{y:04}-{mo:02}-{d:02}T{h:02}:{mi:02}:{s:02}+08:00")
    }
}

impl fmt::Display for Timestamp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// A calendar date in China Standard Time: the day an invoice is issued on, the day a tax
/// category table comes into force.
#[derive(Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
// Invariant: month 1–12, day 1 to the month's length.
pub struct Date {
    year: u16,
    month: u8,
    day: u8,
}

impl Date {
    /// 1970-01-01.
    pub const EPOCH: Date = Date {
        year: 1970,
        month: 1,
        day: 1,
    };

    /// A date, `None` when the day does not exist.
    pub const fn new(year: u16, month: u8, day: u8) -> Option<Date> {
        let leap =
            (year.is_multiple_of(4) && !year.is_multiple_of(100)) || year.is_multiple_of(400);
        let length = match month {
            1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
            4 | 6 | 9 | 11 => 30,
            2 if leap => 29,
            2 => 28,
            _ => return None,
        };
        if day == 0 || day > length {
            return None;
        }
        Some(Date { year, month, day })
    }

    /// Parses `YYYY-MM-DD`, `None` when it is not a date.
    pub fn parse(text: &str) -> Option<Date> {
        let mut parts = text.split('-');
        let (year, month, day) = (parts.next()?, parts.next()?, parts.next()?);
        if parts.next().is_some() || year.len() != 4 || month.len() != 2 || day.len() != 2 {
            return None;
        }
        Date::new(year.parse().ok()?, month.parse().ok()?, day.parse().ok()?)
    }

    /// `(year, month, day)`.
    pub const fn parts(self) -> (u16, u8, u8) {
        (self.year, self.month, self.day)
    }
}

impl fmt::Debug for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}-{:02}-{:02}", self.year, self.month, self.day)
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

impl Timestamp {
    /// The date in China Standard Time (invoices are dated in this zone).
    pub fn china_date(self) -> Date {
        let (year, month, day, ..) = self.china_civil();
        let year = u16::try_from(year.clamp(0, 9999)).unwrap_or(0);
        let month = u8::try_from(month).unwrap_or(1);
        let day = u8::try_from(day).unwrap_or(1);
        Date::new(year, month, day).unwrap_or(Date {
            year,
            month: 1,
            day: 1,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn china_civil_time() {
        // 2016-09-29 15:38:20 +08:00
        let ts = Timestamp::from_unix_seconds(1_475_134_700);
        assert_eq!(ts.china_civil(), (2016, 9, 29, 15, 38, 20));
        assert_eq!(ts.to_string(), "2016-09-29T15:38:20+08:00");
        // New Year in Beijing while still 2025 in UTC.
        let ts = Timestamp::from_unix_seconds(1_767_196_800 + 3600);
        assert_eq!(ts.china_civil(), (2026, 1, 1, 1, 0, 0));
        assert_eq!(Timestamp::from_millis(-1).unix_seconds(), -1);
        assert_eq!(ts.china_date().to_string(), "2026-01-01");
    }

    #[test]
    fn dates_parse_and_order() {
        assert_eq!(Date::parse("2026-06-01"), Date::new(2026, 6, 1));
        assert_eq!(
            Date::parse("2024-02-29").map(Date::parts),
            Some((2024, 2, 29))
        );
        for bad in [
            "2025-02-29",
            "2026-13-01",
            "2026-6-1",
            "20260601",
            "2026-06-01-01",
            "",
        ] {
            assert_eq!(Date::parse(bad), None, "{bad}");
        }
        assert!(Date::parse("2026-05-31") < Date::parse("2026-06-01"));
    }
}
