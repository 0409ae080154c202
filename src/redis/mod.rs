//! The Redis shared tier: sessions shared by every Vendure instance (server processes, the worker,
//! other machines), with invalidations that keep each instance's local layers coherent. Plain Rust:
//! the N-API binding wraps it.
//!
//! ```text
//!  instance A                                   instance B
//!  local layers ── miss ──► RedisTier ─┐   ┌─ RedisTier ◄── miss ── local layers
//!       ▲                    set/delete │   │                            ▲
//!       │ invalidate(hash)   clear      ▼   ▼                            │ invalidate(hash)
//!       └────── subscriber ◄── {prefix}invalidate ──► subscriber ────────┘
//!                                   Redis
//!                 {prefix}ns = namespace,  {prefix}{ns}:{hash} = session
//! ```
//!
//! | module | concept |
//! |---|---|
//! | [`config`] | [`RedisTierConfig`], its validation, URLs without passwords, [`RedisTierError`] |
//! | [`keys`] | the key scheme: keyed hashes of tokens, the namespace, the channel |
//! | [`ttl`] | deadline → `PX` arithmetic |
//! | [`value`] | the stored value's format: version marker, MAC, payload |
//! | [`outage`] | the outage policy, a pure state machine |
//! | [`client`] | the data connection and the Lua scripts (one round trip per operation) |
//! | [`invalidation`] | the channel's messages and the subscriber |
//! | [`runtime`] | the tier's own tokio runtime, and [`Op`], the future operations return |
//! | [`stats`] | [`RedisStats`] |
//!
//! # What the tier guarantees
//!
//! - **Never an error, never a stall.** Every operation answers within `op_timeout` (20 ms by
//!   default, under Vendure's 50 ms); a Redis that is down, slow or refusing turns into
//!   `Lookup::Unavailable` / `WriteOutcome::Unavailable`, counted in [`RedisStats`]. Nothing panics.
//! - **No token in Redis.** Keys are `hex(BLAKE3-keyed(token))`; values are the caller's payload
//!   (the caller strips the token), behind a version marker and a MAC bound to the key.
//! - **Coherence.** `set` and `delete` publish the key hash in the same script as the write, `clear`
//!   bumps the namespace and publishes it; every other instance's sink hears it (its own instance
//!   does not: its caller already updated its local layers).
//! - **Outages are safe** (see [`outage`]): while the subscription is down, [`RedisTier::local_trustworthy`]
//!   is false and `get` does not read Redis; the sink's `invalidate_all()` runs when it turns false
//!   (right after it does) and again before it turns true again; a `delete` or `clear` that could not reach Redis, or a restarted
//!   server, owes a namespace bump that is made before it turns true again.
//!
//! Not guaranteed: what an instance cut off from Redis deleted is not seen by instances that still
//! reach it until the cut-off one returns and bumps the namespace (nobody can tell them); their
//! local entries still end at the session's `cacheExpiry`.
//!
//! # Filling a local layer from a `get`
//!
//! A `Hit` may race with an invalidation of the same key (the reply and the message travel on two
//! connections). Read [`RedisTier::invalidation_seq`] before calling `get`, insert the hit, then
//! read it again: if it moved, drop what was inserted (or insert only if it did not move).

pub mod client;
pub mod config;
pub mod invalidation;
pub mod keys;
pub mod outage;
pub mod runtime;
pub mod stats;
pub mod ttl;
pub mod value;

pub use config::{RedisTierConfig, RedisTierError};
pub use keys::KeyScheme;
pub use outage::Phase;
pub use runtime::Op;
pub use stats::RedisStats;

use crate::time::{TimeSource, WallClock};
use client::{is_connection_error, is_wrong_type, Commands, Names};
use invalidation::{clear_message_prefix, key_message, Subscription};
use outage::{Event, OutagePolicy, Step};
use runtime::{OwnedRuntime, Unavailable};
use stats::{bump, Counters};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use tokio::runtime::Handle;
use tokio::sync::Notify;

/// Where invalidations go: the caller's local layers. Called on the tier's runtime thread; must be
/// quick, must not call back into the tier, and must not panic.
pub trait InvalidationSink: Send + Sync + 'static {
    /// Another instance wrote or deleted the session with this key hash ([`RedisTier::key_hash`]).
    fn invalidate(&self, key_hash: &str);
    /// Drop everything: another instance cleared, or invalidations may have been missed.
    fn invalidate_all(&self);
}

