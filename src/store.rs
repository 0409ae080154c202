//! The shared store: encoded sessions in a concurrent map, bounded in entries and bytes.
//!
//! Reads (`get_with`) take only a dashmap shard read lock and set a reference bit. Every write (set,
//! delete, eviction, expiry, reclaim) runs under one writer lock, which keeps the map, the CLOCK ring,
//! the deadline index and the byte count consistent with each other; Vendure writes a session far
//! less often than it reads one. `clear()` only bumps an epoch: entries stamped with an older epoch
//! are dead at once, and the sweeper frees them later.
//!
//! **Fills are fenced by writes.** A value read from a slower layer (Redis) may only enter the store
//! if no write of its key and no `clear()` happened since the read was sent: take a [`FillTicket`]
//! before sending the read, then [`Store::fill`] checks it under the writer lock. Every `set`,
//! `delete` and `reject` advances the key's fence stripe under that lock, and a fill stamps its
//! entry with the epoch of the ticket, so a `clear()` after the ticket leaves it dead at once.

use crate::counters::StripedCounter;
use crate::expiry::{deadline_ms, DeadlineIndex};
use crate::generation::SlotTable;
use crate::policy::{ClockRing, Verdict};
use crate::presence::Presence;
use crate::time::TimeSource;
use dashmap::DashMap;
use std::sync::atomic::{AtomicU32, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};

/// Bytes charged per entry on top of its token and encoded session: the map bucket, the key and value
/// allocations, the ring slot, the reference bit and the deadline record. Measured by
/// `cargo run --release --example entry_overhead`: 156-196 B with 64-char tokens, depending on where
/// the map is in its growth; rounded up.
pub const ENTRY_OVERHEAD_BYTES: usize = 200;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreConfig {
    pub max_entries: usize,
    pub max_bytes: usize,
    /// The largest single entry (token + encoded session + overhead) worth caching, so that one
    /// giant session cannot evict the whole cache.
    pub max_entry_bytes: usize,
    pub ttl_ms: Option<u64>,
}

impl Default for StoreConfig {
    fn default() -> Self {
        Self {
            max_entries: 100_000,
            max_bytes: 256 << 20,
            max_entry_bytes: 1 << 20,
            ttl_ms: None,
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    Stored,
    /// The deadline had already passed: nothing stored, any older entry for the token removed.
    AlreadyExpired,
    /// The entry alone exceeds `max_entry_bytes` or `max_bytes`: nothing stored, any older entry for
    /// the token removed.
    TooLarge,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub hits: u64,
    pub misses: u64,
    pub sets: u64,
    pub deletes: u64,
    pub rejected: u64,
    pub evictions: u64,
    pub expirations: u64,
    pub clears: u64,
    /// Entries overwritten by a later `set` of the same token.
    pub replaced: u64,
    /// Entries made dead by `clear()` and freed since.
    pub reclaimed: u64,
    /// Entries dropped because a newer `set` of their token could not be stored (rejected, too large,
    /// already expired).
    pub dropped: u64,
    pub entries: u64,
    pub bytes: u64,
}

impl Stats {
    /// Every stored entry is either still held or left exactly one way: `sets` equals this.
    pub fn accounted_sets(&self) -> u64 {
        self.entries
            + self.evictions
            + self.expirations
            + self.deletes
            + self.replaced
            + self.reclaimed
            + self.dropped
    }
}

/// Fence stripes: a write advances the stripe its key hashes to; two keys sharing a stripe only cost
/// a spurious refusal of a fill.
const FENCE_STRIPES: usize = 4096;

/// What a fill must find unchanged: the key's fence stripe and the epoch, read before the read of
/// the slower layer was sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FillTicket {
    stripe: usize,
    fence: u64,
    clear_generation: u64,
    epoch: u32,
}

/// Where a set placed its entry: what a near cache needs to serve the very object that was set,
/// until the entry stops being current (the same fields as a [`Hit`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Placement {
    pub slot: u32,
    pub generation: u32,
    pub epoch: u32,
    pub deadline_ms: u64,
}

/// A live entry as `get_with` shows it: the encoded session, and what a near cache needs to know
/// when a copy it decoded stops being current.
pub struct Hit<'a> {
    pub value: &'a [u8],
    pub slot: u32,
    pub generation: u32,
    pub epoch: u32,
    pub deadline_ms: u64,
}

type Key = Arc<str>;

struct Entry {
    value: Box<[u8]>,
    deadline_ms: u64,
    epoch: u32,
    slot: u32,
}

impl Entry {
    fn charge(&self, key: &str) -> usize {
        charge(key.len(), self.value.len())
    }
}

fn charge(key_len: usize, value_len: usize) -> usize {
    key_len + value_len + ENTRY_OVERHEAD_BYTES
}

/// Why an entry left the store, for the counters.
#[derive(Clone, Copy)]
enum Removal {
    Deleted,
    Rejected,
    Evicted,
    /// Expired or made dead by `clear()`.
    Dead,
    /// Removed because its replacement could not be stored.
    Superseded,
}

struct Writer {
    ring: ClockRing<Key>,
    deadlines: DeadlineIndex,
    bytes: usize,
    /// The epoch when the reclaim pass under way started: entries dead by then are freed by its end.
    reclaim_pass_epoch: u32,
}

#[derive(Default)]
struct Counters {
    hits: StripedCounter,
    misses: StripedCounter,
    sets: AtomicU64,
    deletes: AtomicU64,
    rejected: AtomicU64,
    evictions: AtomicU64,
    expirations: AtomicU64,
    clears: AtomicU64,
    replaced: AtomicU64,
    reclaimed: AtomicU64,
    dropped: AtomicU64,
}

fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

