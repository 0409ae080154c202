//! The tier's counters. Every failure the tier absorbs (it never returns an error to a caller) shows
//! up here, so that a caller can log and expose them.

use super::outage::OutageCounts;
use std::sync::atomic::{AtomicU64, Ordering};

/// A snapshot of the tier's counters.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RedisStats {
    /// `get`s answered with a value.
    pub hits: u64,
    /// `get`s that found nothing.
    pub misses: u64,
    /// `get`s that found a value of another format or version, damaged, or failing its MAC.
    pub corrupt: u64,
    /// `get`s answered `Unavailable`: skipped while the tier was not trustworthy, or failed.
    pub unavailable: u64,
    /// `get`s not sent to Redis because the tier was not trustworthy (included in `unavailable`).
    pub skipped: u64,
    /// Successful `set`s, `delete`s and `clear`s.
    pub sets: u64,
    pub deletes: u64,
    pub clears: u64,
    /// Commands that failed with an error (connection refused or dropped, a server error).
    pub errors: u64,
    /// Commands that did not answer within `op_timeout`.
    pub timeouts: u64,
    /// Deletes and clears that may not have reached Redis; each one owes a namespace bump.
    pub lost_writes: u64,
    /// Namespace bumps done to cover lost writes or a restarted server.
    pub namespace_bumps: u64,
    pub failed_bumps: u64,
    /// Times the invalidation channel went down.
    pub outages: u64,
    /// Times it came back.
    pub reconnects: u64,
    /// Server restarts noticed on reconnect (another `run_id`).
    pub restarts: u64,
    /// `invalidate(key_hash)` calls made on the sink for other instances' writes.
    pub invalidations: u64,
    /// `invalidate_all()` calls made on the sink: other instances' clears, and flushes after outages.
    pub invalidate_alls: u64,
    /// Messages on the channel that could not be read (each treated as a clear).
    pub malformed_messages: u64,
    /// Sets refused because they reached Redis after their caller's timeout (delayed on the network).
    pub late_writes: u64,
    /// Keys deleted again after a set or delete of theirs failed, so no instance keeps an older value.
    pub repairs: u64,
    /// Data connections opened (the first, and every replacement after an error, timeout or READONLY).
    pub links: u64,
    /// Namespace bumps made because Redis was not the server incarnation recorded in it (restarted,
    /// perhaps from an old snapshot, or failed over), or the namespace had vanished.
    pub incarnation_bumps: u64,
}

#[derive(Default)]
pub(crate) struct Counters {
    pub hits: AtomicU64,
    pub misses: AtomicU64,
    pub corrupt: AtomicU64,
    pub unavailable: AtomicU64,
    pub skipped: AtomicU64,
    pub sets: AtomicU64,
    pub deletes: AtomicU64,
    pub clears: AtomicU64,
    pub errors: AtomicU64,
    pub timeouts: AtomicU64,
    pub invalidations: AtomicU64,
    pub invalidate_alls: AtomicU64,
    pub malformed_messages: AtomicU64,
    pub late_writes: AtomicU64,
    pub repairs: AtomicU64,
    pub links: AtomicU64,
    pub incarnation_bumps: AtomicU64,
}

pub(crate) fn bump(counter: &AtomicU64) {
    counter.fetch_add(1, Ordering::Relaxed);
}

impl Counters {
    pub fn snapshot(&self, outage: OutageCounts) -> RedisStats {
        let load = |c: &AtomicU64| c.load(Ordering::Relaxed);
        RedisStats {
            hits: load(&self.hits),
            misses: load(&self.misses),
            corrupt: load(&self.corrupt),
            unavailable: load(&self.unavailable),
            skipped: load(&self.skipped),
            sets: load(&self.sets),
            deletes: load(&self.deletes),
            clears: load(&self.clears),
            errors: load(&self.errors),
            timeouts: load(&self.timeouts),
            lost_writes: outage.lost_writes,
            namespace_bumps: outage.bumps,
            failed_bumps: outage.failed_bumps,
            outages: outage.outages,
            reconnects: outage.reconnects,
            restarts: outage.restarts,
            invalidations: load(&self.invalidations),
            invalidate_alls: load(&self.invalidate_alls),
            malformed_messages: load(&self.malformed_messages),
            late_writes: load(&self.late_writes),
            repairs: load(&self.repairs),
            links: load(&self.links),
            incarnation_bumps: load(&self.incarnation_bumps),
        }
    }
}
