//! The napi-rs surface: converts arguments, maps errors to JS errors, and keeps panics out of JS.
//! No cache logic lives here.

use crate::duration::parse_duration_ms;
use crate::expiry::deadline_ms;
use crate::redis::{RedisStats, RedisTierConfig, WriteOutcome};
use crate::registry;
use crate::shared_tier::{self, SharedTier};
use crate::store::{SetOutcome, Stats, StoreConfig};
use crate::time::{TimeSource, WallClock};
use napi::bindgen_prelude::{ArrayBuffer, Object, ToNapiValue};
use napi::JsDeferred;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use std::borrow::Cow;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

pub mod per_call;

/// Bounds of a store, as validated by the JS class.
#[napi(object)]
pub struct StoreOptions {
    pub max_entries: u32,
    pub max_bytes: f64,
    pub max_entry_bytes: f64,
    pub ttl_ms: Option<f64>,
    /// The strategy has the `redis` option: the store's keys are keyed hashes of the tokens.
    pub with_redis: bool,
}

/// Store-wide counters and sizes.
#[napi(object)]
pub struct StoreStats {
    pub hits: f64,
    pub misses: f64,
    pub sets: f64,
    pub deletes: f64,
    pub rejected: f64,
    pub evictions: f64,
    pub expirations: f64,
    pub clears: f64,
    pub replaced: f64,
    pub reclaimed: f64,
    pub dropped: f64,
    pub entries: f64,
    pub bytes: f64,
}

impl From<Stats> for StoreStats {
    fn from(s: Stats) -> Self {
        Self {
            hits: s.hits as f64,
            misses: s.misses as f64,
            sets: s.sets as f64,
            deletes: s.deletes as f64,
            rejected: s.rejected as f64,
            evictions: s.evictions as f64,
            expirations: s.expirations as f64,
            clears: s.clears as f64,
            replaced: s.replaced as f64,
            reclaimed: s.reclaimed as f64,
            dropped: s.dropped as f64,
            entries: s.entries as f64,
            bytes: s.bytes as f64,
        }
    }
}

/// The Redis tier's options, as validated by the JS class.
#[napi(object)]
pub struct RedisOptions {
    pub url: String,
    pub key_prefix: String,
    pub secret: String,
    pub timeout_ms: u32,
}

/// The Redis tier's counters (see src/redis/stats.rs); shared by every strategy with the same name in
/// the process. `index.d.ts` exports this type as `NativeSessionCacheRedisStats`.
#[napi(object)]
pub struct RedisTierStats {
    /// Lookups Redis answered with a session.
    pub hits: f64,
    /// Lookups Redis answered without one.
    pub misses: f64,
    /// Values of another format or version, damaged, or failing their MAC: counted misses.
    pub corrupt: f64,
    /// Lookups answered by a miss because Redis was down, slow, or not trusted (includes `skipped`).
    pub unavailable: f64,
    /// Lookups not sent because the invalidation channel was down.
    pub skipped: f64,
    /// Sessions written to Redis.
    pub sets: f64,
    /// Sessions deleted in Redis.
    pub deletes: f64,
    /// Clears sent to Redis.
    pub clears: f64,
    /// Redis calls that failed.
    pub errors: f64,
    /// Redis calls that took longer than `timeoutMs`.
    pub timeouts: f64,
    /// Writes that may not have reached Redis even after a repair; each is covered by a namespace bump.
    pub lost_writes: f64,
    /// Namespace bumps: clears, and recoveries from lost writes or a Redis that lost data.
    pub namespace_bumps: f64,
    /// Namespace bumps that failed (retried until one succeeds).
    pub failed_bumps: f64,
    /// Times the invalidation channel went down (local hits stop until it is back).
    pub outages: f64,
    /// Invalidation channel reconnections.
    pub reconnects: f64,
    /// Redis restarts noticed (another run_id).
    pub restarts: f64,
    /// Invalidations heard from other instances.
    pub invalidations: f64,
    /// Local flushes: other instances' clears, and outages (when one starts and when it ends).
    pub invalidate_alls: f64,
    /// Invalidation messages that could not be read.
    pub malformed_messages: f64,
    /// Sets refused because they reached Redis after their call had given up (delayed on the network).
    pub late_writes: f64,
    /// Keys deleted again (and published) after a set or delete of theirs failed or came too late.
    pub repairs: f64,
    /// Data connections opened: the first, and each replacement after an error, a timeout or READONLY.
    pub links: f64,
    /// Namespace bumps made because Redis was not the incarnation recorded in it (restarted, failed over).
    pub incarnation_bumps: f64,
    /// Whether the invalidation channel is up and nothing is owed (local hits also need a proof of
    /// liveness under 60 ms old: see src/redis/lease.rs).
    pub trustworthy: bool,
}