pub struct Store {
    config: StoreConfig,
    map: DashMap<Key, Entry, ahash::RandomState>,
    /// Shared with the ArrayBuffers near caches read, which may outlive the store until GC.
    table: Arc<SlotTable>,
    /// Per-fingerprint key counts JS reads to answer misses without a call (see presence.rs).
    presence: Arc<Presence>,
    writer: Mutex<Writer>,
    /// Mirrors of the writer's figures, readable without its lock.
    bytes: AtomicUsize,
    entries: AtomicUsize,
    /// The epoch every entry dead before it has been freed through (see `reclaim`): while it trails the
    /// table's epoch, a `clear()` left dead entries resident.
    reclaimed_epoch: AtomicU32,
    counters: Counters,
    time: Arc<dyn TimeSource>,
    /// Advanced by every write of a key hashing to the stripe (see [`FillTicket`]).
    fences: Box<[AtomicU64]>,
    /// Writes of a key hashing to the stripe still on their way to a slower layer: its answers may
    /// predate them, so no fill of the stripe is stored meanwhile.
    pending: Box<[AtomicU64]>,
    /// Clears still on their way to a slower layer: no fill at all meanwhile.
    clears_pending: AtomicU64,
    /// Advanced when such a clear starts and when it settles: a fill whose read was sent before
    /// either is refused.
    clear_generation: AtomicU64,
}

impl Store {
    pub fn new(config: StoreConfig, time: Arc<dyn TimeSource>) -> Self {
        Self {
            config,
            map: DashMap::with_hasher(ahash::RandomState::new()),
            table: Arc::new(SlotTable::new(config.max_entries)),
            presence: Arc::new(Presence::new(config.max_entries)),
            writer: Mutex::new(Writer {
                ring: ClockRing::with_capacity(config.max_entries),
                deadlines: DeadlineIndex::default(),
                bytes: 0,
                reclaim_pass_epoch: 0,
            }),
            bytes: AtomicUsize::new(0),
            entries: AtomicUsize::new(0),
            reclaimed_epoch: AtomicU32::new(0),
            counters: Counters::default(),
            time,
            fences: (0..FENCE_STRIPES).map(|_| AtomicU64::new(0)).collect(),
            pending: (0..FENCE_STRIPES).map(|_| AtomicU64::new(0)).collect(),
            clears_pending: AtomicU64::new(0),
            clear_generation: AtomicU64::new(0),
        }
    }

    pub fn config(&self) -> StoreConfig {
        self.config
    }

    fn lock_writer(&self) -> MutexGuard<'_, Writer> {
        // Nothing under this lock panics by design; if something ever did, its state is still
        // consistent between statements, so carry on rather than poison every later call.
        self.writer
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    fn is_dead(&self, entry: &Entry, now_ms: u64, epoch: u32) -> bool {
        entry.epoch != epoch || entry.deadline_ms <= now_ms
    }

