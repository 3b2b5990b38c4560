//! Retry timing: capped exponential backoff with jitter. The random input is an argument, so
//! the core stays deterministic and tests can pin it.

/// How often and how patiently to retry throttled and transient answers.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Attempts in all, the first included.
    pub max_attempts: u32,
    pub base_delay_ms: u64,
    pub max_delay_ms: u64,
}

impl Default for RetryPolicy {
    fn default() -> Self {
        RetryPolicy { max_attempts: 6, base_delay_ms: 200, max_delay_ms: 20_000 }
    }
}

impl RetryPolicy {
    /// The wait after the `failures`-th failure: "equal jitter" — half the exponential step for
    /// sure, half at random — so a herd of callers spreads out but none retries at once.
    pub fn delay_ms(&self, failures: u32, random: u32) -> u64 {
        let shift = failures.saturating_sub(1).min(30);
        let step = self.base_delay_ms.saturating_mul(1u64 << shift).min(self.max_delay_ms);
        let half = step / 2;
        half + u64::from(random) % (half + 1)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn grows_then_caps() {
        let p = RetryPolicy::default();
        assert_eq!(p.delay_ms(1, 0), 100);
        assert_eq!(p.delay_ms(2, 0), 200);
        assert_eq!(p.delay_ms(3, u32::MAX), 400 + u64::from(u32::MAX) % 401);
        assert!(p.delay_ms(40, u32::MAX) <= 20_000);
        assert!(p.delay_ms(40, 0) >= 10_000);
    }
}