impl RedisTierStats {
    fn new(s: RedisStats, trustworthy: bool) -> Self {
        Self {
            hits: s.hits as f64,
            misses: s.misses as f64,
            corrupt: s.corrupt as f64,
            unavailable: s.unavailable as f64,
            skipped: s.skipped as f64,
            sets: s.sets as f64,
            deletes: s.deletes as f64,
            clears: s.clears as f64,
            errors: s.errors as f64,
            timeouts: s.timeouts as f64,
            lost_writes: s.lost_writes as f64,
            namespace_bumps: s.namespace_bumps as f64,
            failed_bumps: s.failed_bumps as f64,
            outages: s.outages as f64,
            reconnects: s.reconnects as f64,
            restarts: s.restarts as f64,
            invalidations: s.invalidations as f64,
            invalidate_alls: s.invalidate_alls as f64,
            malformed_messages: s.malformed_messages as f64,
            late_writes: s.late_writes as f64,
            repairs: s.repairs as f64,
            links: s.links as f64,
            incarnation_bumps: s.incarnation_bumps as f64,
            trustworthy,
        }
    }
}

/// Outcomes of `set`, as numbers the JS class switches on.
#[napi]
pub enum SetResult {
    Stored,
    AlreadyExpired,
    TooLarge,
    /// Not kept locally (the Redis tier is not trusted now); Redis gets it still.
    NotKeptLocally,
    /// The token holds a lone UTF-16 surrogate: never stored.
    IllFormedToken,
}

impl From<SetOutcome> for SetResult {
    fn from(outcome: SetOutcome) -> Self {
        match outcome {
            SetOutcome::Stored => SetResult::Stored,
            SetOutcome::AlreadyExpired => SetResult::AlreadyExpired,
            SetOutcome::TooLarge => SetResult::TooLarge,
        }
    }
}

/// Milliseconds in a `ttl` string such as `'1h'`; throws a TypeError naming the problem.
#[napi(catch_unwind)]
pub fn parse_ttl(text: String) -> Result<f64> {
    parse_duration_ms(&text)
        .map(|ms| ms as f64)
        .map_err(|message| Error::new(Status::InvalidArg, message))
}

/// Where `get` leaves a hit's metadata for the near cache, as f64 bits: the slot's index in the slot
/// table, its generation, the epoch and the deadline (ms). A return object would cost more than the get.
type HitMeta = [AtomicU64; 4];

/// How many stores are alive in the process: lets tests prove that released stores are freed.
#[napi]
pub fn live_store_count() -> u32 {
    registry::live_stores().len() as u32
}

/// How many Redis tiers are alive in the process.
#[napi]
pub fn live_redis_tier_count() -> u32 {
    shared_tier::live_tier_count() as u32
}

/// Where a connecting tier lands; shared with the thread that connects, so `close` can let go of
/// it before the connection is made.
type TierCell = Arc<OnceLock<Arc<SharedTier>>>;

type EncodedResolver = Box<dyn FnOnce(Env) -> Result<Option<String>> + Send>;
type UnitResolver = fn(Env) -> Result<()>;

fn resolve_unit(_: Env) -> Result<()> {
    Ok(())
}

type BoolResolver = fn(Env) -> Result<bool>;

fn resolve_true(_: Env) -> Result<bool> {
    Ok(true)
}

fn resolve_false(_: Env) -> Result<bool> {
    Ok(false)
}

/// Bytes charged per entry beyond its token and JSON (`maxBytes`, `maxEntryBytes`): the JS side's
/// size check before a set uses this very figure.
#[napi]
pub const ENTRY_OVERHEAD_BYTES: u32 = crate::store::ENTRY_OVERHEAD_BYTES as u32;