    /// Calls `read` with the encoded session if `key` holds a live entry.
    pub fn get_with<R>(&self, key: &str, read: impl FnOnce(Hit<'_>) -> R) -> Option<R> {
        // The clock is read only when there is an entry to check: misses are common and cheap.
        let dead_at = match self.map.get(key) {
            None => None,
            Some(entry) => {
                let now = self.time.now_ms();
                if self.is_dead(&entry, now, self.table.epoch()) {
                    Some(now)
                } else {
                    self.table.touch(entry.slot);
                    self.counters.hits.incr();
                    // Read while the guard is held: see generation.rs on ordering.
                    return Some(read(Hit {
                        value: &entry.value,
                        slot: entry.slot,
                        generation: self.table.generation(entry.slot),
                        epoch: entry.epoch,
                        deadline_ms: entry.deadline_ms,
                    }));
                }
            }
        };
        self.counters.misses.incr();
        if let Some(now) = dead_at {
            // Free it now if no writer is busy; otherwise the sweeper will.
            if let Ok(mut writer) = self.writer.try_lock() {
                self.remove_if_dead(&mut writer, key, now);
            }
        }
        None
    }

    /// Counts hits answered by a near cache, which never reach the store.
    pub fn add_hits(&self, n: u64) {
        self.counters.hits.add(n);
    }

    /// The generation table that near caches check.
    pub fn slot_table(&self) -> &Arc<SlotTable> {
        &self.table
    }

    /// The per-fingerprint key counts that answer misses in JS.
    pub fn presence(&self) -> &Arc<Presence> {
        &self.presence
    }

    /// Counts misses answered without reaching the store (by its presence counts).
    pub fn add_misses(&self, n: u64) {
        self.counters.misses.add(n);
    }

    pub fn set(
        &self,
        key: &str,
        value: Box<[u8]>,
        cache_expiry_s: f64,
        expires_ms: f64,
    ) -> SetOutcome {
        self.set_placed(key, value, cache_expiry_s, expires_ms).0
    }

    /// As [`set`](Self::set); when stored, also where (read under the writer lock, so the
    /// generation is the one this write left).
    pub fn set_placed(
        &self,
        key: &str,
        value: Box<[u8]>,
        cache_expiry_s: f64,
        expires_ms: f64,
    ) -> (SetOutcome, Option<Placement>) {
        self.place(key, value, cache_expiry_s, expires_ms, false)
    }

    /// A set whose write to a slower layer follows (the caller then writes it there, which settles it
    /// with [`end_write`](Self::end_write)): stored, and the key's write marked pending, in one hold of
    /// the writer lock, so that no read of the older value sent meanwhile, by any thread, fills it back.
    pub fn set_placed_then_write(
        &self,
        key: &str,
        value: Box<[u8]>,
        cache_expiry_s: f64,
        expires_ms: f64,
    ) -> (SetOutcome, Option<Placement>) {
        self.place(key, value, cache_expiry_s, expires_ms, true)
    }

    fn place(
        &self,
        key: &str,
        value: Box<[u8]>,
        cache_expiry_s: f64,
        expires_ms: f64,
        write_follows: bool,
    ) -> (SetOutcome, Option<Placement>) {
        let now = self.time.now_ms();
        let deadline = deadline_ms(now, cache_expiry_s, expires_ms, self.config.ttl_ms);
        let mut writer = self.lock_writer();
        self.advance_fence(key);
        if write_follows {
            self.mark_write_pending(key);
        }
        match self.put(&mut writer, key, value, deadline, now, self.table.epoch()) {
            Ok(placement) => (SetOutcome::Stored, Some(placement)),
            Err(outcome) => (outcome, None),
        }
    }

    /// A delete whose write to a slower layer follows: removed, and the write marked pending, in one
    /// hold of the writer lock (see [`set_placed_then_write`](Self::set_placed_then_write)).
    pub fn delete_then_write(&self, key: &str) -> bool {
        let mut writer = self.lock_writer();
        self.advance_fence(key);
        self.mark_write_pending(key);
        self.remove(&mut writer, key, Removal::Deleted)
    }

    /// A refusal whose delete in a slower layer follows, as [`delete_then_write`](Self::delete_then_write).
    pub fn reject_then_write(&self, key: &str) {
        let mut writer = self.lock_writer();
        self.advance_fence(key);
        self.mark_write_pending(key);
        self.remove(&mut writer, key, Removal::Rejected);
        bump(&self.counters.rejected);
    }

    /// A clear whose clear of a slower layer follows (settled by [`end_clear`](Self::end_clear)):
    /// every entry dead, and every fill refused until then, and every fill whose read was sent before
    /// then refused after it too (the slower layer may have answered it from before its clear).
    pub fn clear_then_write(&self) {
        let _writer = self.lock_writer();
        self.clears_pending.fetch_add(1, Ordering::AcqRel);
        self.clear_generation.fetch_add(1, Ordering::AcqRel);
        self.table.advance_epoch();
        bump(&self.counters.clears);
    }

    /// The slower layer's clear took effect (or was given up on, its layers flushed): reads sent from
    /// now on may fill again, reads sent before stay refused.
    pub fn end_clear(&self) {
        let _writer = self.lock_writer();
        self.clear_generation.fetch_add(1, Ordering::AcqRel);
        // Saturating: an end without a begin (a tier outliving a reopened store) must not wrap.
        let _ = self
            .clears_pending
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Called under the writer lock, with the write it fences.
    fn mark_write_pending(&self, key: &str) {
        self.pending[self.stripe_of(key)].fetch_add(1, Ordering::AcqRel);
    }

    fn stripe_of(&self, key: &str) -> usize {
        (self.map.hasher().hash_one(key) as usize) % FENCE_STRIPES
    }

    /// Called under the writer lock by every write of `key`.
    fn advance_fence(&self, key: &str) {
        self.fences[self.stripe_of(key)].fetch_add(1, Ordering::AcqRel);
    }

    /// That write has landed (or was given up on): fills whose read was sent before now stay
    /// refused, later ones may be stored.
    pub fn end_write(&self, key: &str) {
        let stripe = self.stripe_of(key);
        let _writer = self.lock_writer();
        self.fences[stripe].fetch_add(1, Ordering::AcqRel);
        // Saturating: an end without a begin (a tier outliving a reopened store) must not wrap.
        let _ = self.pending[stripe]
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1));
    }

    /// Take this before sending the read whose answer may [`fill`](Self::fill) `key`.
    pub fn fill_ticket(&self, key: &str) -> FillTicket {
        let stripe = self.stripe_of(key);
        // The fence before the epoch: a clear between the two only makes the fill dead.
        let fence = self.fences[stripe].load(Ordering::Acquire);
        FillTicket {
            stripe,
            fence,
            clear_generation: self.clear_generation.load(Ordering::Acquire),
            epoch: self.table.epoch(),
        }
    }

    /// Stores a value read from a slower layer until `deadline_ms`, unless `key` was written
    /// (set, delete, reject) since `ticket` was taken; a `clear()` since then leaves the entry dead.
    /// Returns whether it was stored.
    pub fn fill(&self, key: &str, value: Box<[u8]>, deadline_ms: u64, ticket: FillTicket) -> bool {
        let now = self.time.now_ms();
        let mut writer = self.lock_writer();
        if self.fences[ticket.stripe].load(Ordering::Acquire) != ticket.fence
            || self.pending[ticket.stripe].load(Ordering::Acquire) != 0
            || self.clears_pending.load(Ordering::Acquire) != 0
            || self.clear_generation.load(Ordering::Acquire) != ticket.clear_generation
            || self.table.epoch() != ticket.epoch
            || self.stripe_of(key) != ticket.stripe
        {
            return false;
        }
        // Not a write of the key: other fills of it may go on.
        self.put(&mut writer, key, value, deadline_ms, now, ticket.epoch)
            .is_ok()
    }

