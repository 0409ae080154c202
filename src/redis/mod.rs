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
//! | [`client`] | the data connection, its validation, and the Lua scripts (one round trip per operation) |
//! | [`lease`] | the liveness lease that local hits need |
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
//!   (the caller strips the token), behind a version marker and a MAC bound to the key and the
//!   namespace.
//! - **Coherence.** `set` and `delete` publish the key hash in the same script as the write, `clear`
//!   bumps the namespace and publishes it; every other instance's sink hears it (its own instance
//!   does not: its caller already updated its local layers).
//! - **Local hits need a fresh proof of liveness** ([`lease`]): [`RedisTier::local_trustworthy`] is
//!   true only while a `PING` sent on the invalidation connection less than [`lease::LEASE`] ago has
//!   been answered, every message before it delivered, and nothing is owed (see [`outage`]).
//! - **A write lands within its call or never.** A `set` carries the latest Redis time at which it
//!   may take effect; a `set` or `delete` that failed or timed out is followed by a *repair*, a
//!   delete of its key that is published (late deletes are harmless); if even that fails, the write
//!   is *lost* and the namespace is bumped before local layers are trusted again.
//! - **Trust is per server incarnation.** Every data connection is validated before use (see
//!   [`client`]): a server restarted from old data or failed over bumps the namespace in Redis
//!   itself, for every process, running or yet to start. `READONLY` replaces the connection.
//!
//! Not guaranteed: what an instance cut off from Redis altogether deleted is not seen by instances
//! that still reach it until the cut-off one returns and bumps the namespace (nobody can tell them);
//! their local entries still end at the session's `cacheExpiry`.
//!
//! # Filling a local layer from a `get`
//!
//! A `Hit` may race with writes of the same key in this process and with invalidations from others
//! (the reply and the message travel on two connections). The caller fences it: see
//! [`crate::store::FillTicket`] and [`crate::shared_tier`].

pub mod client;
pub mod config;
pub mod invalidation;
pub mod keys;
pub mod lease;
pub mod outage;
pub mod runtime;
pub mod stats;
pub mod target;
pub mod ttl;
pub mod value;

pub use config::{RedisTierConfig, RedisTierError};
pub use keys::KeyScheme;
pub use lease::Lease;
pub use outage::Phase;
pub use runtime::Op;
pub use stats::RedisStats;

use crate::time::{TimeSource, WallClock};
use client::{is_link_error, is_wrong_type, Commands, Link, Names, SetReply, Validation};
use invalidation::{clear_message_prefix, key_message, Subscription};
use outage::{Event, OutagePolicy, Step};
use runtime::{OwnedRuntime, Unavailable};
use stats::{bump, Counters};
use std::future::Future;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};
use tokio::runtime::Handle;
use tokio::sync::Notify;

/// Where invalidations go: the caller's local layers. Called on the tier's runtime thread; must be
/// quick, must not call back into the tier, and must not panic.
pub trait InvalidationSink: Send + Sync + 'static {
    /// Another instance wrote or deleted the session with this key hash ([`RedisTier::key_hash`]).
    fn invalidate(&self, key_hash: &str);
    /// Drop everything: another instance cleared, or invalidations may have been missed.
    fn invalidate_all(&self);
    /// A write (or delete) of the session with this key hash that this instance sent took effect, was
    /// repaired, or was given up on as lost (local layers are then flushed and distrusted until a
    /// namespace bump). Once per [`RedisTier::set`] / [`RedisTier::delete`]: their caller marked the
    /// write pending in its local layers, in the same step as the local write (until it settles, Redis
    /// may still hold the older value, and a read of it must not refill them).
    fn write_settled(&self, _key_hash: &str) {}
    /// A clear (namespace bump) this instance sent took effect, or was given up on as lost. Once per
    /// [`RedisTier::clear`], whose caller marked it pending in the same step as the local clear.
    fn clear_settled(&self) {}
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

/// How often an idle data connection is checked (and Redis' clock measured again).
const LINK_CHECK_INTERVAL: Duration = Duration::from_secs(1);
/// Attempts to repair a key after a failed write before the write counts as lost.
const REPAIR_ATTEMPTS: u32 = 4;

