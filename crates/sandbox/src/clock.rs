//! The sandbox clock: the system clock plus an offset that the control API can advance, so
//! token expiry, media expiry and auth URL lifetimes can be exercised without waiting.

use std::sync::atomic::{AtomicI64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use fapiao_domain::Timestamp;

/// The largest offset from system time, in seconds (about a hundred years).
pub const MAX_OFFSET_SECS: i64 = 100 * 366 * 24 * 3600;

/// Wall-clock time shifted by an adjustable offset.
#[derive(Debug, Default)]
pub struct SandboxClock {
    offset_millis: AtomicI64,
}

impl SandboxClock {
    /// A clock at system time.
    pub fn new() -> Self {
        Self::default()
    }

    /// Now, on the sandbox clock.
    pub fn now(&self) -> Timestamp {
        let system = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |d| i64::try_from(d.as_millis()).unwrap_or(i64::MAX));
        Timestamp::from_millis(system.saturating_add(self.offset_millis.load(Ordering::Relaxed)))
    }

    /// Now, in Unix seconds.
    pub fn now_secs(&self) -> i64 {
        self.now().unix_seconds()
    }

    /// Moves the clock forward (or back, for a negative value) by `seconds`; the total offset
    /// stays within a hundred years, so time arithmetic cannot overflow.
    pub fn advance(&self, seconds: i64) {
        let step = seconds
            .clamp(-MAX_OFFSET_SECS, MAX_OFFSET_SECS)
            .saturating_mul(1000);
        let _ = self
            .offset_millis
            .fetch_update(Ordering::Relaxed, Ordering::Relaxed, |offset| {
                Some(
                    offset
                        .saturating_add(step)
                        .clamp(-MAX_OFFSET_SECS * 1000, MAX_OFFSET_SECS * 1000),
                )
            });
    }

    /// The total offset from system time, in seconds.
    pub fn offset_secs(&self) -> i64 {
        self.offset_millis.load(Ordering::Relaxed) / 1000
    }
}

#[cfg(test)]
mod tests;
