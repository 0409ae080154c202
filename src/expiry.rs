//! Deadlines: when an entry stops being servable, and an index that finds expired entries without
//! scanning the whole store.

use std::collections::BTreeMap;

/// The instant (ms since the Unix epoch) from which an entry must never be returned: the earliest of
/// Vendure's `cacheExpiry` (float seconds), the session's `expires`, and the store's `ttl` option.
/// An entry is servable while `now < deadline`; rounding down errs towards an early miss, never a late hit.
pub fn deadline_ms(now_ms: u64, cache_expiry_s: f64, expires_ms: f64, ttl_ms: Option<u64>) -> u64 {
    // `as` saturates: NaN and negatives become 0 (already expired), huge values u64::MAX.
    let cache_expiry = (cache_expiry_s * 1000.0).floor() as u64;
    let expires = expires_ms.floor() as u64;
    let ttl = ttl_ms.map_or(u64::MAX, |ttl| now_ms.saturating_add(ttl));
    cache_expiry.min(expires).min(ttl)
}

/// Granularity of the index: entries expiring in the same second share a bucket.
const BUCKET_MS: u64 = 1000;

/// Slots filed by the second in which they expire. A record is a hint, not a fact: the slot may have
/// been rewritten or reused since, so whoever drains a bucket re-checks the entry's real deadline.
#[derive(Default)]
pub struct DeadlineIndex {
    buckets: BTreeMap<u64, Vec<u32>>,
    records: usize,
}

impl DeadlineIndex {
    pub fn file(&mut self, slot: u32, deadline_ms: u64) {
        // The bucket of the second that ends after the deadline, so draining at `now` never sees it early.
        let bucket = deadline_ms / BUCKET_MS + 1;
        self.buckets.entry(bucket).or_default().push(slot);
        self.records += 1;
    }

    /// Removes and returns the records of every bucket whose second has fully passed at `now_ms`.
    pub fn drain_due(&mut self, now_ms: u64) -> Vec<u32> {
        let later = self.buckets.split_off(&(now_ms / BUCKET_MS + 1));
        let due = std::mem::replace(&mut self.buckets, later);
        let slots: Vec<u32> = due.into_values().flatten().collect();
        self.records -= slots.len();
        slots
    }

    /// Records held, stale ones included; the store rebuilds the index when they far outnumber entries.
    pub fn records(&self) -> usize {
        self.records
    }

    pub fn clear(&mut self) {
        self.buckets.clear();
        self.records = 0;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deadline_is_the_earliest_bound() {
        let now = 1_700_000_000_000;
        assert_eq!(
            deadline_ms(now, 1_700_000_300.5, 1.8e12, None),
            1_700_000_300_500
        );
        assert_eq!(
            deadline_ms(now, 1.8e9, 1_700_000_001_000.0, None),
            1_700_000_001_000
        );
        assert_eq!(deadline_ms(now, 1.8e9, 1.8e12, Some(60_000)), now + 60_000);
    }

    #[test]
    fn fractional_seconds_round_towards_an_earlier_deadline() {
        assert_eq!(deadline_ms(0, 1.0009, 1e12, None), 1000);
        assert_eq!(deadline_ms(0, 10.0, 5000.9, None), 5000);
    }

    #[test]
    fn nonsense_bounds_mean_already_expired() {
        assert_eq!(deadline_ms(5, f64::NAN, 1e12, None), 0);
        assert_eq!(deadline_ms(5, -3.0, 1e12, None), 0);
        assert_eq!(deadline_ms(5, 1e12, f64::NEG_INFINITY, None), 0);
        assert_eq!(deadline_ms(u64::MAX - 1, 1e30, 1e30, Some(10)), u64::MAX);
    }

    #[test]
    fn drains_only_buckets_whose_second_has_passed() {
        let mut index = DeadlineIndex::default();
        index.file(1, 1_500);
        index.file(2, 2_000);
        index.file(3, 9_999);
        assert!(index.drain_due(1_999).is_empty());
        assert_eq!(index.drain_due(2_000), vec![1]);
        assert_eq!(index.drain_due(3_000), vec![2]);
        assert_eq!(index.records(), 1);
        assert_eq!(index.drain_due(u64::MAX), vec![3]);
        assert_eq!(index.records(), 0);
    }
}
