//! When the background loop tries again: exponential backoff with full
//! jitter, so a hundred laptops that lost the same tower do not all come back
//! in the same second.

use std::time::Duration;

/// Backoff state of the sync loop.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Backoff {
    base: Duration,
    max: Duration,
    failures: u32,
}

impl Backoff {
    /// Waits start around `base` and double per failure up to `max`.
    pub fn new(base: Duration, max: Duration) -> Backoff {
        Backoff {
            base,
            max,
            failures: 0,
        }
    }

    /// Failures in a row so far.
    pub fn failures(&self) -> u32 {
        self.failures
    }

    /// Records a failure and returns how long to wait: a uniformly random
    /// duration between half and all of `min(max, base × 2^failures)`.
    /// `random` is a number in `[0, 1)` (from the caller, so tests are exact).
    pub fn fail(&mut self, random: f64) -> Duration {
        let ceiling = self
            .base
            .saturating_mul(1u32 << self.failures.min(20))
            .min(self.max);
        self.failures = self.failures.saturating_add(1);
        let random = random.clamp(0.0, 1.0);
        ceiling.mul_f64(0.5 + random / 2.0)
    }

    /// Records a success: the next failure starts from `base` again.
    pub fn succeed(&mut self) {
        self.failures = 0;
    }
}

/// A random number in `[0, 1)` from the operating system (0.5 if it has none).
pub fn jitter() -> f64 {
    let mut bytes = [0u8; 8];
    match getrandom::fill(&mut bytes) {
        Ok(()) => (u64::from_le_bytes(bytes) >> 11) as f64 / (1u64 << 53) as f64,
        Err(_) => 0.5,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn waits_double_up_to_the_ceiling_and_reset_on_success() {
        let mut backoff = Backoff::new(Duration::from_secs(2), Duration::from_secs(60));
        let full: Vec<u64> = (0..7).map(|_| backoff.fail(1.0).as_secs()).collect();
        assert_eq!(full, vec![2, 4, 8, 16, 32, 60, 60]);
        assert_eq!(backoff.failures(), 7);
        backoff.succeed();
        assert_eq!(backoff.fail(0.0), Duration::from_secs(1));
        for _ in 0..100 {
            assert!(backoff.fail(0.3) <= Duration::from_secs(60));
        }
    }

    #[test]
    fn jitter_is_in_range() {
        for _ in 0..100 {
            let value = jitter();
            assert!((0.0..1.0).contains(&value));
        }
    }
}
