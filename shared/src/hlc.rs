//! Hybrid logical clock (HLC) timestamps that order every change.
//!
//! A field officer's laptop clock is often wrong: a flat CMOS battery resets it
//! to 2010, or someone sets it a year ahead. Ordering changes by wall-clock time
//! alone would let a laptop stuck in the past lose every edit and a laptop in
//! the future win forever. An HLC (Kulkarni et al., 2014) combines a physical
//! time in milliseconds with a logical counter:
//!
//! - it never goes backwards on one device, even when the laptop clock does
//!   ([`HlcClock::tick`] takes the maximum of the clock and the last stamp);
//! - it moves past every timestamp the device has seen ([`HlcClock::observe`]),
//!   so after a sync a device whose clock runs behind still stamps its next
//!   edits after everything it received;
//! - a timestamp that runs ahead of a trusted reference time (the server's
//!   clock when it first accepts the change) can be bounded with
//!   [`Hlc::bounded_by`]; the server stores the bounded stamp and every
//!   replica, including the sender, adopts it, so a laptop set to 2030 cannot
//!   win every future conflict.
//!
//! The timestamp packs into one `u64` (48 bits of milliseconds since the Unix
//! epoch, good until the year 10889, and a 16-bit counter), which is also its
//! order, so storage can index it as one integer column.

use std::fmt;
use std::str::FromStr;

use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// Bits of the packed value used by the logical counter.
const COUNTER_BITS: u32 = 16;
const COUNTER_MAX: u64 = (1 << COUNTER_BITS) - 1;
/// The largest physical time a timestamp can hold, in milliseconds.
pub const MAX_WALL_MS: u64 = (1 << (64 - COUNTER_BITS)) - 1;

/// A hybrid-logical-clock timestamp: physical milliseconds and a logical counter.
///
/// Ordered first by milliseconds, then by counter. Serialised as the text
/// `"<wall_ms>-<counter>"` (for example `"1763797620123-0"`), because the
/// packed 64-bit value does not survive a JavaScript number.
#[derive(Clone, Copy, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Hlc(u64);

impl Hlc {
    /// The smallest timestamp, before every real change.
    pub const ZERO: Hlc = Hlc(0);

    /// A timestamp from its parts; `None` if `wall_ms` exceeds [`MAX_WALL_MS`].
    pub fn new(wall_ms: u64, counter: u16) -> Option<Hlc> {
        (wall_ms <= MAX_WALL_MS).then_some(Hlc((wall_ms << COUNTER_BITS) | u64::from(counter)))
    }

    /// Physical part: milliseconds since the Unix epoch.
    pub fn wall_ms(self) -> u64 {
        self.0 >> COUNTER_BITS
    }

    /// Logical part: orders events within the same millisecond.
    pub fn counter(self) -> u16 {
        // Truncation is the point: the counter is the low 16 bits.
        (self.0 & COUNTER_MAX) as u16
    }

    /// The packed value, for storage as one integer column (its order is the timestamp order).
    pub fn to_u64(self) -> u64 {
        self.0
    }

    /// Unpacks a value written by [`Hlc::to_u64`].
    pub fn from_u64(packed: u64) -> Hlc {
        Hlc(packed)
    }

    /// The next timestamp after this one: counter + 1, carrying into the
    /// milliseconds when the counter is full.
    fn successor(self) -> Hlc {
        Hlc(self.0.saturating_add(1))
    }

    /// Bounds a timestamp that runs ahead of a trusted reference time.
    ///
    /// Returns `None` when `self` is at most `max_ahead_ms` ahead of
    /// `reference_ms` (nothing to do), otherwise the bounded timestamp:
    /// `reference_ms + max_ahead_ms` with the original counter. The server
    /// applies this once, when it first accepts a change, and records the
    /// bounded stamp as the change's timestamp for every replica.
    pub fn bounded_by(self, reference_ms: u64, max_ahead_ms: u64) -> Option<Hlc> {
        let limit_ms = reference_ms.saturating_add(max_ahead_ms).min(MAX_WALL_MS);
        (self.wall_ms() > limit_ms)
            .then(|| Hlc((limit_ms << COUNTER_BITS) | u64::from(self.counter())))
    }
}

impl fmt::Debug for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Hlc({}-{})", self.wall_ms(), self.counter())
    }
}

impl fmt::Display for Hlc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.wall_ms(), self.counter())
    }
}

/// Text that is not an HLC timestamp `"<wall_ms>-<counter>"`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("invalid HLC timestamp {0:?}: expected \"<milliseconds>-<counter>\"")]
pub struct ParseHlcError(String);

