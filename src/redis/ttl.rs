//! TTL arithmetic: a session's deadline (wall-clock ms since the Unix epoch, the earliest of its
//! `cacheExpiry`, `expires` and `ttl`, as `expiry::deadline_ms` computes it) becomes the `PX` of its
//! `SET`, measured from an injectable clock.

/// The longest `PX` sent. Redis refuses a `PX` that overflows its clock (`now + PX > i64::MAX`);
/// 2^50 ms is 35,000 years, far beyond an API-key session's century, and far from that limit.
pub const MAX_PX_MS: u64 = 1 << 50;

/// Milliseconds from `now_ms` until `deadline_ms`, for `SET ... PX`: `None` if the deadline is not
/// in the future (nothing may be stored), otherwise at least 1 and at most [`MAX_PX_MS`].
pub fn px_until(deadline_ms: u64, now_ms: u64) -> Option<u64> {
    deadline_ms
        .checked_sub(now_ms)
        .filter(|&left| left > 0)
        .map(|left| left.min(MAX_PX_MS))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_px_is_the_time_left() {
        assert_eq!(px_until(1_000_300, 1_000_000), Some(300));
        assert_eq!(px_until(1_000_001, 1_000_000), Some(1));
    }

    #[test]
    fn nothing_is_stored_at_or_past_the_deadline() {
        assert_eq!(px_until(1_000_000, 1_000_000), None);
        assert_eq!(px_until(999_999, 1_000_000), None);
        assert_eq!(px_until(0, u64::MAX), None);
    }

    #[test]
    fn far_deadlines_are_capped() {
        let century_ms = 100 * 365 * 86_400_000;
        let now = 1_800_000_000_000;
        assert_eq!(px_until(now + century_ms, now), Some(century_ms));
        assert_eq!(px_until(u64::MAX, 0), Some(MAX_PX_MS));
        assert!(MAX_PX_MS
            .checked_add(now)
            .is_some_and(|t| t < i64::MAX as u64));
    }

    #[test]
    fn an_injected_clock_drives_it() {
        use crate::time::{MockTime, TimeSource};
        let clock = MockTime::new(5_000);
        let deadline = 6_000;
        assert_eq!(px_until(deadline, clock.now_ms()), Some(1_000));
        clock.advance(999);
        assert_eq!(px_until(deadline, clock.now_ms()), Some(1));
        clock.advance(1);
        assert_eq!(px_until(deadline, clock.now_ms()), None);
    }
}