/// The answer of a `get`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Lookup {
    /// The payload `set` stored.
    Hit(Vec<u8>),
    Miss,
    /// A value was there, but of another format or version, damaged, or failing its MAC: a miss,
    /// counted in `corrupt`.
    Corrupt,
    /// Redis was not asked (the tier is not trustworthy) or did not answer in time: a miss.
    Unavailable,
}

/// The answer of a `set`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SetOutcome {
    Stored,
    /// The deadline has passed: nothing stored, and any older value for the token deleted.
    AlreadyExpired,
    /// Redis did not take it; counted.
    Unavailable,
}

/// The answer of a `delete` or `clear`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WriteOutcome {
    Done,
    /// Redis may not have taken it: remembered, and the namespace is bumped before the tier is
    /// trustworthy again.
    Unavailable,
}

impl Unavailable for Lookup {
    fn unavailable() -> Self {
        Lookup::Unavailable
    }
}

impl Unavailable for SetOutcome {
    fn unavailable() -> Self {
        SetOutcome::Unavailable
    }
}

impl Unavailable for WriteOutcome {
    fn unavailable() -> Self {
        WriteOutcome::Unavailable
    }
}

/// Why a command did not give an answer.
enum Failure {
    WrongType,
    Error,
    Timeout,
}

/// Everything the operations and the subscriber share.
pub(crate) struct Inner {
    pub(crate) config: RedisTierConfig,
    keys: KeyScheme,
    pub(crate) client: ::redis::Client,
    pub(crate) channel: String,
    commands: Commands,
    /// This instance's id in messages.
    pub(crate) origin: String,
    clear_prefix: String,
    policy: Mutex<OutagePolicy>,
    /// The policy's `trustworthy()`, readable without its lock.
    trustworthy: AtomicBool,
    /// Advances before every call to the sink.
    pub(crate) seq: AtomicU64,
    pub(crate) sink: Arc<dyn InvalidationSink>,
    pub(crate) counters: Counters,
    /// Operations that saw a connection error ask the subscriber to ping its connection now.
    pub(crate) check_connection: Notify,
    clock: Arc<dyn TimeSource>,
    handle: Handle,
}

impl Inner {
    fn trustworthy(&self) -> bool {
        self.trustworthy.load(Ordering::Acquire)
    }

    fn lock_policy(&self) -> MutexGuard<'_, OutagePolicy> {
        self.policy
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Feeds the policy an event and carries out its step: the flush under the lock (so that no
    /// other event can report trustworthy before the flush is done), then the bump, if any.
    pub(crate) fn apply(self: &Arc<Self>, event: Event) {
        if let Some(ticket) = self.step(event).bump {
            self.start_bump(ticket);
        }
    }

    fn step(&self, event: Event) -> Step {
        let mut policy = self.lock_policy();
        let was_trustworthy = policy.trustworthy();
        let step = policy.on(event);
        let trustworthy = policy.trustworthy();
        // Losing trust flushes too: first nothing local is served any more, then what local layers
        // hold goes (and the sequence moves, so a `get` in flight does not put an entry back).
        let losing_trust = was_trustworthy && !trustworthy;
        if losing_trust {
            self.trustworthy.store(false, Ordering::Release);
        }
        if step.flush_local || losing_trust {
            self.seq.fetch_add(1, Ordering::AcqRel);
            bump(&self.counters.invalidate_alls);
            self.sink.invalidate_all();
        }
        self.trustworthy.store(trustworthy, Ordering::Release);
        step
    }

    /// Bumps the namespace until the policy has no bump to ask for: retried with backoff while it
    /// fails, left to the next subscription if the channel is lost meanwhile.
    fn start_bump(self: &Arc<Self>, ticket: u64) {
        let inner = Arc::clone(self);
        self.handle.spawn(async move {
            let mut ticket = ticket;
            let mut delay = std::time::Duration::from_millis(50);
            loop {
                let bump = inner.at_most_twice(|| inner.commands.clear(&inner.clear_prefix));
                let done = matches!(
                    tokio::time::timeout(inner.config.connect_timeout, bump).await,
                    Ok(Ok(_))
                );
                let event = if done {
                    Event::BumpSucceeded { ticket }
                } else {
                    Event::BumpFailed { ticket }
                };
                if let Some(next) = inner.step(event).bump {
                    ticket = next;
                    continue;
                }
                if done {
                    return;
                }
                tokio::time::sleep(delay).await;
                delay = (delay * 2).min(std::time::Duration::from_secs(1));
                match inner.step(Event::Tick).bump {
                    Some(next) => ticket = next,
                    None => return,
                }
            }
        });
    }

    /// Sends a command; if it failed because its connection was found dropped, sends it once more,
    /// on the connection the manager makes anew. Every command here may run twice harmlessly: GET,
    /// SET and DEL are idempotent, and a second INCR of the namespace is just another clear.
    async fn at_most_twice<T, F>(&self, command: impl Fn() -> F) -> ::redis::RedisResult<T>
    where
        F: Future<Output = ::redis::RedisResult<T>>,
    {
        match command().await {
            Err(error) if is_connection_error(&error) => {
                self.check_connection.notify_one();
                command().await
            }
            answer => answer,
        }
    }

    /// Runs a command (at most twice) within `op_timeout`, counting what goes wrong.
    async fn timed<T, F>(&self, command: impl Fn() -> F) -> Result<T, Failure>
    where
        F: Future<Output = ::redis::RedisResult<T>>,
    {
        match tokio::time::timeout(self.config.op_timeout, self.at_most_twice(command)).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if is_wrong_type(&error) => Err(Failure::WrongType),
            Ok(Err(error)) => {
                bump(&self.counters.errors);
                if is_connection_error(&error) {
                    self.check_connection.notify_one();
                }
                Err(Failure::Error)
            }
            Err(_) => {
                bump(&self.counters.timeouts);
                // A silent connection looks like this: have the subscriber check its own.
                self.check_connection.notify_one();
                Err(Failure::Timeout)
            }
        }
    }

