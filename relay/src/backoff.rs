//! One exponential backoff with jitter for every retry loop of the relay: a job's next attempt,
//! a failed claim, a result that could not be reported, the LISTEN session's reconnects.
use std::hash::{BuildHasher, RandomState};
use std::time::Duration;

#[derive(Debug, Clone, Copy)]
pub struct Backoff {
    pub first: Duration,
    pub max: Duration,
}

impl Backoff {
    /// The wait before retry `n` (1 for the first): `first` × 2^(n-1), at most `max`, then
    /// spread by ±20% so that many waiters do not come back at the same instant.
    pub fn delay(&self, n: u32) -> Duration {
        let doubled = self
            .first
            .saturating_mul(1 << n.clamp(1, 20).saturating_sub(1));
        spread(doubled.min(self.max))
    }
}

/// Retries of the worker's own database calls (claims, reports, the LISTEN session).
pub const DATABASE_RETRY: Backoff = Backoff {
    first: Duration::from_millis(100),
    max: Duration::from_secs(5),
};

/// `d` × a random factor in [0.8, 1.2).
pub fn spread(d: Duration) -> Duration {
    // RandomState is seeded per instance from the OS: a hash of nothing is a fresh random u64.
    let random = RandomState::new().hash_one(());
    let unit = (random >> 11) as f64 / (1u64 << 53) as f64;
    d.mul_f64(0.8 + 0.4 * unit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn doubles_from_first_up_to_max_within_twenty_percent() {
        let b = Backoff {
            first: Duration::from_secs(2),
            max: Duration::from_secs(300),
        };
        for (n, nominal) in [
            (1, 2.0),
            (2, 4.0),
            (3, 8.0),
            (8, 256.0),
            (9, 300.0),
            (30, 300.0),
        ] {
            for _ in 0..50 {
                let d = b.delay(n).as_secs_f64();
                assert!(
                    (nominal * 0.8..nominal * 1.2).contains(&d),
                    "retry {n}: {d} s, nominal {nominal}"
                );
            }
        }
    }

    #[test]
    fn the_spread_is_random() {
        let d = Duration::from_secs(100);
        let waits: std::collections::HashSet<Duration> = (0..20).map(|_| spread(d)).collect();
        assert!(waits.len() > 10, "{waits:?}");
    }
}