impl FromStr for Hlc {
    type Err = ParseHlcError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let invalid = || ParseHlcError(s.chars().take(40).collect());
        let (wall, counter) = s.split_once('-').ok_or_else(invalid)?;
        let all_digits = |t: &str| !t.is_empty() && t.bytes().all(|b| b.is_ascii_digit());
        if !all_digits(wall) || !all_digits(counter) {
            return Err(invalid());
        }
        let wall_ms: u64 = wall.parse().map_err(|_| invalid())?;
        let counter: u16 = counter.parse().map_err(|_| invalid())?;
        Hlc::new(wall_ms, counter).ok_or_else(invalid)
    }
}

impl Serialize for Hlc {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for Hlc {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let text = <std::borrow::Cow<'de, str>>::deserialize(deserializer)?;
        text.parse().map_err(serde::de::Error::custom)
    }
}

/// A device's clock: hands out strictly increasing timestamps.
///
/// The caller passes the physical time in (`shared` reads no clock) and
/// persists [`HlcClock::last`] with every change, so the clock survives
/// restarts without going backwards.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct HlcClock {
    last: Hlc,
}

impl HlcClock {
    /// A clock that resumes after `last`, the greatest timestamp this device
    /// has issued or seen.
    pub fn resume(last: Hlc) -> HlcClock {
        HlcClock { last }
    }

    /// The greatest timestamp issued or observed so far.
    pub fn last(&self) -> Hlc {
        self.last
    }

    /// A timestamp for a new local change, strictly greater than every
    /// timestamp issued or observed before, whatever `physical_ms` says.
    pub fn tick(&mut self, physical_ms: u64) -> Hlc {
        let physical = Hlc::new(physical_ms.min(MAX_WALL_MS), 0).unwrap_or(Hlc::ZERO);
        self.last = if physical > self.last {
            physical
        } else {
            self.last.successor()
        };
        self.last
    }

    /// Takes note of a timestamp received from elsewhere (the server or a
    /// change pulled from another device), so later ticks order after it.
    pub fn observe(&mut self, remote: Hlc) {
        self.last = self.last.max(remote);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn hlc(wall_ms: u64, counter: u16) -> Hlc {
        Hlc::new(wall_ms, counter).unwrap_or(Hlc::ZERO)
    }

    #[test]
    fn ticks_strictly_increase_even_when_the_clock_goes_backwards() {
        let mut clock = HlcClock::default();
        let a = clock.tick(1_000);
        let b = clock.tick(1_000);
        let c = clock.tick(500); // someone set the laptop clock back
        let d = clock.tick(2_000);
        assert!(a < b && b < c && c < d, "{a} {b} {c} {d}");
        assert_eq!(c, hlc(1_000, 2));
        assert_eq!(d, hlc(2_000, 0));
    }

    #[test]
    fn observing_the_server_moves_a_slow_laptop_forward() {
        // Laptop clock stuck in 2010, server in 2026.
        let mut clock = HlcClock::resume(hlc(1_262_304_000_000, 0));
        let server = hlc(1_763_797_620_123, 4);
        clock.observe(server);
        let next = clock.tick(1_262_304_000_500);
        assert!(
            next > server,
            "an edit made after a sync must order after what the sync brought"
        );
    }

    #[test]
    fn counter_overflow_carries_into_the_milliseconds() {
        let mut clock = HlcClock::resume(hlc(10, u16::MAX));
        assert_eq!(clock.tick(5), hlc(11, 0));
    }

    #[test]
    fn bounding_only_touches_timestamps_ahead_of_the_reference() {
        let reference = 1_763_797_620_000;
        let max_ahead = 5 * 60 * 1000;
        assert_eq!(
            hlc(reference + max_ahead, 3).bounded_by(reference, max_ahead),
            None
        );
        assert_eq!(
            hlc(reference - 10, 3).bounded_by(reference, max_ahead),
            None
        );
        let year_2030 = 1_893_456_000_000;
        assert_eq!(
            hlc(year_2030, 3).bounded_by(reference, max_ahead),
            Some(hlc(reference + max_ahead, 3))
        );
    }

    #[test]
    fn text_form_round_trips_and_rejects_garbage() {
        let t = hlc(1_763_797_620_123, 7);
        assert_eq!(t.to_string(), "1763797620123-7");
        assert_eq!("1763797620123-7".parse::<Hlc>(), Ok(t));
        for bad in ["", "-", "12", "12-", "-3", "a-1", "1-70000", "1--1", "+1-1"] {
            assert!(bad.parse::<Hlc>().is_err(), "{bad:?} must be rejected");
        }
        let json = serde_json::to_string(&t).unwrap_or_default();
        assert_eq!(json, "\"1763797620123-7\"");
        assert_eq!(serde_json::from_str::<Hlc>(&json).ok(), Some(t));
        assert_eq!(Hlc::from_u64(t.to_u64()), t);
    }

    #[test]
    fn packed_order_is_timestamp_order() {
        assert!(hlc(1, u16::MAX).to_u64() < hlc(2, 0).to_u64());
        assert!(hlc(2, 0) < hlc(2, 1));
    }
}
