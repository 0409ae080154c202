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

/// One filing of a slot. Only the slot's newest filing is current: an overwrite with another
/// deadline, or the slot's reuse by another entry, leaves the older record stale.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Record {
    slot: u32,
    filing: u32,
}

/// Slots filed by the second in which they expire, worked in bounded steps: draining and compacting
/// each touch at most the number of records they are given, so the writer lock they run under is
/// never held for long whatever the store's size. A current record is a hint, not a fact (the entry
/// may have been deleted since): whoever drains it re-checks the entry's real deadline.
#[derive(Default)]
pub struct DeadlineIndex {
    buckets: BTreeMap<u64, Vec<Record>>,
    /// Per slot, its newest filing number: odd while that filing's record is current (filed, not
    /// yet drained), even when the slot has no current record.
    filings: Vec<u32>,
    records: usize,
    stale: usize,
    /// Where an unfinished compaction goes on: a bucket and a position in it.
    compaction: Option<(u64, usize)>,
}

impl DeadlineIndex {
    pub fn file(&mut self, slot: u32, deadline_ms: u64) {
        let index = slot as usize;
        if index >= self.filings.len() {
            self.filings.resize(index + 1, 0);
        }
        let filing = &mut self.filings[index];
        if *filing % 2 == 1 {
            // The slot's previous record is now stale.
            self.stale += 1;
            *filing = filing.wrapping_add(2);
        } else {
            *filing = filing.wrapping_add(1);
        }
        // The bucket of the second that ends after the deadline, so draining at `now` never sees it early.
        let bucket = deadline_ms / BUCKET_MS + 1;
        self.buckets.entry(bucket).or_default().push(Record {
            slot,
            filing: *filing,
        });
        self.records += 1;
    }

    fn is_current(&self, record: Record) -> bool {
        self.filings.get(record.slot as usize) == Some(&record.filing)
    }

    /// Removes up to `max` records of buckets whose second has fully passed at `now_ms`, and returns
    /// the slots of the current ones (stale records count towards `max` and are dropped). The bool
    /// says whether due records are left for another call.
    pub fn drain_due(&mut self, now_ms: u64, max: usize) -> (Vec<u32>, bool) {
        let mut slots = Vec::new();
        let mut taken = 0;
        while taken < max {
            let Some(mut bucket) = self.buckets.first_entry() else {
                break;
            };
            if *bucket.key() > now_ms / BUCKET_MS {
                break;
            }
            let records = bucket.get_mut();
            let keep = records.len().saturating_sub(max - taken);
            let drained = records.split_off(keep);
            if records.is_empty() {
                let key = *bucket.key();
                bucket.remove();
                if self.compaction.is_some_and(|(at, _)| at == key) {
                    self.compaction = None;
                }
            }
            taken += drained.len();
            self.records -= drained.len();
            for record in drained {
                if self.is_current(record) {
                    // Drained: the slot has no current record any more.
                    self.filings[record.slot as usize] = record.filing.wrapping_add(1);
                    slots.push(record.slot);
                } else {
                    self.stale -= 1;
                }
            }
        }
        let more = self
            .buckets
            .first_key_value()
            .is_some_and(|(&key, _)| key <= now_ms / BUCKET_MS);
        (slots, more)
    }

    /// Whether stale records (left by overwrites with another deadline) far outnumber current ones.
    pub fn needs_compaction(&self) -> bool {
        self.stale > self.records - self.stale + 1024
    }