/// Vendure's limit on every session-cache call (ms); `redis.timeoutMs` must stay under it.
#[napi]
pub const VENDURE_CALL_LIMIT_MS: u32 = crate::redis::config::VENDURE_CALL_LIMIT.as_millis() as u32;

/// The generation bits of a slot-table word, as the near cache reads it through an `Int32Array`.
#[napi]
pub const SLOT_GENERATION_MASK: u32 = crate::generation::GENERATION_MASK;

/// How many trailing characters of a token the presence fingerprint mixes (src/presence.rs).
#[napi]
pub const PRESENCE_FINGERPRINT_CHARS: u32 = crate::presence::FINGERPRINT_CHARS as u32;

/// The presence fingerprint of a string's UTF-8 bytes: lets a test hold JS's computation to Rust's.
#[napi]
pub fn presence_fingerprint(text: String) -> u32 {
    crate::presence::fingerprint(text.as_bytes())
}

/// The CLOCK reference bit of a slot-table word (the sign bit of an `Int32Array` element).
#[napi]
pub const SLOT_REFERENCED_BIT: i32 = crate::generation::REFERENCED as i32;

/// Milliseconds on the monotonic clock leases are measured in (src/time.rs): JS calibrates
/// `performance.now()` against it once.
#[napi]
pub fn monotonic_now_ms() -> f64 {
    crate::time::monotonic_ms()
}

/// A deferred Promise that is settled with a fallback if it is dropped unsettled: a task cancelled
/// by the tier's shutdown (`destroy()` with calls in flight) still settles its Promise.
struct Settle<T: ToNapiValue + 'static, R: FnOnce(Env) -> Result<T> + 'static> {
    deferred: Option<JsDeferred<T, R>>,
    fallback: Option<R>,
}

impl<T: ToNapiValue + 'static, R: FnOnce(Env) -> Result<T> + 'static> Settle<T, R> {
    fn new(deferred: JsDeferred<T, R>, fallback: R) -> Self {
        Self {
            deferred: Some(deferred),
            fallback: Some(fallback),
        }
    }

    fn resolve(mut self, resolver: R) {
        if let Some(deferred) = self.deferred.take() {
            deferred.resolve(resolver);
        }
    }
}

impl<T: ToNapiValue + 'static, R: FnOnce(Env) -> Result<T> + 'static> Drop for Settle<T, R> {
    fn drop(&mut self) {
        if let (Some(deferred), Some(fallback)) = (self.deferred.take(), self.fallback.take()) {
            deferred.resolve(fallback);
        }
    }
}

fn resolve_none(_: Env) -> Result<Option<String>> {
    Ok(None)
}

/// The store's key for `token`: the token itself, or with a Redis tier its keyed hash (which is
/// what invalidations carry). None while the tier is not trustworthy: nothing local is served or
/// written then.
#[inline]
fn tier_key<'t>(tier: &TierCell, token: &'t str) -> Option<Cow<'t, str>> {
    match tier.get() {
        None => Some(Cow::Borrowed(token)),
        Some(shared) => shared.serving_key(token).map(Cow::Owned),
    }
}

/// The store's key for `token` whether or not the tier is trustworthy (deletes always apply).
fn tier_local_key<'t>(tier: &TierCell, token: &'t str) -> Cow<'t, str> {
    match tier.get() {
        None => Cow::Borrowed(token),
        Some(shared) => Cow::Owned(shared.local_key(token)),
    }
}

/// A handle on a process-wide store. Holding one keeps the store alive; `close` lets go of it.
#[napi]
pub struct NativeStore {
    name: String,
    /// The number the per-call functions (per_call.rs) name this store by, in this JS thread.
    id: u32,
    store: Option<registry::Handle>,
    hit_meta: Arc<HitMeta>,
    tier: TierCell,
}

#[napi]
impl NativeStore {
    #[napi(constructor, catch_unwind)]
    pub fn new(name: String, options: StoreOptions) -> Result<Self> {
        let config = StoreConfig {
            max_entries: options.max_entries as usize,
            max_bytes: options.max_bytes as usize,
            max_entry_bytes: options.max_entry_bytes as usize,
            ttl_ms: options.ttl_ms.map(|ms| ms as u64),
        };
        let keys = if options.with_redis {
            registry::KeyScheme::TierHashes
        } else {
            registry::KeyScheme::Tokens
        };
        let store = registry::open(&name, config, keys)
            .map_err(|mismatch| Error::new(Status::InvalidArg, mismatch.to_string()))?;
        let hit_meta: Arc<HitMeta> = Arc::new(Default::default());
        let tier: TierCell = Arc::new(OnceLock::new());
        let id = per_call::register(per_call::OpenStore {
            store: Arc::clone(&store),
            tier: Arc::clone(&tier),
            hit_meta: Arc::clone(&hit_meta),
        });
        Ok(Self {
            name,
            id,
            store: Some(store),
            hit_meta,
            tier,
        })
    }

