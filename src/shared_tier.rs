//! The Redis tier as the binding uses it: one [`RedisTier`] per store per process (every
//! worker_thread whose strategy has the same `name` shares the store, and so the tier), the sink that
//! turns invalidations into local deletes, and the payload format (deadline + encoded session).
//! Plain Rust: the binding wraps it.
//!
//! With a tier, the local store is keyed by [`RedisTier::key_hash`] of the token rather than the
//! token, so an invalidation (which carries the hash) is a plain local delete.
//!
//! **The key policy.** Local entries are served, and written, only while the tier's lease is
//! current ([`SharedTier::serving_key`]); deletes always apply ([`SharedTier::local_key`]).
//!
//! **The fill protocol.** A `get` that misses locally reads Redis; its answer enters the local
//! store only if nothing made it stale meanwhile. [`SharedTier::read_through`] takes the store's
//! [`FillTicket`] for the key *before* the read is sent, and [`complete_fill`] stores the answer
//! only if the ticket still holds (no `set`, `delete` or `clear()` of this process, and no
//! invalidation from another, since) and the lease is current. A fill that loses still answers its
//! own `get` (the read and the write overlapped), but leaves nothing behind for later ones.
//!
//! **Writes fence in the same step.** Every thread of the process shares the store, so a write's
//! local step and the fence that keeps Redis' older answer out are one call under the store's writer
//! lock ([`Store::set_placed_then_write`], [`Store::delete_then_write`],
//! [`Store::reject_then_write`], [`Store::clear_then_write`]); the tier settles the fence when Redis
//! took the write or it was given up on ([`InvalidationSink::write_settled`],
//! [`InvalidationSink::clear_settled`], once per write, also when the runtime is gone). No read sent
//! before the settling, by any thread, fills the key (for a clear: any key).

use crate::redis::{InvalidationSink, Lease, Lookup, RedisTier, RedisTierConfig};
use crate::store::{FillTicket, Store};
use crate::time::{TimeSource, WallClock};
use std::collections::HashMap;
use std::future::Future;
use std::pin::pin;
use std::sync::{Arc, LazyLock, Mutex, Weak};
use std::task::{Context, Poll, Wake, Waker};
use std::thread::{self, Thread};

/// Turns the tier's invalidations into changes of the local store. A delete or a clear changes the
/// slot generation or the epoch, so every thread's near cache drops the entry too.
pub struct StoreSink {
    store: Weak<Store>,
}

impl StoreSink {
    pub fn new(store: &Arc<Store>) -> Self {
        Self {
            store: Arc::downgrade(store),
        }
    }
}

impl InvalidationSink for StoreSink {
    fn invalidate(&self, key_hash: &str) {
        if let Some(store) = self.store.upgrade() {
            store.delete(key_hash);
        }
    }

    fn invalidate_all(&self) {
        if let Some(store) = self.store.upgrade() {
            store.clear();
        }
    }

    fn write_settled(&self, key_hash: &str) {
        if let Some(store) = self.store.upgrade() {
            store.end_write(key_hash);
        }
    }

    fn clear_settled(&self) {
        if let Some(store) = self.store.upgrade() {
            store.end_clear();
        }
    }
}

/// A tier and what it was asked for, so a second strategy asking for another Redis is refused.
pub struct SharedTier {
    pub tier: RedisTier,
    /// The store its sink writes invalidations to: a tier is adopted only by that store.
    store: Weak<Store>,
    url: String,
    key_prefix: String,
    secret_hash: blake3::Hash,
}

impl SharedTier {
    /// The local store's key for `token` if local layers may serve (and be written) now.
    pub fn serving_key(&self, token: &str) -> Option<String> {
        self.tier
            .local_trustworthy()
            .then(|| self.tier.key_hash(token))
    }

    /// The local store's key for `token`, for deletes (which always apply).
    pub fn local_key(&self, token: &str) -> String {
        self.tier.key_hash(token)
    }

    /// Reads `token` from Redis and, on a hit, fills `store` (see the fill protocol above). The
    /// future answers the encoded session, or None on a miss, a corrupt value, an outage, a timeout,
    /// or a deadline already past. It holds the store weakly.
    pub fn read_through(
        &self,
        store: &Arc<Store>,
        token: &str,
    ) -> impl Future<Output = Option<String>> + Send + 'static {
        let key = self.tier.key_hash(token);
        // Before the read is sent: any write of the key from now on fences the fill.
        let ticket = store.fill_ticket(&key);
        let op = self.tier.get(token);
        let store = Arc::downgrade(store);
        let lease = self.tier.lease().clone();
        async move {
            match op.await {
                Lookup::Hit(payload) => complete_fill(&store, &lease, &key, ticket, &payload),
                Lookup::Miss | Lookup::Corrupt | Lookup::Unavailable => None,
            }
        }
    }
}