    async fn get(&self, key_hash: String) -> Lookup {
        let lookup = match self.timed(|| self.commands.get(&key_hash)).await {
            Ok(Some(mut stored)) => match value::decode(&self.keys, &key_hash, &stored) {
                Ok(_) => {
                    stored.drain(..value::HEADER_LEN);
                    Lookup::Hit(stored)
                }
                Err(_) => Lookup::Corrupt,
            },
            Ok(None) => Lookup::Miss,
            Err(Failure::WrongType) => Lookup::Corrupt,
            Err(Failure::Error | Failure::Timeout) => Lookup::Unavailable,
        };
        // A reply that raced with the loss of the channel (perhaps from a restarted server) is not
        // trusted either.
        let lookup = match lookup {
            Lookup::Hit(_) if !self.trustworthy() => Lookup::Unavailable,
            other => other,
        };
        bump(match lookup {
            Lookup::Hit(_) => &self.counters.hits,
            Lookup::Miss => &self.counters.misses,
            Lookup::Corrupt => &self.counters.corrupt,
            Lookup::Unavailable => &self.counters.unavailable,
        });
        lookup
    }

    async fn set(&self, key_hash: String, stored: Vec<u8>, px_ms: u64) -> SetOutcome {
        let message = key_message(&self.origin, &key_hash);
        match self
            .timed(|| self.commands.set(&key_hash, &stored, px_ms, &message))
            .await
        {
            Ok(()) => {
                bump(&self.counters.sets);
                SetOutcome::Stored
            }
            Err(_) => SetOutcome::Unavailable,
        }
    }

    async fn delete(self: &Arc<Self>, key_hash: String) -> WriteOutcome {
        let message = key_message(&self.origin, &key_hash);
        match self
            .timed(|| self.commands.delete(&key_hash, &message))
            .await
        {
            Ok(()) => {
                bump(&self.counters.deletes);
                WriteOutcome::Done
            }
            Err(_) => {
                self.apply(Event::WriteLost);
                WriteOutcome::Unavailable
            }
        }
    }

    async fn clear(self: &Arc<Self>) -> WriteOutcome {
        match self.timed(|| self.commands.clear(&self.clear_prefix)).await {
            Ok(_) => {
                bump(&self.counters.clears);
                WriteOutcome::Done
            }
            Err(_) => {
                self.apply(Event::WriteLost);
                WriteOutcome::Unavailable
            }
        }
    }
}

/// A random id for this instance's messages.
fn new_origin() -> String {
    use std::hash::{BuildHasher, Hasher};
    let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
    hasher.write_u32(std::process::id());
    hasher.write_u128(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos()),
    );
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    hasher.write_u64(COUNTER.fetch_add(1, Ordering::Relaxed));
    format!("{:016x}", hasher.finish())
}

