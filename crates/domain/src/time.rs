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
    }
}
