//! Victim choice: CLOCK, an approximated LRU. Each cached key owns a slot in a ring; a hit sets the
//! slot's reference bit (in the generation table) without any lock; to make room the hand sweeps the ring, clearing set bits
//! (a second chance) and evicting the first slot whose bit is clear. Pure data structures: the store
//! decides what "a hit" and "must go" mean.

use crate::generation::SlotTable;

/// What the store says of the key under the hand.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Dead already (expired, cleared): take it without a second chance.
    Dead,
    /// Alive: evict unless recently referenced.
    Alive,
    /// Never evict now (the key being written).
    Keep,
}

/// Slots of cached keys and the clock hand. Not thread-safe: the store holds it under its writer lock.
pub struct ClockRing<K> {
    keys: Vec<Option<K>>,
    free: Vec<u32>,
    hand: usize,
    capacity: usize,
    len: usize,
}

impl<K> ClockRing<K> {
    pub fn with_capacity(capacity: usize) -> Self {
        Self {
            keys: Vec::new(),
            free: Vec::new(),
            hand: 0,
            capacity,
            len: 0,
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// Number of slot positions in use so far (occupied or free); sweeps walk `0..span()`.
    pub fn span(&self) -> usize {
        self.keys.len()
    }

    /// Gives `key` a slot with a clear reference bit, or `None` when every slot is taken.
    pub fn insert(&mut self, key: K, table: &SlotTable) -> Option<u32> {
        let slot = match self.free.pop() {
            Some(slot) => slot,
            None if self.keys.len() < self.capacity => {
                self.keys.push(None);
                u32::try_from(self.keys.len() - 1).ok()?
            }
            None => return None,
        };
        self.keys[slot as usize] = Some(key);
        table.claim(slot);
        self.len += 1;
        Some(slot)
    }

    pub fn key(&self, slot: u32) -> Option<&K> {
        self.keys.get(slot as usize).and_then(Option::as_ref)
    }

    pub fn remove(&mut self, slot: u32) -> Option<K> {
        let key = self.keys.get_mut(slot as usize)?.take()?;
        self.free.push(slot);
        self.len -= 1;
        Some(key)
    }

    /// Advances the hand to the next victim and returns its slot (still occupied: the caller removes it).
    /// Two full turns always suffice, since the first clears every bit it passes.
    pub fn next_victim(
        &mut self,
        table: &SlotTable,
        mut judge: impl FnMut(&K) -> Verdict,
    ) -> Option<u32> {
        let span = self.keys.len();
        if span == 0 {
            return None;
        }
        for _ in 0..2 * span + 1 {
            self.hand = (self.hand + 1) % span;
            let slot = self.hand as u32;
            let Some(key) = self.keys[self.hand].as_ref() else {
                continue;
            };
            match judge(key) {
                Verdict::Keep => continue,
                Verdict::Dead => return Some(slot),
                Verdict::Alive => {
                    if !table.take_reference(slot) {
                        return Some(slot);
                    }
                }
            }
        }
        None
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::collections::{BTreeMap, HashMap};

    /// A cache of `capacity` keys driven by CLOCK, as the store drives it.
    struct ClockCache {
        ring: ClockRing<u64>,
        table: SlotTable,
        slots: HashMap<u64, u32>,
    }

    impl ClockCache {
        fn new(capacity: usize) -> Self {
            Self {
                ring: ClockRing::with_capacity(capacity),
                table: SlotTable::new(capacity),
                slots: HashMap::new(),
            }
        }

        /// Returns whether `key` was a hit; a miss inserts it.
        fn access(&mut self, key: u64) -> bool {
            if let Some(&slot) = self.slots.get(&key) {
                self.table.touch(slot);
                return true;
            }
            let slot = match self.ring.insert(key, &self.table) {
                Some(slot) => slot,
                None => {
                    let victim = self
                        .ring
                        .next_victim(&self.table, |_| Verdict::Alive)
                        .unwrap();
                    let old = self.ring.remove(victim).unwrap();
                    self.slots.remove(&old);
                    self.ring.insert(key, &self.table).unwrap()
                }
            };
            self.slots.insert(key, slot);
            false
        }
    }

    /// An exact LRU: last-use tick per key, and keys ordered by tick.
    struct ExactLru {
        capacity: usize,
        tick: u64,
        last_use: HashMap<u64, u64>,
        by_tick: BTreeMap<u64, u64>,
    }

    impl ExactLru {
        fn new(capacity: usize) -> Self {
            Self {
                capacity,
                tick: 0,
                last_use: HashMap::new(),
                by_tick: BTreeMap::new(),
            }
        }

        fn access(&mut self, key: u64) -> bool {
            self.tick += 1;
            let hit = if let Some(old) = self.last_use.insert(key, self.tick) {
                self.by_tick.remove(&old);
                true
            } else {
                false
            };
            self.by_tick.insert(self.tick, key);
            if self.last_use.len() > self.capacity {
                let (&oldest, &victim) = self.by_tick.iter().next().unwrap();
                self.by_tick.remove(&oldest);
                self.last_use.remove(&victim);
            }
            hit
        }
    }

    /// A Zipf(s) sampler over `n` keys by inverse CDF, with a seeded xorshift so the trace is fixed.
    fn zipf_trace(n: usize, s: f64, len: usize, mut seed: u64) -> Vec<u64> {
        let weights: Vec<f64> = (1..=n).map(|k| 1.0 / (k as f64).powf(s)).collect();
        let total: f64 = weights.iter().sum();
        let mut cdf = Vec::with_capacity(n);
        let mut acc = 0.0;
        for w in weights {
            acc += w / total;
            cdf.push(acc);
        }
        (0..len)
            .map(|_| {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                let u = (seed >> 11) as f64 / (1u64 << 53) as f64;
                // Scatter ranks so that key order says nothing of popularity.
                let rank = cdf.partition_point(|&c| c < u).min(n - 1) as u64;
                rank.wrapping_mul(0x9E37_79B9_7F4A_7C15)
            })
            .collect()
    }

    fn hit_ratio(trace: &[u64], mut access: impl FnMut(u64) -> bool) -> f64 {
        let hits = trace.iter().filter(|&&k| access(k)).count();
        hits as f64 / trace.len() as f64
    }

    #[test]
    fn clock_hit_ratio_is_close_to_exact_lru_on_a_zipf_trace() {
        let trace = zipf_trace(100_000, 0.9, 1_000_000, 0x5EED);
        for capacity in [1_000, 10_000] {
            let mut clock = ClockCache::new(capacity);
            let mut lru = ExactLru::new(capacity);
            let clock_ratio = hit_ratio(&trace, |k| clock.access(k));
            let lru_ratio = hit_ratio(&trace, |k| lru.access(k));
            println!(
                "zipf(0.9) over 100k keys, 1M accesses, capacity {capacity}: CLOCK {:.4}, exact LRU {:.4}",
                clock_ratio, lru_ratio
            );
            assert!(clock.ring.len() <= capacity);
            assert!(
                clock_ratio >= lru_ratio - 0.02,
                "CLOCK {clock_ratio} fell more than 2 points below LRU {lru_ratio}"
            );
        }
    }

    #[test]
    fn a_referenced_slot_gets_a_second_chance() {
        let table = SlotTable::new(3);
        let mut ring = ClockRing::with_capacity(3);
        let a = ring.insert("a", &table).unwrap();
        let b = ring.insert("b", &table).unwrap();
        ring.insert("c", &table).unwrap();
        assert_eq!(ring.insert("d", &table), None, "the ring is full");
        table.touch(a);
        table.touch(b);
        let victim = ring.next_victim(&table, |_| Verdict::Alive).unwrap();
        assert_eq!(ring.key(victim), Some(&"c"));
    }

    #[test]
    fn dead_keys_go_first_and_kept_keys_never() {
        let table = SlotTable::new(3);
        let mut ring = ClockRing::with_capacity(3);
        for k in ["a", "b", "c"] {
            let slot = ring.insert(k, &table).unwrap();
            table.touch(slot);
        }
        let victim = ring
            .next_victim(&table, |k| {
                if *k == "b" {
                    Verdict::Dead
                } else {
                    Verdict::Alive
                }
            })
            .unwrap();
        assert_eq!(ring.key(victim), Some(&"b"));
        assert_eq!(ring.next_victim(&table, |_| Verdict::Keep), None);
    }

    #[test]
    fn freed_slots_are_reused_and_counted() {
        let table = SlotTable::new(2);
        let mut ring = ClockRing::with_capacity(2);
        let a = ring.insert(1, &table).unwrap();
        ring.insert(2, &table).unwrap();
        assert_eq!(ring.remove(a), Some(1));
        assert_eq!(ring.remove(a), None);
        assert_eq!(ring.len(), 1);
        assert_eq!(ring.insert(3, &table), Some(a));
        assert_eq!(ring.span(), 2);
    }
}