/// Marks the tier untrustworthy if the subscriber ever stops (the runtime shutting down, or a
/// panicking sink): without it, nobody would hear invalidations any more.
struct SubscriberGuard(Arc<Inner>);

impl Drop for SubscriberGuard {
    fn drop(&mut self) {
        self.0.trustworthy.store(false, Ordering::Release);
    }
}

/// Reads a tier's invalidation sequence; see [`RedisTier::seq_watch`].
#[derive(Clone)]
pub struct SeqWatch(Arc<Inner>);

impl SeqWatch {
    pub fn get(&self) -> u64 {
        self.0.seq.load(Ordering::Acquire)
    }

    /// Whether local entries may be served, as [`RedisTier::local_trustworthy`].
    pub fn trustworthy(&self) -> bool {
        self.0.trustworthy()
    }
}

/// One instance's connection to the shared tier. Dropping it closes its connections and stops its
/// runtime thread (see [`runtime`]).
pub struct RedisTier {
    inner: Arc<Inner>,
    runtime: OwnedRuntime,
}

impl std::fmt::Debug for RedisTier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTier")
            .field("url", &self.inner.config.redacted_url())
            .field("prefix", &self.inner.keys.prefix())
            .field("phase", &self.phase())
            .finish_non_exhaustive()
    }
}

impl RedisTier {
    /// Connects, subscribes to the invalidation channel, and starts the subscriber. Fails with an
    /// error naming the URL (without its password) if Redis cannot be reached, refuses the password
    /// or the database index, or does not answer within `connect_timeout` at each step.
    pub async fn connect(
        config: RedisTierConfig,
        sink: Arc<dyn InvalidationSink>,
    ) -> Result<Self, RedisTierError> {
        Self::connect_with_clock(config, sink, Arc::new(WallClock)).await
    }

    /// [`connect`](Self::connect) with a clock for the TTL arithmetic (tests drive a mock clock).
    pub async fn connect_with_clock(
        config: RedisTierConfig,
        sink: Arc<dyn InvalidationSink>,
        clock: Arc<dyn TimeSource>,
    ) -> Result<Self, RedisTierError> {
        let client = config.validate()?;
        let url = config.redacted_url();
        let failed = |reason: String| RedisTierError::Connect {
            url: url.clone(),
            reason,
        };
        let runtime = OwnedRuntime::new()
            .map_err(|e| failed(format!("cannot start the Redis runtime thread: {e}")))?;
        let handle = runtime
            .handle()
            .cloned()
            .ok_or_else(|| failed("the Redis runtime is gone".into()))?;
        let establish = Self::establish(config, client, sink, clock, handle.clone());
        let (inner, subscription) = match handle.spawn(establish).await {
            Ok(result) => result.map_err(failed)?,
            Err(_) => return Err(failed("the connection task stopped".into())),
        };
        let guard = SubscriberGuard(Arc::clone(&inner));
        handle.spawn(async move {
            let guard = guard;
            invalidation::supervise(Arc::clone(&guard.0), subscription).await;
        });
        Ok(Self { inner, runtime })
    }

    /// On the tier's runtime: subscribe, identify the server, open the data connection.
    async fn establish(
        config: RedisTierConfig,
        client: ::redis::Client,
        sink: Arc<dyn InvalidationSink>,
        clock: Arc<dyn TimeSource>,
        handle: Handle,
    ) -> Result<(Arc<Inner>, Subscription), String> {
        let keys = KeyScheme::new(&config.key_prefix, &config.secret);
        let channel = keys.channel();
        let (subscription, server_id) =
            invalidation::subscribe_and_identify(&client, &channel, &config).await?;
        let names = Names {
            prefix: keys.prefix().to_string(),
            namespace_key: keys.namespace_key(),
            channel: channel.clone(),
        };
        let timeout = config.connect_timeout;
        let commands = tokio::time::timeout(timeout, Commands::open(&client, &config, names))
            .await
            .map_err(|_| format!("opening the data connection: no answer within {timeout:?}"))?
            .map_err(|e| config.scrub(&e.to_string()))?;
        let origin = new_origin();
        let inner = Arc::new(Inner {
            clear_prefix: clear_message_prefix(&origin),
            origin,
            config,
            keys,
            client,
            channel,
            commands,
            policy: Mutex::new(OutagePolicy::connected(&server_id)),
            trustworthy: AtomicBool::new(true),
            seq: AtomicU64::new(0),
            sink,
            counters: Counters::default(),
            check_connection: Notify::new(),
            clock,
            handle,
        });
        Ok((inner, subscription))
    }