    fn put(
        &self,
        writer: &mut MutexGuard<'_, Writer>,
        key: &str,
        value: Box<[u8]>,
        deadline: u64,
        now: u64,
        epoch: u32,
    ) -> Result<Placement, SetOutcome> {
        let cost = charge(key.len(), value.len());
        if deadline <= now {
            self.remove(writer, key, Removal::Superseded);
            return Err(SetOutcome::AlreadyExpired);
        }
        if cost > self.config.max_bytes.min(self.config.max_entry_bytes) {
            self.remove(writer, key, Removal::Superseded);
            bump(&self.counters.rejected);
            return Err(SetOutcome::TooLarge);
        }
        let existing = self.map.get(key).map(|e| (e.slot, e.charge(key)));
        let replaced_cost = existing.map_or(0, |(_, c)| c);
        let new_entries = usize::from(existing.is_none());
        while writer.ring.len() + new_entries > self.config.max_entries
            || writer.bytes - replaced_cost + cost > self.config.max_bytes
        {
            if !self.evict_one(writer, key, now) {
                // Unreachable while the bounds are consistent; refuse rather than exceed them.
                self.remove(writer, key, Removal::Superseded);
                return Err(SetOutcome::TooLarge);
            }
        }
        let (slot, key) = match existing {
            Some((slot, _)) => match writer.ring.key(slot) {
                Some(key) => (slot, Arc::clone(key)),
                None => return Err(SetOutcome::TooLarge),
            },
            None => {
                let key: Key = Arc::from(key);
                match writer.ring.insert(Arc::clone(&key), &self.table) {
                    Some(slot) => {
                        // Counted before it can be found: see presence.rs on ordering.
                        self.presence.add(&key);
                        (slot, key)
                    }
                    None => return Err(SetOutcome::TooLarge),
                }
            }
        };
        let entry = Entry {
            value,
            deadline_ms: deadline,
            epoch,
            slot,
        };
        if self.map.insert(key, entry).is_some() {
            writer.bytes -= replaced_cost;
            self.table.invalidate(slot);
            bump(&self.counters.replaced);
        }
        writer.bytes += cost;
        writer.deadlines.file(slot, deadline);
        self.publish_sizes(writer);
        bump(&self.counters.sets);
        Ok(Placement {
            slot,
            generation: self.table.generation(slot),
            epoch,
            deadline_ms: deadline,
        })
    }

    /// Removes the entry for `key`; returns whether there was one.
    pub fn delete(&self, key: &str) -> bool {
        let mut writer = self.lock_writer();
        self.advance_fence(key);
        self.remove(&mut writer, key, Removal::Deleted)
    }

    /// Drops any entry for a session the caller refused to store, and counts the refusal.
    pub fn reject(&self, key: &str) {
        let mut writer = self.lock_writer();
        self.advance_fence(key);
        self.remove(&mut writer, key, Removal::Rejected);
        bump(&self.counters.rejected);
    }

    /// Counts a refused session that never had an entry to drop.
    pub fn count_rejection(&self) {
        bump(&self.counters.rejected);
    }

    /// Makes every entry dead at once; `reclaim` frees their memory later.
    pub fn clear(&self) {
        self.table.advance_epoch();
        bump(&self.counters.clears);
    }

    /// Whether a `clear()` left dead entries that no finished reclaim pass has freed. Derived from the
    /// epochs, not a flag, so a clear racing the end of a pass can never be forgotten.
    pub fn needs_reclaim(&self) -> bool {
        self.reclaimed_epoch.load(Ordering::Acquire) != self.table.epoch()
    }

    pub fn stats(&self) -> Stats {
        let c = &self.counters;
        Stats {
            hits: c.hits.sum(),
            misses: c.misses.sum(),
            sets: c.sets.load(Ordering::Relaxed),
            deletes: c.deletes.load(Ordering::Relaxed),
            rejected: c.rejected.load(Ordering::Relaxed),
            evictions: c.evictions.load(Ordering::Relaxed),
            expirations: c.expirations.load(Ordering::Relaxed),
            clears: c.clears.load(Ordering::Relaxed),
            replaced: c.replaced.load(Ordering::Relaxed),
            reclaimed: c.reclaimed.load(Ordering::Relaxed),
            dropped: c.dropped.load(Ordering::Relaxed),
            entries: self.entries.load(Ordering::Relaxed) as u64,
            bytes: self.bytes.load(Ordering::Relaxed) as u64,
        }
    }

    /// Frees entries whose deadline has passed, looking at no more than `max_records` deadline
    /// records in this one hold of the writer lock. Returns how many it freed, and whether due
    /// records are left for another call.
    pub fn expire_due(&self, max_records: usize) -> (usize, bool) {
        let now = self.time.now_ms();
        let mut writer = self.lock_writer();
        let mut freed = 0;
        let (slots, more) = writer.deadlines.drain_due(now, max_records);
        for slot in slots {
            if let Some(key) = writer.ring.key(slot).cloned() {
                freed += usize::from(self.remove_if_dead(&mut writer, &key, now));
            }
        }
        (freed, more)
    }

    /// Whether overwrites left far more stale deadline records than there are entries.
    pub fn needs_deadline_compaction(&self) -> bool {
        self.lock_writer().deadlines.needs_compaction()
    }

    /// Drops up to `max_records` records' worth of stale deadline records in one hold of the writer
    /// lock. Returns true when a whole pass has finished.
    pub fn compact_deadlines(&self, max_records: usize) -> bool {
        self.lock_writer().deadlines.compact(max_records)
    }

    /// Frees up to `max_slots` slots' worth of entries made dead by `clear()`, starting where the last
    /// call stopped. Returns true when a whole pass has finished (nothing dead is left behind).
    pub fn reclaim(&self, cursor: &mut usize, max_slots: usize) -> bool {
        let now = self.time.now_ms();
        let mut writer = self.lock_writer();
        if *cursor == 0 {
            writer.reclaim_pass_epoch = self.table.epoch();
        }
        let span = writer.ring.span();
        let end = (*cursor + max_slots).min(span);
        for slot in *cursor..end {
            if let Some(key) = writer.ring.key(slot as u32).cloned() {
                self.remove_if_dead(&mut writer, &key, now);
            }
        }
        *cursor = end;
        if end < span {
            return false;
        }
        // Every entry dead when the pass started has been freed; a clear since leaves the epochs apart.
        self.reclaimed_epoch
            .store(writer.reclaim_pass_epoch, Ordering::Release);
        *cursor = 0;
        true
    }