/// Everything the operations and the subscriber share.
pub(crate) struct Inner {
    pub(crate) config: RedisTierConfig,
    keys: KeyScheme,
    target: target::Target,
    pub(crate) channel: String,
    commands: Commands,
    /// This instance's id in messages.
    pub(crate) origin: String,
    policy: Mutex<OutagePolicy>,
    /// The policy's `trustworthy()` (Up), readable without its lock: whether Redis may be read.
    trustworthy: AtomicBool,
    /// Whether local layers may serve (see [`lease`]).
    lease: Lease,
    /// The namespace values are bound to when written: the newest one heard of.
    namespace: AtomicU64,
    /// The server incarnation (`run_id`) the subscription was validated against.
    validated_server: Mutex<String>,
    link: Mutex<Option<Link>>,
    link_ready: Notify,
    link_connecting: AtomicBool,
    next_link_id: AtomicU64,
    pub(crate) sink: Arc<dyn InvalidationSink>,
    pub(crate) counters: Counters,
    /// Operations that saw a connection error ask the subscriber to prove its connection now.
    pub(crate) check_connection: Notify,
    /// Asks the subscriber to drop its subscription and subscribe (and validate) again.
    pub(crate) resubscribe: Notify,
    clock: Arc<dyn TimeSource>,
    handle: Handle,
}

