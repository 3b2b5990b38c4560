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

/// A reserved send time, for callers that are told when to send rather than asking again.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Reservation {
    /// The call may go at this time (now or later); the slot is taken.
    At(u64),
    /// Nothing is taken: the earliest time is further off than the caller's horizon; ask again
    /// then (sends reported late meanwhile may move it).
    NotBefore(u64),
    /// Serial: wait until the call in flight completes.
    WaitForRelease,
}

/// A [`Pacer`]'s memory: its recent sends, calls in flight, and throttle.
#[derive(Clone, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct PacerSnapshot {
    pub sent: alloc::vec::Vec<u64>,
    pub in_flight: u32,
    pub blocked_until: u64,
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

    /// Reserves the earliest send time the limit allows from `now_ms` on, so a burst of callers
    /// is spread over the window at once instead of each asking again. Window reservations keep
    /// `margin_ms` clear of the calls leaving the window (a holder sends a little after its time).
    /// A serial reservation must be matched by one [`Pacer::release`].
    pub fn reserve(&mut self, now_ms: u64, margin_ms: u64) -> Reservation {
        self.reserve_within(now_ms, margin_ms, u64::MAX)
    }

    /// [`Pacer::reserve`], taking a window slot only if its time is at most `horizon_ms` away.
    pub fn reserve_within(&mut self, now_ms: u64, margin_ms: u64, horizon_ms: u64) -> Reservation {
        let start = now_ms.max(self.blocked_until);
        match self.limit {
            RateLimit::Unlimited if start > now_ms.saturating_add(horizon_ms) => Reservation::NotBefore(start),
            RateLimit::Unlimited => Reservation::At(start),
            RateLimit::Serial => {
                if self.in_flight > 0 {
                    return Reservation::WaitForRelease;
                }
                self.in_flight += 1;
                Reservation::At(start)
            }
            RateLimit::Window { limit, window_ms } => {
                while self.sent.front().is_some_and(|&t| t + window_ms + margin_ms <= now_ms) {
                    self.sent.pop_front();
                }
                let limit = limit.max(1) as usize;
                let mut at = start.max(self.sent.back().copied().unwrap_or(0));
                if self.sent.len() >= limit {
                    // The call `limit` places back must have left the window.
                    at = at.max(self.sent[self.sent.len() - limit] + window_ms + margin_ms);
                }
                if at > now_ms.saturating_add(horizon_ms) {
                    return Reservation::NotBefore(at);
                }
                self.sent.push_back(at);
                Reservation::At(at)
            }
        }
    }

    /// What the pacer remembers, so a restarted owner keeps pacing from where it was (an account
    /// object evicted while idle must not grant a fresh window's worth at once).
    pub fn snapshot(&self) -> PacerSnapshot {
        PacerSnapshot {
            sent: self.sent.iter().copied().collect(),
            in_flight: self.in_flight,
            blocked_until: self.blocked_until,
        }
    }

    pub fn restore(&mut self, snapshot: PacerSnapshot) {
        self.sent = snapshot.sent.into_iter().collect();
        self.in_flight = snapshot.in_flight;
        self.blocked_until = self.blocked_until.max(snapshot.blocked_until);
    }

    /// A call reserved for `reserved_ms` went at `sent_ms`: the window counts it from then, so a
    /// late sender (its lease delivered late, its clock read late) cannot crowd the next window.
    pub fn sent_late(&mut self, reserved_ms: u64, sent_ms: u64) {
        let Some(pos) = self.sent.iter().rposition(|&t| t == reserved_ms) else { return };
        self.sent.remove(pos);
        let at = self.sent.iter().rposition(|&t| t <= sent_ms).map_or(0, |p| p + 1);
        self.sent.insert(at, sent_ms);
    }

    pub fn is_serial(&self) -> bool {
        self.limit == RateLimit::Serial
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
}

#[cfg(test)]
mod tests {
    use super::*;
    use alloc::vec;
    use alloc::vec::Vec;

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
    fn window_reservations_spread_a_burst_exactly() {
        let mut p = Pacer::new(RateLimit::Window { limit: 2, window_ms: 1000 });
        let got: Vec<_> = (0..5).map(|_| p.reserve(10, 5)).collect();
        let at = |t| Reservation::At(t);
        assert_eq!(got, vec![at(10), at(10), at(1015), at(1015), at(2020)]);
        // Any window of 1000 ms holds at most 2 of them.
        p.block_until(5000);
        assert_eq!(p.reserve(10, 5), at(5000));
    }

    #[test]
    fn a_late_send_moves_its_reservation() {
        let mut p = Pacer::new(RateLimit::Window { limit: 2, window_ms: 1000 });
        assert_eq!(p.reserve(0, 0), Reservation::At(0));
        assert_eq!(p.reserve(0, 0), Reservation::At(0));
        p.sent_late(0, 300); // the first went 300 ms late
        assert_eq!(p.reserve(10, 0), Reservation::At(1000));
        assert_eq!(p.reserve(10, 0), Reservation::At(1300), "the window counts the late call from when it went");
    }

    #[test]
    fn serial_reservation_waits_for_release() {
        let mut p = Pacer::new(RateLimit::Serial);
        assert_eq!(p.reserve(0, 0), Reservation::At(0));
        assert_eq!(p.reserve(0, 0), Reservation::WaitForRelease);
        p.release();
        assert_eq!(p.reserve(3, 0), Reservation::At(3));
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