    fn evict_one(&self, writer: &mut Writer, protect: &str, now: u64) -> bool {
        let epoch = self.table.epoch();
        let map = &self.map;
        let victim = writer.ring.next_victim(&self.table, |key| {
            if &**key == protect {
                return Verdict::Keep;
            }
            match map.get(&**key) {
                Some(entry) if !self.is_dead(&entry, now, epoch) => Verdict::Alive,
                _ => Verdict::Dead,
            }
        });
        let Some(key) = victim.and_then(|slot| writer.ring.key(slot).cloned()) else {
            return false;
        };
        let dead = self.remove_if_dead(writer, &key, now);
        dead || self.remove(writer, &key, Removal::Evicted)
    }

    /// Removes `key`'s entry if it is expired at `now` or older than the current epoch. The epoch is
    /// read here, under the writer lock: entries stamped with it can only be written under that lock,
    /// so a caller's earlier reading could not mistake a fresh entry for a cleared one.
    fn remove_if_dead(&self, writer: &mut Writer, key: &str, now: u64) -> bool {
        let epoch = self.table.epoch();
        match self.map.remove_if(key, |_, e| self.is_dead(e, now, epoch)) {
            Some((key, entry)) => {
                self.forget(writer, &key, &entry, Removal::Dead);
                bump(if entry.epoch == epoch {
                    &self.counters.expirations
                } else {
                    &self.counters.reclaimed
                });
                true
            }
            None => false,
        }
    }

    fn remove(&self, writer: &mut Writer, key: &str, why: Removal) -> bool {
        match self.map.remove(key) {
            Some((key, entry)) => {
                self.forget(writer, &key, &entry, why);
                true
            }
            None => false,
        }
    }

    /// Releases what a removed entry held and counts why it went.
    fn forget(&self, writer: &mut Writer, key: &str, entry: &Entry, why: Removal) {
        self.presence.remove(key);
        self.table.invalidate(entry.slot);
        writer.ring.remove(entry.slot);
        writer.bytes -= entry.charge(key);
        self.publish_sizes(writer);
        match why {
            Removal::Deleted => bump(&self.counters.deletes),
            Removal::Evicted => bump(&self.counters.evictions),
            Removal::Rejected | Removal::Superseded => bump(&self.counters.dropped),
            Removal::Dead => {}
        }
    }

