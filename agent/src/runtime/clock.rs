//! The wall clock, read in one place: the sans-IO cores (`crate::serve`, `crate::machine`) are
//! handed the time; the runtime reads it here.

use std::time::{SystemTime, UNIX_EPOCH};

/// Unix time, seconds (0 if the clock is before 1970).
pub(crate) fn unix_secs() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// Unix time, milliseconds.
pub(crate) fn unix_ms() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| u64::try_from(d.as_millis()).unwrap_or(u64::MAX))
}