/// Stores a Redis answer in the local store if the ticket still holds and the lease is current;
/// returns the encoded session if it is still servable (its deadline has not passed).
pub fn complete_fill(
    store: &Weak<Store>,
    lease: &Lease,
    key: &str,
    ticket: FillTicket,
    payload: &[u8],
) -> Option<String> {
    let (deadline, encoded) = split_payload(payload)?;
    if deadline <= WallClock.now_ms() {
        return None;
    }
    let encoded = std::str::from_utf8(encoded).ok()?.to_string();
    if let Some(store) = store.upgrade() {
        if lease.valid() {
            store.fill(key, encoded.as_bytes().into(), deadline, ticket);
        }
    }
    Some(encoded)
}

static TIERS: LazyLock<Mutex<HashMap<String, Weak<SharedTier>>>> = LazyLock::new(Default::default);

fn same_tier(existing: &SharedTier, name: &str, config: &RedisTierConfig) -> Result<(), String> {
    if existing.url == config.url
        && existing.key_prefix == config.key_prefix
        && existing.secret_hash == blake3::hash(config.secret.as_bytes())
    {
        Ok(())
    } else {
        Err(format!(
            "the session cache '{name}' already uses Redis at {} with the key prefix '{}' in this process; \
             give every strategy named '{name}' the same redis options (url, keyPrefix, secret), or another `name`",
            existing.tier.redacted_url(),
            existing.key_prefix
        ))
    }
}

/// The live tier of `name`, if it is wired to `store`. One wired to another store (a store of the same
/// name that a `destroy()` released while its tier was still connecting, as @vendure/testing's
/// lifecycle does) is never adopted: its invalidations go to that store, not this one.
fn live(name: &str, store: &Arc<Store>) -> Option<Arc<SharedTier>> {
    let tiers = TIERS.lock().unwrap_or_else(|p| p.into_inner());
    tiers
        .get(name)
        .and_then(Weak::upgrade)
        .filter(|shared| shared.serves(store))
}

impl SharedTier {
    fn serves(&self, store: &Arc<Store>) -> bool {
        self.store
            .upgrade()
            .is_some_and(|own| Arc::ptr_eq(&own, store))
    }
}

/// The tier of the store called `name`, connected with `config` if no live one exists. Blocks while
/// it connects (at most the config's `connect_timeout` per step): call it off the JS thread.
pub fn open(
    name: &str,
    store: &Arc<Store>,
    config: RedisTierConfig,
) -> Result<Arc<SharedTier>, String> {
    if let Some(existing) = live(name, store) {
        same_tier(&existing, name, &config)?;
        return Ok(existing);
    }
    let sink = Arc::new(StoreSink::new(store));
    let url = config.url.clone();
    let key_prefix = config.key_prefix.clone();
    let secret_hash = blake3::hash(config.secret.as_bytes());
    let tier = block_on(RedisTier::connect(config.clone(), sink)).map_err(|e| e.to_string())?;
    // A fresh tier starts trustworthy with an empty view: what the store held before is not known
    // to be coherent with Redis, so it goes.
    store.clear();
    let mut tiers = TIERS.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(existing) = tiers
        .get(name)
        .and_then(Weak::upgrade)
        .filter(|shared| shared.serves(store))
    {
        // Another thread connected meanwhile: use its tier, drop ours (outside the lock: it joins).
        drop(tiers);
        drop(tier);
        same_tier(&existing, name, &config)?;
        return Ok(existing);
    }
    let shared = Arc::new(SharedTier {
        tier,
        store: Arc::downgrade(store),
        url,
        key_prefix,
        secret_hash,
    });
    tiers.retain(|_, weak| weak.strong_count() > 0);
    tiers.insert(name.to_string(), Arc::downgrade(&shared));
    Ok(shared)
}

/// How many tiers are alive in the process (tests prove that `destroy()` frees them).
pub fn live_tier_count() -> usize {
    let tiers = TIERS.lock().unwrap_or_else(|p| p.into_inner());
    tiers
        .values()
        .filter(|weak| weak.strong_count() > 0)
        .count()
}