    fn publish_sizes(&self, writer: &Writer) {
        self.bytes.store(writer.bytes, Ordering::Relaxed);
        self.entries.store(writer.ring.len(), Ordering::Relaxed);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::time::MockTime;

    const NOW: u64 = 1_700_000_000_000;
    const FAR_S: f64 = 1e10; // cacheExpiry far in the future, in seconds
    const FAR_MS: f64 = 1e13; // expires far in the future, in ms

    fn store(max_entries: usize, max_bytes: usize, ttl_ms: Option<u64>) -> (Store, Arc<MockTime>) {
        let time = Arc::new(MockTime::new(NOW));
        let config = StoreConfig {
            max_entries,
            max_bytes,
            max_entry_bytes: max_bytes,
            ttl_ms,
        };
        (Store::new(config, time.clone()), time)
    }

    fn put(store: &Store, key: &str, value: &str) -> SetOutcome {
        store.set(key, value.as_bytes().into(), FAR_S, FAR_MS)
    }

    fn get(store: &Store, key: &str) -> Option<String> {
        store.get_with(key, |hit| String::from_utf8(hit.value.to_vec()).unwrap())
    }

    const FILL_DEADLINE: u64 = NOW + 60_000;

    /// The presence counts say "absent" for exactly the keys the map does not hold (these keys'
    /// tails fall in distinct buckets), through every way a key leaves: eviction, delete, rejection,
    /// expiry, and reclaim after a clear.
    #[test]
    fn presence_counts_follow_every_way_a_key_leaves() {
        let key = |i: usize| format!("token-{i:06}");
        let present = |s: &Store, i: usize| s.presence().may_hold(&key(i));
        let (s, time) = store(4, 1 << 20, None);
        for i in 0..5 {
            assert_eq!(put(&s, &key(i), "v"), SetOutcome::Stored);
        }
        // Five sets into four entries: one evicted.
        let held: Vec<usize> = (0..5).filter(|&i| get(&s, &key(i)).is_some()).collect();
        assert_eq!(held.len(), 4);
        for i in 0..5 {
            assert_eq!(present(&s, i), held.contains(&i), "key {i}");
        }
        s.delete(&key(held[0]));
        s.reject(&key(held[1]));
        assert!(!present(&s, held[0]) && !present(&s, held[1]));
        // An overwrite does not count a key twice: one delete makes it absent again.
        put(&s, &key(held[2]), "w");
        s.delete(&key(held[2]));
        assert!(!present(&s, held[2]));
        // Expiry.
        s.set(
            &key(10),
            b"v".as_slice().into(),
            (NOW + 1_000) as f64 / 1000.0,
            FAR_MS,
        );
        assert!(present(&s, 10));
        time.advance(5_000);
        s.expire_due(100);
        assert!(!present(&s, 10));
        // A clear leaves dead entries counted (a store lookup answers them) until they are reclaimed.
        put(&s, &key(11), "v");
        s.clear();
        assert!(present(&s, 11));
        let mut cursor = 0;
        while !s.reclaim(&mut cursor, 2) {}
        assert!(!present(&s, 11) && !present(&s, held[3]));
    }

    fn fill(store: &Store, key: &str, value: &str, ticket: FillTicket) -> bool {
        store.fill(key, value.as_bytes().into(), FILL_DEADLINE, ticket)
    }

    #[test]
    fn a_fill_with_nothing_written_since_its_ticket_is_stored() {
        let (s, _) = store(10, 1 << 20, None);
        let ticket = s.fill_ticket("a");
        assert!(fill(&s, "a", "from redis", ticket));
        assert_eq!(get(&s, "a").as_deref(), Some("from redis"));
        // Another key's fill does not fence this one.
        let ticket = s.fill_ticket("b");
        put(&s, "c", "x");
        assert!(fill(&s, "b", "from redis", ticket) || s.stripe_of("b") == s.stripe_of("c"));
    }

    #[test]
    fn a_read_in_flight_never_refills_what_a_later_delete_set_reject_or_clear_removed() {
        type Write = fn(&Store);
        let writes: [(&str, Write); 4] = [
            ("delete", |s| {
                s.delete("a");
            }),
            ("set", |s| {
                put(s, "a", "newer");
            }),
            ("reject", |s| s.reject("a")),
            ("clear", |s| s.clear()),
        ];
        for (name, write) in writes {
            let (s, _) = store(10, 1 << 20, None);
            put(&s, "a", "older");
            // The read is sent: the ticket is taken; then this process writes; then the answer lands.
            let ticket = s.fill_ticket("a");
            write(&s);
            let stored = fill(&s, "a", "older", ticket);
            assert!(!stored, "{name}: the fill was stored");
            let now = get(&s, "a");
            assert_ne!(
                now.as_deref(),
                Some("older"),
                "{name}: the older value came back"
            );
            if name == "set" {
                assert_eq!(now.as_deref(), Some("newer"));
            }
        }
    }

    #[test]
    fn no_fill_is_stored_while_this_process_still_writes_the_key_to_the_slower_layer() {
        // Found by the checker: a delete here, its Redis delete still on its way, a read sent
        // after the local delete got the older value from Redis and refilled it.
        let (s, _) = store(10, 1 << 20, None);
        put(&s, "a", "older");
        s.delete_then_write("a");
        let ticket = s.fill_ticket("a");
        assert!(
            !fill(&s, "a", "older", ticket),
            "filled while the delete was in flight"
        );
        s.end_write("a");
        assert!(
            !fill(&s, "a", "older", ticket),
            "a read sent before the write landed"
        );
        let ticket = s.fill_ticket("a");
        assert!(
            fill(&s, "a", "from redis", ticket),
            "a read sent after it landed"
        );
        s.end_write("a"); // an unmatched end never wraps
        let ticket = s.fill_ticket("a");
        assert!(fill(&s, "a", "again", ticket));
    }

    #[test]
    fn a_fill_racing_a_clear_is_dead_even_if_it_passed_the_check() {
        let (s, _) = store(10, 1 << 20, None);
        let ticket = s.fill_ticket("a");
        s.clear();
        // The epoch moved: refused; and an entry stamped with the ticket's epoch would be dead anyway.
        assert!(!fill(&s, "a", "v", ticket));
        assert_eq!(get(&s, "a"), None);
    }

    #[test]
    fn concurrent_fills_and_deletes_never_leave_a_value_older_than_the_last_delete() {
        // Thread A fills "k" with values read before its ticket; thread B deletes "k" and then
        // checks that no fill whose ticket predates the delete is visible.
        let (s, _) = store(100, 1 << 20, None);
        let s = Arc::new(s);
        let round = Arc::new(AtomicU64::new(0));
        let filler = {
            let (s, round) = (Arc::clone(&s), Arc::clone(&round));
            std::thread::spawn(move || {
                for _ in 0..20_000 {
                    // As the protocol does: the ticket first, then the read.
                    let ticket = s.fill_ticket("k");
                    let seen = round.load(Ordering::Acquire);
                    fill(&s, "k", &seen.to_string(), ticket);
                }
            })
        };
        for r in 1..=20_000u64 {
            round.store(r, Ordering::Release);
            s.delete("k");
            if let Some(v) = get(&s, "k") {
                let v: u64 = v.parse().unwrap();
                assert!(
                    v >= r,
                    "round {r}: a fill read in round {v} outlived the delete"
                );
            }
        }
        filler.join().unwrap();
    }

    #[test]
    fn returns_what_was_set_and_misses_what_was_not() {
        let (s, _) = store(10, 1 << 20, None);
        assert_eq!(put(&s, "a", "1"), SetOutcome::Stored);
        assert_eq!(get(&s, "a").as_deref(), Some("1"));
        assert_eq!(get(&s, "b"), None);
        let stats = s.stats();
        assert_eq!(
            (stats.hits, stats.misses, stats.sets, stats.entries),
            (1, 1, 1, 1)
        );
        assert_eq!(stats.bytes as usize, charge(1, 1));
    }

    #[test]
    fn an_overwrite_replaces_the_value_and_its_charge() {
        let (s, _) = store(10, 1 << 20, None);
        put(&s, "a", "short");
        put(&s, "a", "a longer value");
        assert_eq!(get(&s, "a").as_deref(), Some("a longer value"));
        assert_eq!(s.stats().entries, 1);
        assert_eq!(s.stats().bytes as usize, charge(1, 14));
    }

    #[test]
    fn never_holds_more_than_max_entries_and_spares_referenced_keys() {
        let (s, _) = store(3, 1 << 20, None);
        put(&s, "hot", "h");
        for i in 0..50 {
            assert!(
                get(&s, "hot").is_some(),
                "the hot key was evicted at step {i}"
            );
            put(&s, &format!("cold{i}"), "c");
            assert!(s.stats().entries <= 3);
        }
        assert_eq!(s.stats().evictions, 48);
    }

    #[test]
    fn never_holds_more_than_max_bytes() {
        let max = 4 * charge(2, 100);
        let (s, _) = store(1000, max, None);
        let value = "x".repeat(100);
        for i in 10..60 {
            assert_eq!(put(&s, &i.to_string(), &value), SetOutcome::Stored);
            assert!(s.stats().bytes as usize <= max);
        }
        assert_eq!(s.stats().entries, 4);
        // A bigger overwrite of a resident key makes room from the others, never from itself.
        let big = "y".repeat(250);
        assert_eq!(put(&s, "59", &big), SetOutcome::Stored);
        assert!(s.stats().bytes as usize <= max);
        assert_eq!(get(&s, "59"), Some(big));
    }

    #[test]
    fn an_entry_larger_than_max_bytes_is_refused_and_drops_the_older_value() {
        let (s, _) = store(10, charge(1, 10), None);
        put(&s, "a", "small");
        assert_eq!(put(&s, "a", &"z".repeat(11)), SetOutcome::TooLarge);
        assert_eq!(get(&s, "a"), None);
        assert_eq!(s.stats().rejected, 1);
        assert_eq!(s.stats().bytes, 0);
    }

    #[test]
    fn never_serves_past_cache_expiry_expires_or_ttl() {
        let (s, time) = store(10, 1 << 20, Some(60_000));
        let now_s = NOW as f64 / 1000.0;
        s.set("cache", b"1".as_slice().into(), now_s + 10.0, FAR_MS);
        s.set(
            "expires",
            b"2".as_slice().into(),
            FAR_S,
            (NOW + 20_000) as f64,
        );
        s.set("ttl", b"3".as_slice().into(), FAR_S, FAR_MS);
        time.advance(9_999);
        assert!(get(&s, "cache").is_some());
        time.advance(1);
        assert_eq!(get(&s, "cache"), None);
        time.advance(9_999);
        assert!(get(&s, "expires").is_some());
        time.advance(1);
        assert_eq!(get(&s, "expires"), None);
        time.advance(39_999);
        assert!(get(&s, "ttl").is_some());
        time.advance(1);
        assert_eq!(get(&s, "ttl"), None);
    }

    #[test]
    fn a_session_already_expired_is_not_stored_and_drops_the_older_value() {
        let (s, _) = store(10, 1 << 20, None);
        put(&s, "a", "old");
        let outcome = s.set(
            "a",
            b"new".as_slice().into(),
            (NOW / 1000 - 1) as f64,
            FAR_MS,
        );
        assert_eq!(outcome, SetOutcome::AlreadyExpired);
        assert_eq!(get(&s, "a"), None);
        assert_eq!(s.stats().entries, 0);
    }

    #[test]
    fn expire_due_frees_memory_without_a_get() {
        let (s, time) = store(100, 1 << 20, Some(1_000));
        for i in 0..10 {
            put(&s, &i.to_string(), "v");
        }
        time.advance(500);
        assert_eq!(s.expire_due(100), (0, false));
        time.advance(1_500);
        assert_eq!(s.expire_due(100), (10, false));
        let stats = s.stats();
        assert_eq!((stats.entries, stats.bytes, stats.expirations), (0, 0, 10));
    }

    #[test]
    fn stale_deadline_records_are_compacted_not_hoarded() {
        let (s, time) = store(10, 1 << 20, None);
        // Overwrites with deadlines in ever later seconds leave a stale record each.
        for i in 0..5000 {
            time.advance(1_000);
            s.set(
                "same",
                b"v".as_slice().into(),
                FAR_S,
                (NOW + 1_000_000 + i * 1_000) as f64,
            );
        }
        assert!(s.needs_deadline_compaction());
        let mut steps = 1;
        while !s.compact_deadlines(1000) {
            steps += 1;
        }
        assert!(steps >= 5, "compaction works in chunks, took {steps}");
        assert!(!s.needs_deadline_compaction());
        assert_eq!(
            s.lock_writer().deadlines.records(),
            1,
            "one live entry, one record"
        );
    }

    #[test]
    fn expiring_many_entries_at_once_works_in_bounded_chunks() {
        let (s, time) = store(20_000, 1 << 26, Some(1_000));
        for i in 0..10_000 {
            put(&s, &i.to_string(), "v");
        }
        time.advance(2_000);
        let mut chunks = 0;
        let mut freed = 0;
        loop {
            let (n, more) = s.expire_due(4096);
            assert!(n <= 4096);
            freed += n;
            chunks += 1;
            if !more {
                break;
            }
        }
        assert_eq!((freed, chunks), (10_000, 3));
        assert_eq!(s.stats().entries, 0);
    }

    #[test]
    fn a_clear_during_a_reclaim_pass_is_not_forgotten() {
        let (s, _) = store(10_000, 1 << 24, None);
        for i in 0..3000 {
            put(&s, &format!("old{i}"), "v");
        }
        s.clear();
        let mut cursor = 0;
        while !s.reclaim(&mut cursor, 1000) {}
        let span = s.lock_writer().ring.span();
        // A clear starts a pass, which goes past all but the last slot...
        s.clear();
        assert!(!s.reclaim(&mut cursor, span - 1));
        // ...then sessions are stored (into freed slots, behind the cursor) and cleared again.
        for i in 0..1000 {
            put(&s, &format!("new{i}"), "v");
        }
        s.clear();
        assert!(s.reclaim(&mut cursor, span));
        // What the sweeper does: passes while a clear's dead entries are left.
        while s.needs_reclaim() {
            while !s.reclaim(&mut cursor, 1000) {}
        }
        assert_eq!(
            s.stats().entries,
            0,
            "the last clear's dead entries were forgotten, resident and counted"
        );
    }

    #[test]
    fn clear_kills_every_entry_at_once_and_reclaim_frees_them() {
        let (s, _) = store(10_000, 1 << 24, None);
        for i in 0..5000 {
            put(&s, &i.to_string(), "v");
        }
        s.clear();
        assert!(s.needs_reclaim());
        assert_eq!(get(&s, "42"), None);
        put(&s, "after", "new");
        let mut cursor = 0;
        let mut passes = 0;
        while !s.reclaim(&mut cursor, 1000) {
            passes += 1;
        }
        assert!(passes >= 4, "reclaim should work in chunks");
        assert!(!s.needs_reclaim());
        assert_eq!(s.stats().entries, 1);
        assert_eq!(get(&s, "after").as_deref(), Some("new"));
        assert_eq!(
            s.stats().expirations,
            0,
            "cleared entries are not expirations"
        );
    }

    #[test]
    fn a_full_store_after_clear_makes_room_from_dead_entries_first() {
        let (s, _) = store(3, 1 << 20, None);
        for k in ["a", "b", "c"] {
            put(&s, k, "v");
            get(&s, k);
        }
        s.clear();
        put(&s, "d", "v");
        assert_eq!(s.stats().evictions, 0);
        assert_eq!(s.stats().entries, 3);
    }

    #[test]
    fn delete_and_reject_remove_and_count() {
        let (s, _) = store(10, 1 << 20, None);
        put(&s, "a", "1");
        put(&s, "b", "2");
        assert!(s.delete("a"));
        assert!(!s.delete("a"));
        s.reject("b");
        s.reject("never-set");
        let stats = s.stats();
        assert_eq!(
            (stats.deletes, stats.rejected, stats.entries, stats.bytes),
            (1, 2, 0, 0)
        );
    }

    #[test]
    fn threads_never_see_another_tokens_value_and_bounds_hold() {
        let (s, _) = store(64, 64 * charge(8, 40), None);
        let s = Arc::new(s);
        let workers: Vec<_> = (0..4)
            .map(|t| {
                let s = Arc::clone(&s);
                std::thread::spawn(move || {
                    for i in 0..20_000u32 {
                        let key = format!("{:08}", (i * 7 + t) % 200);
                        match i % 4 {
                            0 => {
                                put(
                                    &s,
                                    &key,
                                    &format!("{key}:{}", "p".repeat((i % 30) as usize)),
                                );
                            }
                            1 => {
                                s.delete(&key);
                            }
                            _ => {
                                if let Some(v) = get(&s, &key) {
                                    assert!(v.starts_with(&format!("{key}:")), "{key} read {v}");
                                }
                            }
                        }
                        if i % 5000 == 0 {
                            s.clear();
                        }
                    }
                })
            })
            .collect();
        workers.into_iter().for_each(|w| w.join().unwrap());
        let stats = s.stats();
        assert!(stats.entries <= 64);
        assert!(stats.bytes as usize <= 64 * charge(8, 40));
        let writer = s.lock_writer();
        assert_eq!(writer.ring.len(), s.map.len());
        assert_eq!(writer.bytes as u64, stats.bytes);
    }

    #[test]
    fn every_write_or_removal_changes_the_slots_generation_and_clear_the_epoch() {
        let (s, time) = store(2, 1 << 20, None);
        let meta = |s: &Store, k: &str| s.get_with(k, |h| (h.slot, h.generation, h.epoch));
        put(&s, "a", "1");
        let (slot, g1, e1) = meta(&s, "a").unwrap();
        put(&s, "a", "2");
        let (slot2, g2, _) = meta(&s, "a").unwrap();
        assert_eq!(slot, slot2, "an overwrite keeps the slot");
        assert_ne!(g1, g2, "an overwrite changes the generation");
        assert!(s.delete("a"));
        let g3 = s.slot_table().generation(slot);
        assert_ne!(g3, g2, "a delete changes the generation");

        put(&s, "b", "1");
        put(&s, "c", "1");
        let before: Vec<_> = ["b", "c"].map(|k| (k, meta(&s, k).unwrap())).into();
        put(&s, "d", "1"); // evicts b or c
        let gone: Vec<_> = before
            .iter()
            .filter(|(k, _)| meta(&s, k).is_none())
            .collect();
        assert_eq!(gone.len(), 1);
        let (_, (slot_gone, generation_gone, _)) = gone[0];
        assert_ne!(
            s.slot_table().generation(*slot_gone),
            *generation_gone,
            "an eviction changes the generation"
        );

        s.set("e", b"1".as_slice().into(), FAR_S, (NOW + 10) as f64);
        let (slot_e, ge, _) = meta(&s, "e").unwrap();
        time.advance(2_000);
        assert_eq!(s.expire_due(100), (1, false));
        assert_ne!(
            s.slot_table().generation(slot_e),
            ge,
            "an expiry changes the generation"
        );

        s.clear();
        assert_ne!(s.slot_table().epoch(), e1);
    }

    #[test]
    fn an_entry_over_max_entry_bytes_is_refused_however_much_room_there_is() {
        let time = Arc::new(MockTime::new(NOW));
        let config = StoreConfig {
            max_entries: 10,
            max_bytes: 1 << 20,
            max_entry_bytes: charge(1, 100),
            ttl_ms: None,
        };
        let s = Store::new(config, time);
        assert_eq!(put(&s, "a", &"x".repeat(100)), SetOutcome::Stored);
        assert_eq!(put(&s, "a", &"x".repeat(101)), SetOutcome::TooLarge);
        assert_eq!(get(&s, "a"), None);
        assert_eq!(s.stats().rejected, 1);
    }
}