    /// The number `storeGet`, `storeSet` and `storeDelete` take, valid in this thread until `close`.
    #[napi(getter)]
    pub fn id(&self) -> u32 {
        self.id
    }

    /// A Float64Array's memory: `[slot index, generation, epoch, deadline ms]` of the last hit.
    #[napi]
    pub fn hit_meta<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let meta = Arc::clone(&self.hit_meta);
        let ptr = meta.as_ptr() as *mut u8;
        let len = std::mem::size_of::<HitMeta>();
        // SAFETY: the buffer's finalizer holds `meta`, so the memory outlives the ArrayBuffer.
        unsafe { ArrayBuffer::from_external(env, ptr, len, meta, |_, meta| drop(meta)) }
    }

    /// An Int32Array's memory: the store's slot table (see generation.rs), shared by every thread.
    #[napi]
    pub fn slot_table<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        self.shared_buffer(
            env,
            |store| Arc::clone(store.slot_table()),
            |table| table.as_bytes_ptr(),
        )
    }

    /// A Uint8Array's memory: the store's per-fingerprint key counts (see presence.rs); a zero
    /// answers a miss in JS. Keys are tokens only without a Redis tier (with one, they are hashes).
    #[napi]
    pub fn presence<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        self.shared_buffer(
            env,
            |store| Arc::clone(store.presence()),
            |counts| counts.as_bytes_ptr(),
        )
    }

    /// An ArrayBuffer over memory the store shares with JS. Its finalizer holds `part` (not the
    /// store, which `close` may free at once), so the memory outlives the buffer.
    fn shared_buffer<'env, T: Send + Sync + 'static>(
        &self,
        env: &'env Env,
        part: impl FnOnce(&crate::store::Store) -> Arc<T>,
        bytes: impl FnOnce(&T) -> (*mut u8, usize),
    ) -> Result<ArrayBuffer<'env>> {
        let shared = self
            .store
            .as_ref()
            .map(|store| part(store))
            .ok_or_else(|| Error::new(Status::GenericFailure, "the store is closed"))?;
        let (ptr, len) = bytes(&shared);
        // SAFETY: the finalizer owns `shared`, which owns the memory at `ptr`.
        unsafe { ArrayBuffer::from_external(env, ptr, len, shared, |_, shared| drop(shared)) }
    }

    /// Counts misses the presence counts answered in JS.
    #[napi(catch_unwind)]
    pub fn add_misses(&self, misses: u32) {
        if let Some(store) = &self.store {
            store.add_misses(u64::from(misses));
        }
    }

    /// The first value of `hitMeta()` as Rust sees it: proves JS writes reach the same memory.
    #[napi]
    pub fn probe_hit_meta(&self) -> f64 {
        f64::from_bits(self.hit_meta[0].load(Ordering::Relaxed))
    }

    /// Counts hits the near cache answered without calling the store.
    #[napi(catch_unwind)]
    pub fn add_hits(&self, hits: u32) {
        if let Some(store) = &self.store {
            store.add_hits(u64::from(hits));
        }
    }

    #[napi(catch_unwind)]
    pub fn reject(&self, token: String) {
        let key = tier_local_key(&self.tier, &token);
        if let Some(store) = &self.store {
            store.reject(&key);
        }
    }

    /// Counts a session refused before it could name a store key.
    #[napi(catch_unwind)]
    pub fn count_rejection(&self) {
        if let Some(store) = &self.store {
            store.count_rejection();
        }
    }

    #[napi(catch_unwind)]
    pub fn clear(&self) {
        if let Some(store) = &self.store {
            store.clear();
        }
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> StoreStats {
        self.store
            .as_ref()
            .map_or_else(Stats::default, |store| store.stats())
            .into()
    }

    /// Lets go of the store and of the Redis tier; each is freed (the tier's thread joined, here)
    /// when no other handle in the process holds it.
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        per_call::unregister(self.id);
        self.store = None;
        self.tier = Arc::new(OnceLock::new());
    }

    /// Whether this handle has a Redis tier.
    #[napi(catch_unwind)]
    pub fn has_redis(&self) -> bool {
        self.tier.get().is_some()
    }

    /// Connects the store's Redis tier (or joins the one another strategy with the same `name`
    /// connected). Resolves when connected; rejects with the tier's error, which names the URL
    /// without its password.
    #[napi(catch_unwind)]
    pub fn connect_redis<'env>(
        &self,
        env: &'env Env,
        options: RedisOptions,
    ) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred::<(), UnitResolver>()?;
        let Some(store) = self.store.as_ref().map(|handle| Arc::clone(handle)) else {
            deferred.reject(Error::new(Status::GenericFailure, "the store is closed"));
            return Ok(promise);
        };
        let mut config = RedisTierConfig::new(options.url, options.secret);
        config.key_prefix = options.key_prefix;
        config.op_timeout = Duration::from_millis(u64::from(options.timeout_ms));
        let name = self.name.clone();
        let cell = Arc::clone(&self.tier);
        let spawned = std::thread::Builder::new()
            .name("vsc-redis-connect".into())
            .spawn(move || match shared_tier::open(&name, &store, config) {
                Ok(shared) => {
                    // A second connect on the same handle keeps the first tier (the same one).
                    let _ = cell.set(shared);
                    drop(cell);
                    deferred.resolve(resolve_unit);
                }
                Err(message) => deferred.reject(Error::new(Status::GenericFailure, message)),
            });
        if let Err(error) = spawned {
            return Err(Error::new(
                Status::GenericFailure,
                format!("cannot start a thread to connect to Redis: {error}"),
            ));
        }
        Ok(promise)
    }

    /// Looks `token` up in Redis; resolves with the encoded session (and fills the local store), or
    /// null on a miss, a corrupt value, an outage or a timeout. Never rejects.
    #[napi(catch_unwind)]
    pub fn redis_get<'env>(&self, env: &'env Env, token: String) -> Result<Object<'env>> {
        let (deferred, promise) = env.create_deferred::<Option<String>, EncodedResolver>()?;
        let settle = Settle::new(deferred, Box::new(resolve_none) as EncodedResolver);
        let (Some(shared), Some(store)) = (self.tier.get(), &self.store) else {
            return Ok(promise);
        };
        let read = shared.read_through(store, &token);
        // If the runtime is gone the task is dropped, and `settle` resolves null.
        let _ = shared.tier.spawn_detached(async move {
            let encoded = read.await;
            settle.resolve(Box::new(move |_| Ok(encoded)));
        });
        Ok(promise)
    }

    /// Stores the encoded session (without its token) in Redis until its deadline, and tells the
    /// other instances: after `storeSet(..., writeThrough = true)`, which marked the write pending.
    /// Resolves with whether Redis took it, once it answered or the timeout passed; never rejects.
    #[napi(catch_unwind)]
    pub fn redis_set<'env>(
        &self,
        env: &'env Env,
        token: String,
        encoded: String,
        cache_expiry_s: f64,
        expires_ms: f64,
    ) -> Result<Object<'env>> {
        let ttl_ms = self.store.as_ref().and_then(|store| store.config().ttl_ms);
        let deadline = deadline_ms(WallClock.now_ms(), cache_expiry_s, expires_ms, ttl_ms);
        self.redis_write(env, |tier| {
            let op = tier.set(
                &token,
                &shared_tier::payload(deadline, encoded.as_bytes()),
                deadline,
            );
            async move { op.await != crate::redis::SetOutcome::Unavailable }
        })
    }

    /// Deletes `token`'s session in Redis and tells the other instances, after a
    /// `storeSet(..., writeThrough = true)` that did not keep it (which marked the write pending);
    /// resolves with whether Redis took it (if not, the tier bumps the namespace when Redis is back);
    /// never rejects.
    #[napi(catch_unwind)]
    pub fn redis_delete<'env>(&self, env: &'env Env, token: String) -> Result<Object<'env>> {
        self.redis_write(env, |tier| {
            let op = tier.delete(&token);
            async move { op.await == WriteOutcome::Done }
        })
    }

    /// Deletes `token`'s session here and in Redis, and tells the other instances. The local delete
    /// and its "write pending" fence are one step under the store's writer lock, so no thread's read of
    /// Redis sent before the Redis delete lands fills the session back. Resolves with whether Redis
    /// took it (if not, the tier bumps the namespace when Redis is back); never rejects.
    #[napi(catch_unwind)]
    pub fn delete_through<'env>(&self, env: &'env Env, token: String) -> Result<Object<'env>> {
        self.redis_write(env, |tier| {
            if let Some(store) = &self.store {
                store.delete_then_write(&tier.key_hash(&token));
            }
            let op = tier.delete(&token);
            async move { op.await == WriteOutcome::Done }
        })
    }

    /// Drops a session the caller refused to store, here and in Redis (an older value there must
    /// not outlive it), fenced as `deleteThrough` is; counts the refusal.
    #[napi(catch_unwind)]
    pub fn reject_through<'env>(&self, env: &'env Env, token: String) -> Result<Object<'env>> {
        self.redis_write(env, |tier| {
            if let Some(store) = &self.store {
                store.reject_then_write(&tier.key_hash(&token));
            }
            let op = tier.delete(&token);
            async move { op.await == WriteOutcome::Done }
        })
    }

    /// Makes every session unreachable here and in Redis, and tells the other instances. The local
    /// clear and its fence are one step: until the namespace bump is acknowledged no read of Redis
    /// fills the store, and reads sent before then never do. Never rejects.
    #[napi(catch_unwind)]
    pub fn clear_through<'env>(&self, env: &'env Env) -> Result<Object<'env>> {
        self.redis_write(env, |tier| {
            if let Some(store) = &self.store {
                store.clear_then_write();
            }
            let op = tier.clear();
            async move { op.await == WriteOutcome::Done }
        })
    }

    fn redis_write<'env, F>(
        &self,
        env: &'env Env,
        start: impl FnOnce(&crate::redis::RedisTier) -> F,
    ) -> Result<Object<'env>>
    where
        F: std::future::Future<Output = bool> + Send + 'static,
    {
        let (deferred, promise) = env.create_deferred::<bool, BoolResolver>()?;
        let Some(shared) = self.tier.get() else {
            deferred.resolve(resolve_true);
            return Ok(promise);
        };
        let settle = Settle::new(deferred, resolve_false as BoolResolver);
        let op = start(&shared.tier);
        let _ = shared.tier.spawn_detached(async move {
            let reached = op.await;
            settle.resolve(if reached { resolve_true } else { resolve_false });
        });
        Ok(promise)
    }

    /// A Float64Array's memory: `[lease end]` in `monotonicNowMs()` milliseconds (0 when revoked),
    /// the bound near caches check before serving (src/redis/lease.rs). Null without a tier.
    #[napi]
    pub fn redis_lease<'env>(&self, env: &'env Env) -> Result<Option<ArrayBuffer<'env>>> {
        let Some(shared) = self.tier.get() else {
            return Ok(None);
        };
        let cell = shared.tier.lease().cell();
        let ptr = cell.as_ptr() as *mut u8;
        // SAFETY: the buffer's finalizer holds `cell`, so the memory outlives the ArrayBuffer.
        unsafe { ArrayBuffer::from_external(env, ptr, 8, cell, |_, cell| drop(cell)) }.map(Some)
    }

    /// Whether the tier trusts local layers now (false while the invalidation channel is down or a
    /// namespace bump is owed); true without a tier. A lease lapsing for a moment under load is
    /// not an outage and does not change this.
    #[napi(catch_unwind)]
    pub fn redis_trustworthy(&self) -> bool {
        self.tier.get().is_none_or(|shared| shared.tier.trusted())
    }

    /// The Redis tier's counters, or null without a tier.
    #[napi(catch_unwind)]
    pub fn redis_stats(&self) -> Option<RedisTierStats> {
        let shared = self.tier.get()?;
        Some(RedisTierStats::new(
            shared.tier.stats(),
            shared.tier.trusted(),
        ))
    }
}

impl Drop for NativeStore {
    /// A store never closed (its JS object collected) leaves this thread's table too.
    fn drop(&mut self) {
        per_call::unregister(self.id);
    }
}