impl Inner {
    /// A client for the server to use now (see [`target`]).
    pub(crate) async fn client(&self) -> ::redis::RedisResult<::redis::Client> {
        self.target.client(self.config.connect_timeout).await
    }

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
        // hold goes (a fill in flight finds the epoch moved and does not put an entry back).
        let losing_trust = was_trustworthy && !trustworthy;
        if losing_trust {
            self.trustworthy.store(false, Ordering::Release);
            self.lease.revoke();
        }
        if step.flush_local || losing_trust {
            bump(&self.counters.invalidate_alls);
            self.sink.invalidate_all();
        }
        self.trustworthy.store(trustworthy, Ordering::Release);
        step
    }

    /// The subscriber proved that every message published before `proof_sent_ms` was delivered.
    pub(crate) fn renew_lease(&self, proof_sent_ms: f64) {
        let policy = self.lock_policy();
        if policy.trustworthy() {
            self.lease.renew(proof_sent_ms);
        }
    }

    /// Flushes local layers (a namespace bump this instance made is not heard back on the channel).
    fn flush_local(&self) {
        bump(&self.counters.invalidate_alls);
        self.sink.invalidate_all();
    }

    fn lock_link(&self) -> MutexGuard<'_, Option<Link>> {
        self.link
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner())
    }

    /// Drops the link with this id (if it is still the current one) and starts making a new one.
    fn discard_link(self: &Arc<Self>, id: u64) {
        {
            let mut link = self.lock_link();
            if link.as_ref().is_some_and(|l| l.id == id) {
                *link = None;
            }
        }
        self.ensure_connecting();
    }

    fn ensure_connecting(self: &Arc<Self>) {
        if self.lock_link().is_some() {
            return;
        }
        self.start_connecting();
    }

    fn start_connecting(self: &Arc<Self>) {
        if self.link_connecting.swap(true, Ordering::AcqRel) {
            return;
        }
        let inner = Arc::clone(self);
        self.handle.spawn(async move { inner.connect_link().await });
    }

    /// The link with this id did not answer in time: it may be hung, or only slow. It stays in use
    /// (a slow link still carries a repair sooner than a new one could be made through the same
    /// slow network) while a replacement is made, which takes over once validated.
    fn suspect_link(self: &Arc<Self>, id: u64) {
        if self.lock_link().as_ref().is_some_and(|l| l.id == id) {
            self.start_connecting();
        }
    }

    /// Makes and validates a new data connection, retrying with backoff until one is made.
    async fn connect_link(self: Arc<Self>) {
        let mut delay = Duration::from_millis(10);
        loop {
            let id = self.next_link_id.fetch_add(1, Ordering::Relaxed);
            let timeout = self.config.connect_timeout;
            let opened = tokio::time::timeout(timeout, async {
                let client = self.client().await?;
                self.commands.open_link(&client, id, timeout).await
            })
            .await;
            match opened {
                Ok(Ok((link, validation))) => {
                    self.install_link(link, validation);
                    return;
                }
                _ => {
                    bump(&self.counters.errors);
                    tokio::time::sleep(delay).await;
                    delay = (delay * 2).min(Duration::from_millis(500));
                }
            }
        }
    }

    /// Learns what a validation found: the namespace, and whether Redis bumped it because it was
    /// not the incarnation recorded there.
    fn learn(&self, validation: &Validation) {
        self.namespace
            .store(validation.namespace, Ordering::Release);
        if validation.bumped {
            bump(&self.counters.incarnation_bumps);
            // This instance's own clear message is not delivered back to it.
            self.flush_local();
        }
    }

    fn install_link(self: &Arc<Self>, link: Link, validation: Validation) {
        bump(&self.counters.links);
        self.learn(&validation);
        let other_server = {
            let validated = self
                .validated_server
                .lock()
                .unwrap_or_else(|p| p.into_inner());
            *validated != link.server_id
        };
        *self.lock_link() = Some(link);
        self.link_connecting.store(false, Ordering::Release);
        self.link_ready.notify_waiters();
        if other_server {
            // The subscription may be on a server that no longer is the one data goes to: nothing
            // local is trusted until it is made (and validated) anew.
            self.apply(Event::SubscriptionLost);
            self.resubscribe.notify_one();
        }
    }

    /// The current link, waiting for one to be made if there is none (callers bound the wait).
    async fn wait_link(self: &Arc<Self>) -> Link {
        loop {
            let ready = self.link_ready.notified();
            tokio::pin!(ready);
            ready.as_mut().enable();
            if let Some(link) = self.lock_link().clone() {
                return link;
            }
            self.ensure_connecting();
            ready.await;
        }
    }

    /// Runs `command` on the current link, until `deadline`. A link that fails is replaced and the
    /// command sent once more on the new one; a link that did not answer in time is replaced.
    async fn run<T, F, Fut>(self: &Arc<Self>, deadline: Instant, command: F) -> Result<T, Failure>
    where
        F: Fn(Link) -> Fut,
        Fut: Future<Output = ::redis::RedisResult<T>>,
    {
        let used = AtomicU64::new(0);
        let attempts = async {
            let mut last = None;
            for _ in 0..2 {
                let link = self.wait_link().await;
                used.store(link.id, Ordering::Relaxed);
                let id = link.id;
                match command(link).await {
                    Ok(value) => return Ok(value),
                    Err(error) if is_link_error(&error) => {
                        self.discard_link(id);
                        self.check_connection.notify_one();
                        last = Some(error);
                    }
                    Err(error) => return Err(error),
                }
            }
            Err(last
                .unwrap_or_else(|| ::redis::RedisError::from((::redis::ErrorKind::Io, "no link"))))
        };
        match tokio::time::timeout_at(deadline.into(), attempts).await {
            Ok(Ok(value)) => Ok(value),
            Ok(Err(error)) if is_wrong_type(&error) => Err(Failure::WrongType),
            Ok(Err(_)) => {
                bump(&self.counters.errors);
                Err(Failure::Error)
            }
            Err(_) => {
                bump(&self.counters.timeouts);
                // A silent connection looks like this: replace it, and have the subscriber prove
                // its own.
                let id = used.load(Ordering::Relaxed);
                if id != 0 {
                    self.suspect_link(id);
                }
                self.check_connection.notify_one();
                Err(Failure::Timeout)
            }
        }
    }

    fn op_deadline(&self) -> Instant {
        Instant::now() + self.config.op_timeout
    }

    async fn get(self: &Arc<Self>, key_hash: String) -> Lookup {
        let answer = self
            .run(self.op_deadline(), |link| {
                let inner = Arc::clone(self);
                let key_hash = key_hash.clone();
                async move { inner.commands.get(&link, &key_hash).await }
            })
            .await;
        let lookup = match answer {
            Ok((namespace, Some(mut stored))) => {
                self.namespace.fetch_max(namespace, Ordering::AcqRel);
                match value::decode(&self.keys, &key_hash, namespace, &stored) {
                    Ok(_) => {
                        stored.drain(..value::HEADER_LEN);
                        Lookup::Hit(stored)
                    }
                    Err(_) => Lookup::Corrupt,
                }
            }
            Ok((namespace, None)) => {
                self.namespace.fetch_max(namespace, Ordering::AcqRel);
                Lookup::Miss
            }
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

    async fn set(self: &Arc<Self>, key_hash: String, payload: Vec<u8>, px_ms: u64) -> SetOutcome {
        let deadline = self.op_deadline();
        let message = key_message(&self.origin, &key_hash);
        let payload = Arc::new(payload);
        let answer = self
            .run(deadline, |link| {
                let inner = Arc::clone(self);
                let (key_hash, message, payload) =
                    (key_hash.clone(), message.clone(), Arc::clone(&payload));
                async move {
                    // Redis' clock when this call gives up, as early as it may be: later, the set
                    // must not take effect.
                    let latest = link.clock.earliest_at(deadline).floor() as u64;
                    let mut reply = SetReply::TooLate;
                    // Bound to the newest namespace known; told of a newer one, once more.
                    for _ in 0..2 {
                        let namespace = inner.namespace.load(Ordering::Acquire);
                        let stored = value::encode(&inner.keys, &key_hash, namespace, &payload);
                        reply = inner
                            .commands
                            .set(
                                &link, &key_hash, &stored, px_ms, &message, namespace, latest,
                            )
                            .await?;
                        match reply {
                            SetReply::OtherNamespace { namespace } => {
                                inner.namespace.fetch_max(namespace, Ordering::AcqRel);
                            }
                            _ => break,
                        }
                    }
                    Ok(reply)
                }
            })
            .await;
        match answer {
            Ok(SetReply::Stored { .. }) => {
                bump(&self.counters.sets);
                self.sink.write_settled(&key_hash);
                SetOutcome::Stored
            }
            Ok(SetReply::TooLate) => {
                bump(&self.counters.late_writes);
                self.repair(key_hash);
                SetOutcome::Unavailable
            }
            Ok(SetReply::OtherNamespace { .. }) | Err(_) => {
                self.repair(key_hash);
                SetOutcome::Unavailable
            }
        }
    }

    async fn try_delete(self: &Arc<Self>, key_hash: &str, deadline: Instant) -> bool {
        let message = key_message(&self.origin, key_hash);
        let answer = self
            .run(deadline, |link| {
                let inner = Arc::clone(self);
                let (key_hash, message) = (key_hash.to_string(), message.clone());
                async move { inner.commands.delete(&link, &key_hash, &message).await }
            })
            .await;
        match answer {
            Ok(namespace) => {
                self.namespace.fetch_max(namespace, Ordering::AcqRel);
                true
            }
            Err(_) => false,
        }
    }

    async fn delete(self: &Arc<Self>, key_hash: String) -> WriteOutcome {
        if self.try_delete(&key_hash, self.op_deadline()).await {
            bump(&self.counters.deletes);
            self.sink.write_settled(&key_hash);
            WriteOutcome::Done
        } else {
            self.repair(key_hash);
            WriteOutcome::Unavailable
        }
    }

    /// After a set or delete of `key_hash` failed (it may land later, or never; other instances may
    /// hold an older value): delete the key again, published, on a fresh link if need be. A late
    /// delete is harmless. If that fails too, the write is lost: the namespace is bumped before
    /// local layers are trusted again.
    fn repair(self: &Arc<Self>, key_hash: String) {
        let inner = Arc::clone(self);
        self.handle.spawn(async move {
            for attempt in 0..REPAIR_ATTEMPTS {
                if attempt > 0 {
                    tokio::time::sleep(Duration::from_millis(5)).await;
                }
                if inner.try_delete(&key_hash, inner.op_deadline()).await {
                    bump(&inner.counters.repairs);
                    inner.sink.write_settled(&key_hash);
                    return;
                }
            }
            inner.apply(Event::WriteLost);
            inner.sink.write_settled(&key_hash);
        });
    }

    async fn clear(self: &Arc<Self>) -> WriteOutcome {
        match self.bump_namespace(self.op_deadline()).await {
            true => {
                bump(&self.counters.clears);
                self.sink.clear_settled();
                WriteOutcome::Done
            }
            false => {
                // Flushed and distrusted first: a bump landing later finds nothing to refill.
                self.apply(Event::WriteLost);
                self.sink.clear_settled();
                WriteOutcome::Unavailable
            }
        }
    }

    async fn bump_namespace(self: &Arc<Self>, deadline: Instant) -> bool {
        let answer = self
            .run(deadline, |link| {
                let inner = Arc::clone(self);
                async move { inner.commands.clear(&link).await }
            })
            .await;
        match answer {
            Ok(namespace) => {
                self.namespace.fetch_max(namespace, Ordering::AcqRel);
                true
            }
            Err(_) => false,
        }
    }

    /// Bumps the namespace until the policy has no bump to ask for: retried with backoff while it
    /// fails, left to the next subscription if the channel is lost meanwhile.
    fn start_bump(self: &Arc<Self>, ticket: u64) {
        let inner = Arc::clone(self);
        self.handle.spawn(async move {
            let mut ticket = ticket;
            let mut delay = Duration::from_millis(10);
            loop {
                let done = inner
                    .bump_namespace(Instant::now() + inner.config.connect_timeout)
                    .await;
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
                delay = (delay * 2).min(Duration::from_secs(1));
                match inner.step(Event::Tick).bump {
                    Some(next) => ticket = next,
                    None => return,
                }
            }
        });
    }

    /// Validates the server on the data link (see [`client`]) for a new subscription: returns its
    /// incarnation, recorded as the one the subscription belongs to.
    pub(crate) async fn validate_for_subscription(self: &Arc<Self>) -> Option<String> {
        let deadline = Instant::now() + self.config.connect_timeout;
        let answer = self
            .run(deadline, |link| {
                let inner = Arc::clone(self);
                async move { inner.commands.validate(&mut link.conn.clone()).await }
            })
            .await
            .ok()?;
        self.learn(&answer);
        *self
            .validated_server
            .lock()
            .unwrap_or_else(|p| p.into_inner()) = answer.server_id.clone();
        Some(answer.server_id)
    }

    /// Checks an idle link now and then (a hung one is replaced) and measures Redis' clock again.
    async fn keep_link(self: Arc<Self>) {
        loop {
            tokio::time::sleep(LINK_CHECK_INTERVAL).await;
            let Some(link) = self.lock_link().clone() else {
                continue;
            };
            let check =
                tokio::time::timeout(self.config.heartbeat, self.commands.remeasure(&link)).await;
            match check {
                Ok(Ok(clock)) => {
                    let mut current = self.lock_link();
                    if let Some(current) = current.as_mut().filter(|l| l.id == link.id) {
                        current.clock = clock;
                    }
                }
                _ => self.discard_link(link.id),
            }
        }
    }

    /// A clear message from another instance names the namespace it made.
    pub(crate) fn heard_namespace(&self, namespace: u64) {
        self.namespace.fetch_max(namespace, Ordering::AcqRel);
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
        self.0.lease.revoke();
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
        let target = config.validate()?;
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
        let establish = Self::establish(config, target, sink, clock, handle.clone());
        let (inner, subscription) = match handle.spawn(establish).await {
            Ok(result) => result.map_err(failed)?,
            Err(_) => return Err(failed("the connection task stopped".into())),
        };
        let guard = SubscriberGuard(Arc::clone(&inner));
        handle.spawn(async move {
            let guard = guard;
            invalidation::supervise(Arc::clone(&guard.0), subscription).await;
        });
        handle.spawn(Arc::clone(&inner).keep_link());
        // Ready once local layers may serve: the first proof of liveness (a ping's round trip).
        // (Awaited through a JoinHandle: the caller may not be on a tokio runtime.)
        let proven = Arc::clone(&inner);
        let first_proof = handle.spawn(async move {
            let wait = async {
                while !proven.lease.valid() {
                    tokio::time::sleep(Duration::from_millis(1)).await;
                }
            };
            let _ = tokio::time::timeout(proven.config.connect_timeout, wait).await;
        });
        let _ = first_proof.await;
        Ok(Self { inner, runtime })
    }

    /// On the tier's runtime: subscribe, then open and validate the data connection (in this order:
    /// every message published after the validation is heard).
    async fn establish(
        config: RedisTierConfig,
        target: target::Target,
        sink: Arc<dyn InvalidationSink>,
        clock: Arc<dyn TimeSource>,
        handle: Handle,
    ) -> Result<(Arc<Inner>, Subscription), String> {
        let keys = KeyScheme::new(&config.key_prefix, &config.secret);
        let channel = keys.channel();
        let timeout = config.connect_timeout;
        let client = tokio::time::timeout(timeout, target.client(timeout))
            .await
            .map_err(|_| format!("finding the master: no answer within {timeout:?}"))?
            .map_err(|e| format!("finding the master: {}", config.scrub(&e.to_string())))?;
        let subscription =
            tokio::time::timeout(timeout, invalidation::subscribe(&client, &channel))
                .await
                .map_err(|_| format!("subscribing: no answer within {timeout:?}"))?
                .map_err(|e| config.scrub(&e.to_string()))?;
        let origin = new_origin();
        let commands = Commands::new(Names {
            prefix: keys.prefix().to_string(),
            namespace_key: keys.namespace_key(),
            incarnation_key: keys.incarnation_key(),
            channel: channel.clone(),
            clear_prefix: clear_message_prefix(&origin),
        });
        let (link, validation) = tokio::time::timeout(
            timeout,
            commands.open_link(&client, 1, timeout),
        )
        .await
        .map_err(|_| format!("opening the data connection: no answer within {timeout:?}"))?
        .map_err(|e| {
            let text = config.scrub(&e.to_string());
            if text.contains("unknown command")
                || text.contains("Unexpected") && text.contains("#!lua")
            {
                format!("{text} (Redis 7 or later is needed: the tier's scripts use script flags)")
            } else {
                text
            }
        })?;
        let inner = Arc::new(Inner {
            origin,
            config,
            keys,
            target,
            channel,
            commands,
            policy: Mutex::new(OutagePolicy::connected(&validation.server_id)),
            trustworthy: AtomicBool::new(true),
            lease: Lease::default(),
            namespace: AtomicU64::new(validation.namespace),
            validated_server: Mutex::new(validation.server_id.clone()),
            link: Mutex::new(None),
            link_ready: Notify::new(),
            link_connecting: AtomicBool::new(false),
            next_link_id: AtomicU64::new(2),
            sink,
            counters: Counters::default(),
            check_connection: Notify::new(),
            resubscribe: Notify::new(),
            clock,
            handle,
        });
        // Not `install_link`: a bump this validation made needs no flush, nothing local is held yet.
        bump(&inner.counters.links);
        if validation.bumped {
            bump(&inner.counters.incarnation_bumps);
        }
        *inner.lock_link() = Some(link);
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

    /// Whether local entries may be served now: the lease is current (see [`lease`]). One atomic
    /// load and a clock read.
    pub fn local_trustworthy(&self) -> bool {
        self.inner.lease.valid()
    }

    /// Whether the invalidation channel is up and nothing is owed (the outage policy's view; a
    /// lease that lapses for a moment under load does not change it).
    pub fn trusted(&self) -> bool {
        self.inner.trustworthy()
    }

    /// The lease local layers check (an ArrayBuffer over [`Lease::cell`] for JS).
    pub fn lease(&self) -> &Lease {
        &self.inner.lease
    }

    /// Where the outage policy stands.
    pub fn phase(&self) -> Phase {
        self.inner.lock_policy().phase()
    }

    /// The payload stored for `token`. Not sent to Redis while the tier is not trustworthy, nor
    /// while the lease has lapsed: a read sent then (Redis stalled, say) could be answered before
    /// writes other instances queued during the stall, which their callers gave up on long ago.
    /// With the lease current, Redis answered a `PING` under 60 ms ago, after running what it had
    /// received before it: a write another instance gave up on before that has been run or refused.
    pub fn get(&self, token: &str) -> Op<Lookup> {
        let key_hash = self.key_hash(token);
        if !self.inner.trustworthy() || !self.inner.lease.valid() {
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
        if self.runtime.handle().is_none() {
            self.inner.sink.write_settled(&key_hash);
            return Op::ready(SetOutcome::Unavailable);
        }
        let inner = Arc::clone(&self.inner);
        match ttl::px_until(deadline_ms, self.inner.clock.now_ms()) {
            Some(px_ms) => {
                let payload = payload.to_vec();
                self.spawn(async move { inner.set(key_hash, payload, px_ms).await })
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
        if self.runtime.handle().is_none() {
            self.inner.sink.write_settled(&key_hash);
            return Op::ready(WriteOutcome::Unavailable);
        }
        let inner = Arc::clone(&self.inner);
        self.spawn(async move { inner.delete(key_hash).await })
    }

    /// Makes every stored value unreachable at once (a namespace bump; old values die by their
    /// TTL) and tells the other instances.
    pub fn clear(&self) -> Op<WriteOutcome> {
        if self.runtime.handle().is_none() {
            self.inner.sink.clear_settled();
            return Op::ready(WriteOutcome::Unavailable);
        }
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