const DEADLINE_LEN: usize = 8;

/// What a `set` stores in Redis: the entry's deadline (ms since the epoch, little-endian), then the
/// encoded session (which holds no token).
pub fn payload(deadline_ms: u64, encoded: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(DEADLINE_LEN + encoded.len());
    out.extend_from_slice(&deadline_ms.to_le_bytes());
    out.extend_from_slice(encoded);
    out
}

/// The deadline and the encoded session of a payload, if it is one.
pub fn split_payload(payload: &[u8]) -> Option<(u64, &[u8])> {
    let (deadline, encoded) = payload.split_at_checked(DEADLINE_LEN)?;
    let deadline = u64::from_le_bytes(deadline.try_into().ok()?);
    Some((deadline, encoded))
}

/// Awaits a future on this thread (the tier's futures are runtime-independent).
pub fn block_on<F: Future>(future: F) -> F::Output {
    struct Unpark(Thread);
    impl Wake for Unpark {
        fn wake(self: Arc<Self>) {
            self.0.unpark();
        }
    }
    let waker = Waker::from(Arc::new(Unpark(thread::current())));
    let mut cx = Context::from_waker(&waker);
    let mut future = pin!(future);
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
        thread::park();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StoreConfig;
    use crate::time::WallClock;

    #[test]
    fn payloads_round_trip_and_short_ones_are_refused() {
        let p = payload(1234, b"{\"a\":1}");
        assert_eq!(split_payload(&p), Some((1234, &b"{\"a\":1}"[..])));
        assert_eq!(split_payload(&p[..7]), None);
    }

    fn valid_lease() -> Lease {
        let lease = Lease::default();
        lease.renew(crate::time::monotonic_ms());
        lease
    }

    fn far_payload(text: &str) -> Vec<u8> {
        payload(WallClock.now_ms() + 60_000, text.as_bytes())
    }

    #[test]
    fn a_redis_answer_fills_the_store_only_if_no_local_write_came_since_the_read_was_sent() {
        // Deterministic: the read is "in flight" between the ticket and complete_fill.
        type Write = fn(&Store);
        let writes: [(&str, Write); 4] = [
            ("nothing", |_| {}),
            ("delete", |s| {
                s.delete("h");
            }),
            ("set", |s| {
                s.set("h", b"newer".to_vec().into(), 4e9, 4e12);
            }),
            ("clear", |s| s.clear()),
        ];
        for (name, write) in writes {
            let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
            let ticket = store.fill_ticket("h");
            write(&store);
            let answer = complete_fill(
                &Arc::downgrade(&store),
                &valid_lease(),
                "h",
                ticket,
                &far_payload("older"),
            );
            // The get itself may answer what it read: it overlapped the write.
            assert_eq!(answer.as_deref(), Some("older"), "{name}");
            let local = store.get_with("h", |hit| hit.value.to_vec());
            match name {
                "nothing" => assert_eq!(local.as_deref(), Some(&b"older"[..]), "{name}"),
                "set" => assert_eq!(local.as_deref(), Some(&b"newer"[..]), "{name}"),
                _ => assert_eq!(local, None, "{name}: the older value was put back"),
            }
        }
    }

    /// Another thread's whole read (ticket, Redis answer, fill) lands between this thread's local
    /// write and its Redis write settling: the read may answer the older value, but it must not put
    /// it back in the store both threads share.
    fn read_in_flight_across_a_write(local_write: fn(&Store), settle: fn(&StoreSink)) -> bool {
        let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
        store.set("h", b"old".to_vec().into(), 4e9, 4e12);
        let sink = StoreSink::new(&store);
        local_write(&store);
        let ticket = store.fill_ticket("h");
        complete_fill(
            &Arc::downgrade(&store),
            &valid_lease(),
            "h",
            ticket,
            &far_payload("old"),
        );
        settle(&sink);
        store.get_with("h", |hit| hit.value.to_vec()).as_deref() == Some(&b"old"[..])
    }

    #[test]
    fn no_thread_refills_what_another_thread_deleted_while_its_redis_delete_is_on_the_way() {
        let refilled = read_in_flight_across_a_write(
            |store| {
                store.delete_then_write("h");
            },
            |sink| sink.write_settled("h"),
        );
        assert!(!refilled, "the deleted session was put back");
    }

    #[test]
    fn no_thread_refills_what_another_thread_rejected_while_its_redis_delete_is_on_the_way() {
        let refilled = read_in_flight_across_a_write(
            |store| store.reject_then_write("h"),
            |sink| sink.write_settled("h"),
        );
        assert!(!refilled, "the rejected session's older value was put back");
    }

    #[test]
    fn no_thread_refills_what_another_thread_cleared_before_the_namespace_bump_landed() {
        let refilled = read_in_flight_across_a_write(
            |store| store.clear_then_write(),
            |sink| sink.clear_settled(),
        );
        assert!(!refilled, "a cleared session was put back");
    }

    #[test]
    fn a_clear_fences_reads_taken_before_it_during_it_and_only_those() {
        let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
        let fill = |ticket| {
            store.fill(
                "h",
                b"v".to_vec().into(),
                WallClock.now_ms() + 60_000,
                ticket,
            )
        };
        let before = store.fill_ticket("h");
        store.clear_then_write();
        let during = store.fill_ticket("h");
        assert!(!fill(before), "a read sent before the clear");
        assert!(
            !fill(during),
            "a read sent before the namespace bump was acknowledged"
        );
        store.end_clear();
        assert!(
            !fill(during),
            "a read sent before the acknowledgement, checked after it"
        );
        assert!(
            fill(store.fill_ticket("h")),
            "a read sent after the acknowledgement"
        );
    }

    #[test]
    fn a_set_through_the_tier_is_never_overwritten_by_an_older_value_read_meanwhile() {
        let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
        let sink = StoreSink::new(&store);
        let (outcome, _) = store.set_placed_then_write("h", b"newer".to_vec().into(), 4e9, 4e12);
        assert_eq!(outcome, crate::store::SetOutcome::Stored);
        let ticket = store.fill_ticket("h");
        complete_fill(
            &Arc::downgrade(&store),
            &valid_lease(),
            "h",
            ticket,
            &far_payload("older"),
        );
        sink.write_settled("h");
        assert_eq!(
            store.get_with("h", |hit| hit.value.to_vec()).as_deref(),
            Some(&b"newer"[..])
        );
    }

    #[test]
    fn an_invalidation_from_another_instance_while_the_read_is_in_flight_fences_the_fill() {
        let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
        let sink = StoreSink::new(&store);
        let ticket = store.fill_ticket("h");
        sink.invalidate("h");
        complete_fill(
            &Arc::downgrade(&store),
            &valid_lease(),
            "h",
            ticket,
            &far_payload("old"),
        );
        assert!(store.get_with("h", |_| ()).is_none());
        let ticket = store.fill_ticket("h");
        sink.invalidate_all();
        complete_fill(
            &Arc::downgrade(&store),
            &valid_lease(),
            "h",
            ticket,
            &far_payload("old"),
        );
        assert!(store.get_with("h", |_| ()).is_none());
    }

    #[test]
    fn without_a_current_lease_nothing_is_filled_and_expired_answers_are_dropped() {
        let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
        let ticket = store.fill_ticket("h");
        let answer = complete_fill(
            &Arc::downgrade(&store),
            &Lease::default(),
            "h",
            ticket,
            &far_payload("v"),
        );
        assert_eq!(answer.as_deref(), Some("v"));
        assert!(store.get_with("h", |_| ()).is_none());
        let past = payload(WallClock.now_ms() - 1, b"v");
        let ticket = store.fill_ticket("h");
        assert_eq!(
            complete_fill(&Arc::downgrade(&store), &valid_lease(), "h", ticket, &past),
            None
        );
    }

    #[test]
    fn the_sink_deletes_and_clears_the_store() {
        let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
        let sink = StoreSink::new(&store);
        let far = 4e12;
        store.set("h1", b"a".to_vec().into_boxed_slice(), far, far);
        store.set("h2", b"b".to_vec().into_boxed_slice(), far, far);
        sink.invalidate("h1");
        assert!(store.get_with("h1", |_| ()).is_none());
        assert!(store.get_with("h2", |_| ()).is_some());
        let epoch = store.slot_table().epoch();
        sink.invalidate_all();
        assert!(store.get_with("h2", |_| ()).is_none());
        assert_ne!(
            store.slot_table().epoch(),
            epoch,
            "near caches see the clear"
        );
        drop(store);
        sink.invalidate_all(); // a sink outliving its store does nothing
    }
}