    fn spawn<T: Unavailable + Send + 'static>(
        &self,
        operation: impl Future<Output = T> + Send + 'static,
    ) -> Op<T> {
        match self.runtime.handle() {
            Some(handle) => Op::running(handle.spawn(operation)),
            None => Op::ready(T::unavailable()),
        }
    }

    /// Runs `task` on the tier's runtime, without waiting for it (a caller that is not async, such
    /// as the N-API binding, awaits an [`Op`] there and hands the answer on). Returns false, and
    /// drops `task`, if the runtime is gone.
    pub fn spawn_detached(&self, task: impl Future<Output = ()> + Send + 'static) -> bool {
        match self.runtime.handle() {
            Some(handle) => {
                drop(handle.spawn(task));
                true
            }
            None => false,
        }
    }

    /// `hex(BLAKE3-keyed(token))`: the session's name in Redis and in invalidations, for keying the
    /// local store alike.
    pub fn key_hash(&self, token: &str) -> String {
        self.inner.keys.key_hash(token)
    }

    /// The key scheme (prefix and names in Redis).
    pub fn key_scheme(&self) -> &KeyScheme {
        &self.inner.keys
    }

    /// Whether local entries may be served: false while the invalidation channel is down or a
    /// namespace bump is owed. One atomic load.
    pub fn local_trustworthy(&self) -> bool {
        self.inner.trustworthy()
    }

    /// Where the outage policy stands.
    pub fn phase(&self) -> Phase {
        self.inner.lock_policy().phase()
    }

    /// Advances before every call to the sink (see "Filling a local layer from a `get`").
    pub fn invalidation_seq(&self) -> u64 {
        self.inner.seq.load(Ordering::Acquire)
    }

    /// A handle that reads [`invalidation_seq`](Self::invalidation_seq) without keeping the tier (and
    /// its runtime) alive, for a task that fills a local layer after its `get` answered.
    pub fn seq_watch(&self) -> SeqWatch {
        SeqWatch(Arc::clone(&self.inner))
    }

    /// The payload stored for `token`. Not sent to Redis while the tier is not trustworthy.
    pub fn get(&self, token: &str) -> Op<Lookup> {
        let key_hash = self.key_hash(token);
        if !self.inner.trustworthy() {
            bump(&self.inner.counters.skipped);
            bump(&self.inner.counters.unavailable);
            return Op::ready(Lookup::Unavailable);
        }
        let inner = Arc::clone(&self.inner);
        self.spawn(async move { inner.get(key_hash).await })
    }

    /// Stores `payload` for `token` until `deadline_ms` (wall-clock ms since the Unix epoch, by the
    /// tier's clock), and tells the other instances. A deadline already past stores nothing and
    /// deletes any older value, as `delete` does.
    pub fn set(&self, token: &str, payload: &[u8], deadline_ms: u64) -> Op<SetOutcome> {
        let key_hash = self.key_hash(token);
        let inner = Arc::clone(&self.inner);
        match ttl::px_until(deadline_ms, self.inner.clock.now_ms()) {
            Some(px_ms) => {
                let stored = value::encode(&self.inner.keys, &key_hash, payload);
                self.spawn(async move { inner.set(key_hash, stored, px_ms).await })
            }
            None => self.spawn(async move {
                inner.delete(key_hash).await;
                SetOutcome::AlreadyExpired
            }),
        }
    }

    /// Deletes `token`'s value and tells the other instances.
    pub fn delete(&self, token: &str) -> Op<WriteOutcome> {
        let key_hash = self.key_hash(token);
        let inner = Arc::clone(&self.inner);
        self.spawn(async move { inner.delete(key_hash).await })
    }

    /// Makes every stored value unreachable at once (`INCR` of the namespace; old values die by their
    /// TTL) and tells the other instances.
    pub fn clear(&self) -> Op<WriteOutcome> {
        let inner = Arc::clone(&self.inner);
        self.spawn(async move { inner.clear().await })
    }

    pub fn stats(&self) -> RedisStats {
        let outage = self.inner.lock_policy().counts();
        self.inner.counters.snapshot(outage)
    }

    /// The URL, its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        self.inner.config.redacted_url()
    }
}
