//! The liveness lease: how long local layers may serve without hearing from Redis.
//!
//! Redis delivers, on one connection, every message published before a `PING` ahead of that
//! `PING`'s reply. So when the subscriber gets the reply to a `PING` it sent at time `t` (and has
//! delivered every message that came before it), every invalidation published before `t` has
//! reached the local layers. A local entry may then be served until `t + LEASE`: a `delete` or
//! `clear()` that returned anywhere at time `d` was published before `d`, so no process serves what
//! it removed later than `d + LEASE`, whatever happens to the subscription (hung, cut, delayed), to
//! Redis (stalled) or to the process (paused: its clock runs on while it sleeps).
//!
//! The lease is one `f64` of [`monotonic_ms`] in memory that every thread reads: Rust through
//! [`Lease::valid`], JS near caches through an ArrayBuffer over [`Lease::cell`] and a calibrated
//! `performance.now()`. Revoking stores 0.

use crate::time::monotonic_ms;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;
use std::time::Duration;

/// How long a proof of liveness lets local layers serve: the bound on how stale a local hit can be.
pub const LEASE: Duration = Duration::from_millis(60);
/// How often the subscriber asks for a new proof (a `PING` in flight at all times, this far apart).
pub const PROOF_INTERVAL: Duration = Duration::from_millis(15);

/// Clones share the lease.
#[derive(Debug, Default, Clone)]
pub struct Lease {
    /// `f64` bits of the monotonic ms until which local hits may be served; 0 when revoked.
    until: Arc<AtomicU64>,
}

impl Lease {
    /// Whether local layers may serve now.
    #[inline]
    pub fn valid(&self) -> bool {
        monotonic_ms() < f64::from_bits(self.until.load(Ordering::Acquire))
    }

    /// Every message published before `proof_sent_ms` (monotonic) has been delivered.
    pub(crate) fn renew(&self, proof_sent_ms: f64) {
        let until = proof_sent_ms + LEASE.as_secs_f64() * 1000.0;
        // Proofs come in order; never move the lease back.
        self.until.fetch_max(until.to_bits(), Ordering::AcqRel);
    }

    pub(crate) fn revoke(&self) {
        self.until.store(0f64.to_bits(), Ordering::Release);
    }

    /// The memory holding the lease's end, for readers in other languages.
    pub fn cell(&self) -> Arc<AtomicU64> {
        Arc::clone(&self.until)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_lease_is_valid_for_lease_after_its_proof_and_revocable() {
        let lease = Lease::default();
        assert!(!lease.valid(), "no proof yet");
        lease.renew(monotonic_ms());
        assert!(lease.valid());
        lease.revoke();
        assert!(!lease.valid());
        lease.renew(monotonic_ms() - LEASE.as_secs_f64() * 1000.0 - 1.0);
        assert!(
            !lease.valid(),
            "a proof older than LEASE proves nothing now"
        );
    }

    #[test]
    fn positive_f64_bits_order_as_the_numbers_so_fetch_max_keeps_the_later_proof() {
        let lease = Lease::default();
        let now = monotonic_ms();
        lease.renew(now + 10.0);
        lease.renew(now);
        assert_eq!(
            f64::from_bits(lease.cell().load(Ordering::Relaxed)),
            now + 10.0 + LEASE.as_secs_f64() * 1000.0
        );
    }
}
