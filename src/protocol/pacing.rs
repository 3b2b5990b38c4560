//! Pacing calls to an upstream's rate limit, so the upstream never has to throttle us.

use alloc::collections::VecDeque;

/// An upstream's documented limit on data calls.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RateLimit {
    /// At most `limit` calls in any `window_ms`.
    Window {
        limit: u32,
        window_ms: u64,
    },
    /// One call in flight at a time (a token bucket of capacity 1, as Lingxing's).
    Serial,
    Unlimited,
}

/// Whether a call may go now.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pace {
    Go,
    WaitUntil(u64),
    /// Serial: wait until the call in flight completes.
    WaitForRelease,
}

/// Tracks sends against a [`RateLimit`]. A sliding window that remembers each send's time is
/// exact: it lets a burst go at once and then waits precisely as long as the limit requires.
#[derive(Clone, Debug)]
pub struct Pacer {
    limit: RateLimit,
    sent: VecDeque<u64>,
    in_flight: u32,
    blocked_until: u64,
}

impl Pacer {
    pub fn new(limit: RateLimit) -> Pacer {
        Pacer { limit, sent: VecDeque::new(), in_flight: 0, blocked_until: 0 }
    }

    pub fn limit(&self) -> RateLimit {
        self.limit
    }

    /// Takes a slot if one is free. Every `Go` must be matched by one [`Pacer::release`].
    pub fn try_acquire(&mut self, now_ms: u64) -> Pace {
        if now_ms < self.blocked_until {
            return Pace::WaitUntil(self.blocked_until);
        }
        match self.limit {
            RateLimit::Unlimited => {}
            RateLimit::Serial => {
                if self.in_flight > 0 {
                    return Pace::WaitForRelease;
                }
            }
            RateLimit::Window { limit, window_ms } => {
                while self.sent.front().is_some_and(|&t| t + window_ms <= now_ms) {
                    self.sent.pop_front();
                }
                if self.sent.len() >= limit as usize {
                    return Pace::WaitUntil(self.sent.front().copied().unwrap_or(now_ms) + window_ms);
                }
                self.sent.push_back(now_ms);
            }
        }
        self.in_flight += 1;
        Pace::Go
    }

    pub fn release(&mut self) {
        self.in_flight = self.in_flight.saturating_sub(1);
    }

    pub fn in_flight(&self) -> u32 {
        self.in_flight
    }

    /// The upstream throttled us anyway: nobody sends before `until_ms`.
    pub fn block_until(&mut self, until_ms: u64) {
        self.blocked_until = self.blocked_until.max(until_ms);
    }

    /// What the pacer must remember across a restart of its owner (a Durable Object is evicted
    /// and started anew at any time): the sends still inside the window, and any block.
    pub fn snapshot(&self) -> PacerSnapshot {
        PacerSnapshot { sent: self.sent.iter().copied().collect(), blocked_until: self.blocked_until }
    }

    /// Takes up a snapshot, so the calls made before a restart still count against the limit.
    pub fn restore(&mut self, snapshot: &PacerSnapshot, now_ms: u64) {
        if let RateLimit::Window { window_ms, .. } = self.limit {
            let recent = snapshot.sent.iter().copied().filter(|&t| t + window_ms > now_ms && t <= now_ms);
            let mut merged: alloc::vec::Vec<u64> = recent.chain(self.sent.iter().copied()).collect();
            merged.sort_unstable();
            merged.dedup();
            self.sent = merged.into_iter().collect();
        }
        self.blocked_until = self.blocked_until.max(snapshot.blocked_until);
    }
}

/// A [`Pacer`]'s memory, to persist.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PacerSnapshot {
    pub sent: alloc::vec::Vec<u64>,
    pub blocked_until: u64,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_allows_burst_then_waits_exactly() {
        let mut p = Pacer::new(RateLimit::Window { limit: 3, window_ms: 1000 });
        for _ in 0..3 {
            assert_eq!(p.try_acquire(10), Pace::Go);
            p.release();
        }
        assert_eq!(p.try_acquire(500), Pace::WaitUntil(1010));
        assert_eq!(p.try_acquire(1010), Pace::Go);
    }

    #[test]
    fn a_restored_pacer_counts_the_sends_before_the_restart() {
        let limit = RateLimit::Window { limit: 3, window_ms: 1000 };
        let mut before = Pacer::new(limit);
        for t in [10, 20, 30] {
            assert_eq!(before.try_acquire(t), Pace::Go);
        }
        before.block_until(400);
        let saved = before.snapshot();
        // A new owner, started at 500: the three sends still fill the window.
        let mut after = Pacer::new(limit);
        after.restore(&saved, 500);
        assert_eq!(after.try_acquire(500), Pace::WaitUntil(1010));
        assert_eq!(after.try_acquire(1010), Pace::Go);
        // Sends that left the window are forgotten; the block is kept until it ends.
        let mut later = Pacer::new(limit);
        later.restore(&saved, 2000);
        assert_eq!(later.snapshot().sent, alloc::vec::Vec::<u64>::new());
        let mut blocked = Pacer::new(limit);
        blocked.restore(&PacerSnapshot { sent: alloc::vec![], blocked_until: 900 }, 100);
        assert_eq!(blocked.try_acquire(100), Pace::WaitUntil(900));
    }

    #[test]
    fn serial_allows_one_in_flight() {
        let mut p = Pacer::new(RateLimit::Serial);
        assert_eq!(p.try_acquire(0), Pace::Go);
        assert_eq!(p.try_acquire(0), Pace::WaitForRelease);
        p.release();
        assert_eq!(p.try_acquire(0), Pace::Go);
    }
}