    /// Drops up to `max` records' worth of stale records, going on where the last call stopped.
    /// Returns true when a whole pass has finished.
    pub fn compact(&mut self, max: usize) -> bool {
        let mut examined = 0;
        let (mut key, mut position) = match self.compaction {
            Some(at) => at,
            None => match self.buckets.first_key_value() {
                Some((&key, _)) => (key, 0),
                None => return true,
            },
        };
        loop {
            let filings = &self.filings;
            let Some(records) = self.buckets.get_mut(&key) else {
                // The bucket was drained meanwhile: go on with the next.
                match self.buckets.range(key..).next() {
                    Some((&next, _)) => {
                        (key, position) = (next, 0);
                        continue;
                    }
                    None => break,
                }
            };
            while position < records.len() && examined < max {
                examined += 1;
                let record = records[position];
                if filings.get(record.slot as usize) == Some(&record.filing) {
                    position += 1;
                } else {
                    records.swap_remove(position);
                    self.records -= 1;
                    self.stale -= 1;
                }
            }
            if position < records.len() {
                self.compaction = Some((key, position));
                return false;
            }
            if records.is_empty() {
                self.buckets.remove(&key);
            }
            match self.buckets.range(key + 1..).next() {
                Some((&next, _)) if examined < max => (key, position) = (next, 0),
                Some((&next, _)) => {
                    self.compaction = Some((next, 0));
                    return false;
                }
                None => break,
            }
        }
        self.compaction = None;
        true
    }

    /// Records held, stale ones included.
    pub fn records(&self) -> usize {
        self.records
    }

    /// Records left stale by overwrites, not yet dropped.
    pub fn stale(&self) -> usize {
        self.stale
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
        assert_eq!(index.drain_due(1_999, 100), (vec![], false));
        assert_eq!(index.drain_due(2_000, 100), (vec![1], false));
        assert_eq!(index.drain_due(3_000, 100), (vec![2], false));
        assert_eq!(index.records(), 1);
        assert_eq!(index.drain_due(u64::MAX, 100), (vec![3], false));
        assert_eq!(index.records(), 0);
    }

    #[test]
    fn drains_at_most_max_records_per_call() {
        let mut index = DeadlineIndex::default();
        for slot in 0..10_000 {
            index.file(slot, 5_000);
        }
        let mut drained = Vec::new();
        let mut calls = 0;
        loop {
            let (slots, more) = index.drain_due(10_000, 4096);
            assert!(slots.len() <= 4096);
            drained.extend(slots);
            calls += 1;
            if !more {
                break;
            }
        }
        assert_eq!(calls, 3);
        drained.sort_unstable();
        assert_eq!(drained, (0..10_000).collect::<Vec<_>>());
        assert_eq!((index.records(), index.stale()), (0, 0));
    }

    #[test]
    fn only_the_newest_filing_of_a_slot_is_drained() {
        let mut index = DeadlineIndex::default();
        // Overwritten three times, twice into the same second and once later.
        index.file(7, 1_500);
        index.file(7, 1_600);
        index.file(7, 9_000);
        index.file(8, 1_500);
        assert_eq!((index.records(), index.stale()), (4, 2));
        assert_eq!(index.drain_due(5_000, 100), (vec![8], false));
        assert_eq!((index.records(), index.stale()), (1, 0));
        assert_eq!(index.drain_due(10_000, 100), (vec![7], false));
        // A slot drained and filed again is current again.
        index.file(7, 20_000);
        assert_eq!(index.drain_due(30_000, 100), (vec![7], false));
    }

    #[test]
    fn compaction_drops_stale_records_in_bounded_steps() {
        let mut index = DeadlineIndex::default();
        for round in 0..100u64 {
            for slot in 0..100 {
                index.file(slot, 1_000_000 + round * 1_000 + u64::from(slot));
            }
        }
        assert_eq!((index.records(), index.stale()), (10_000, 9_900));
        assert!(index.needs_compaction());
        let mut steps = 0;
        while !index.compact(512) {
            steps += 1;
            // Filing and draining may happen between steps.
            index.file(100 + steps, 2_000_000);
        }
        assert!(steps >= 10_000 / 512 - 1);
        assert_eq!(index.stale(), 0);
        assert_eq!(index.records(), 100 + steps as usize);
        assert!(!index.needs_compaction());
        let (mut slots, _) = index.drain_due(u64::MAX, usize::MAX);
        slots.sort_unstable();
        assert_eq!(slots, (0..100).chain(101..=100 + steps).collect::<Vec<_>>());
    }
}
