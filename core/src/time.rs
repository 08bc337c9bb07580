//! Time as plain numbers: the caller reads its clock and passes an
//! [`Instant`] in; core never reads one (as smoltcp's `time.rs`).
//!
//! An [`Instant`] is a count of milliseconds from an origin the caller picks
//! (process start, boot, the Unix epoch, zero in a test). Only differences
//! matter, so Python's `time.monotonic()`, Node's `performance.now()` and
//! tokio's `Instant` all map onto it. Arithmetic saturates: no call panics
//! or wraps, whatever the numbers.
//!
//! ```
//! use std::time::Duration;
//! use sixgate::time::Instant;
//!
//! let t0 = Instant::from_millis(1_000);
//! let t1 = t0 + Duration::from_secs(6);
//! assert_eq!(t1.as_millis(), 7_000);
//! assert_eq!(t1.saturating_duration_since(t0), Duration::from_secs(6));
//! assert_eq!(t0.saturating_duration_since(t1), Duration::ZERO);
//! assert_eq!(Instant::MAX + Duration::from_secs(1), Instant::MAX);
//! ```

use std::fmt;
use std::ops::Add;
use std::time::Duration;

/// A point in time: milliseconds since an origin the caller chooses.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Instant(u64);

impl Instant {
    /// The origin.
    pub const ZERO: Self = Self(0);
    /// The latest representable instant ("never").
    pub const MAX: Self = Self(u64::MAX);

    /// The instant `ms` milliseconds after the origin.
    pub const fn from_millis(ms: u64) -> Self {
        Self(ms)
    }

    /// The instant `s` seconds after the origin (saturating).
    pub const fn from_secs(s: u64) -> Self {
        Self(s.saturating_mul(1000))
    }

    /// Milliseconds since the origin.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// `self + d`, saturating at [`Instant::MAX`].
    pub fn saturating_add(self, d: Duration) -> Self {
        let ms = u64::try_from(d.as_millis()).unwrap_or(u64::MAX);
        Self(self.0.saturating_add(ms))
    }

    /// How long after `earlier` this instant is; zero if it is not later.
    pub fn saturating_duration_since(self, earlier: Self) -> Duration {
        Duration::from_millis(self.0.saturating_sub(earlier.0))
    }
}

impl Add<Duration> for Instant {
    type Output = Self;

    /// Saturating: see [`Instant::saturating_add`].
    fn add(self, d: Duration) -> Self {
        self.saturating_add(d)
    }
}

impl fmt::Display for Instant {
    /// Seconds with millisecond precision, e.g. `12.345s`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{:03}s", self.0 / 1000, self.0 % 1000)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_and_order() {
        assert_eq!(Instant::from_millis(12_345).to_string(), "12.345s");
        assert_eq!(Instant::from_secs(2), Instant::from_millis(2000));
        assert!(Instant::from_secs(1) < Instant::from_millis(1001));
        assert_eq!(Instant::from_secs(u64::MAX), Instant::MAX);
    }
}
