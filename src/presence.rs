//! How many stored keys fall in each bucket of a fingerprint of their last characters: a zero
//! proves a key absent. JS reads the counts through an ArrayBuffer over this very memory, so a
//! `get` of a session the store does not hold (a miss) is answered without a call into Rust.
//!
//! The fingerprint mixes the key's last [`FINGERPRINT_CHARS`] bytes (FNV-1a, 32 bits), which JS can
//! compute from a token's last characters with `charCodeAt` when they are ASCII (then characters and
//! UTF-8 bytes are the same; JS skips the check otherwise). Tokens are random, so their tails
//! spread evenly; a colliding tail only costs the store lookup the check would have saved.
//!
//! Ordering: a count is raised before its key is inserted and lowered after it is removed (both
//! under the store's writer lock), so a reader that sees zero after a `set` returned cannot exist;
//! a reader may see a count for a key already gone, and then asks the store. A count that reaches
//! 255 stays there (it can no longer be lowered exactly): that bucket always asks the store.

use std::sync::atomic::{AtomicU8, Ordering};

/// How many trailing bytes of a key the fingerprint mixes (6 hex characters: 16.7M tails).
pub const FINGERPRINT_CHARS: usize = 6;
const FNV_OFFSET: u32 = 0x811c_9dc5;
const FNV_PRIME: u32 = 0x0100_0193;
/// Buckets per entry the store may hold: at most one bucket in eight is in use.
const BUCKETS_PER_ENTRY: usize = 8;
const MIN_BUCKETS: usize = 1 << 12;
/// 16 MiB at most, whatever `maxEntries` says.
const MAX_BUCKETS: usize = 1 << 24;
const SATURATED: u8 = u8::MAX;

pub struct Presence {
    counts: Box<[AtomicU8]>,
    mask: u32,
}

/// The bucket-independent fingerprint of `key` (its last FINGERPRINT_CHARS bytes; fewer for a
/// shorter key). `lib/near-cache.js` computes the same from a token's characters.
pub fn fingerprint(key: &[u8]) -> u32 {
    let tail = &key[key.len().saturating_sub(FINGERPRINT_CHARS)..];
    let mut hash = FNV_OFFSET;
    for &byte in tail {
        hash = (hash ^ u32::from(byte)).wrapping_mul(FNV_PRIME);
    }
    hash ^ (hash >> 15)
}

impl Presence {
    /// Counts for a store of up to `max_entries` keys.
    pub fn new(max_entries: usize) -> Self {
        let buckets = max_entries
            .saturating_mul(BUCKETS_PER_ENTRY)
            .clamp(MIN_BUCKETS, MAX_BUCKETS)
            .next_power_of_two();
        // Zeroed by the allocator (calloc): pages of buckets never counted in cost no memory.
        let zeroed: Box<[u8]> = vec![0u8; buckets].into_boxed_slice();
        // SAFETY: AtomicU8 has the same size, alignment and bit validity as u8.
        let counts = unsafe { Box::from_raw(Box::into_raw(zeroed) as *mut [AtomicU8]) };
        Self {
            counts,
            mask: (buckets - 1) as u32,
        }
    }

    #[inline]
    fn count(&self, key: &str) -> &AtomicU8 {
        // In bounds: the mask is the length minus one, a power of two.
        &self.counts[(fingerprint(key.as_bytes()) & self.mask) as usize]
    }

    /// A key is about to be inserted.
    pub fn add(&self, key: &str) {
        let _ = self
            .count(key)
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                if n < SATURATED {
                    Some(n + 1)
                } else {
                    None
                }
            });
    }

    /// A key has been removed.
    pub fn remove(&self, key: &str) {
        let _ = self
            .count(key)
            .fetch_update(Ordering::SeqCst, Ordering::SeqCst, |n| {
                if n > 0 && n < SATURATED {
                    Some(n - 1)
                } else {
                    None
                }
            });
    }

    /// False only if no stored key has `key`'s fingerprint.
    pub fn may_hold(&self, key: &str) -> bool {
        self.count(key).load(Ordering::SeqCst) != 0
    }

    /// The counts' memory, for the binding to expose to JS; valid as long as `self` lives.
    pub fn as_bytes_ptr(&self) -> (*mut u8, usize) {
        (self.counts.as_ptr() as *mut u8, self.counts.len())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn counts_follow_adds_and_removes() {
        let presence = Presence::new(10);
        assert!(!presence.may_hold("abc123"));
        presence.add("abc123");
        presence.add("xyzabc123"); // the same last six bytes: the same bucket
        assert!(presence.may_hold("abc123"));
        presence.remove("abc123");
        assert!(presence.may_hold("zzzabc123"));
        presence.remove("xyzabc123");
        assert!(!presence.may_hold("abc123"));
        // Never below zero.
        presence.remove("abc123");
        presence.add("abc123");
        assert!(presence.may_hold("abc123"));
    }

    #[test]
    fn a_saturated_bucket_stays_saturated() {
        let presence = Presence::new(10);
        for _ in 0..300 {
            presence.add("same-tail");
        }
        for _ in 0..300 {
            presence.remove("same-tail");
        }
        assert!(presence.may_hold("same-tail"));
    }

    #[test]
    fn sized_by_max_entries_within_bounds() {
        assert_eq!(Presence::new(1).counts.len(), MIN_BUCKETS);
        assert_eq!(Presence::new(1000).counts.len(), 8192);
        assert_eq!(Presence::new(100_000).counts.len(), 1 << 20);
        assert_eq!(Presence::new(1 << 27).counts.len(), MAX_BUCKETS);
    }

    #[test]
    fn fingerprint_uses_only_the_tail() {
        assert_eq!(fingerprint(b"xxxxabcdef"), fingerprint(b"yyabcdef"));
        assert_ne!(fingerprint(b"abcdef"), fingerprint(b"abcdeg"));
        // Known values, the same in lib/near-cache.js's test.
        assert_eq!(fingerprint(b""), FNV_OFFSET ^ (FNV_OFFSET >> 15));
    }
}
