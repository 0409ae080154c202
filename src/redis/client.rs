//! The data connection and the Lua scripts.
//!
//! **Scripts.** Each operation is one Lua script, so it is one round trip and atomic on the server:
//!
//! - it reads the namespace and builds the key `{prefix}{namespace}:{hash}` on the server, so a
//!   `clear()` anywhere applies to every later operation;
//! - a namespace that is missing (first use, evicted under `allkeys-*`, deleted by an operator) is
//!   created at `max(old + 1, Redis TIME in µs)`, and so is every bump: a namespace never comes back
//!   to a value used before, so values written under an older one can never be reached again; a
//!   created or bumped namespace is broadcast as a clear;
//! - a write and its invalidation are published together, or not at all;
//! - a `set` names the namespace its value's MAC is bound to and the latest Redis time at which it
//!   may still take effect (its caller's timeout, on Redis' clock): a write delayed on the network
//!   past that is refused, so it cannot land after a later `delete` or `clear()` and undo it;
//! - `delete`, `clear` and `validate` only shrink data or bump a counter, and run with `allow-oom`,
//!   so they work at `maxmemory` under `noeviction` too. `set` does not: it fails there, and the
//!   tier deletes the key instead (see mod.rs).
//!
//! The scripts touch keys they do not declare in `KEYS` (the data key depends on the namespace they
//! read): standalone Redis, replicas and Sentinel accept that; Redis Cluster would need every name in
//! one hash slot and is not supported. They use Redis 7 script flags (`#!lua flags=allow-oom`).
//!
//! **The data connection** ([`Link`]) is one multiplexed connection the tier replaces itself
//! (see mod.rs) whenever it errs, times out or answers `READONLY`. Each new link is *validated*
//! before use: the `validate` script learns the server's `run_id` and compares it with the one
//! recorded in Redis (`{prefix}srv`); a server that restarted (perhaps from an old snapshot) or a
//! replica promoted since the record bumps the namespace, in the same script, before anything is
//! read. So a process that starts after the restart is protected too, not only the ones that saw it.

use ::redis::aio::MultiplexedConnection;
use ::redis::{AsyncConnectionConfig, Client, RedisError, RedisResult, Script};
use std::time::{Duration, Instant};

/// Shared by every script: `KEYS[1]` the namespace counter, `ARGV[1]` the channel, `ARGV[2]` the
/// clear message's prefix, `ARGV[3]` the key prefix.
const PRELUDE: &str = r"
local function bump_namespace()
  local t = redis.call('TIME')
  local now = t[1] * 1000000 + t[2]
  local old = tonumber(redis.call('GET', KEYS[1]) or '0') or 0
  local ns = string.format('%.0f', math.max(old + 1, now))
  redis.call('SET', KEYS[1], ns)
  redis.call('PUBLISH', ARGV[1], ARGV[2] .. ns)
  return ns
end
local function namespace()
  local ns = redis.call('GET', KEYS[1])
  if ns and tonumber(ns) then return ns end
  return bump_namespace()
end
";

/// `ARGV[4]` the key hash. Returns `{namespace, value or nil}`.
const GET: &str = r"
local ns = namespace()
return {ns, redis.call('GET', ARGV[3] .. ns .. ':' .. ARGV[4])}
";

/// `ARGV[4]` key hash, `[5]` value, `[6]` PX, `[7]` message, `[8]` the namespace the value is bound
/// to, `[9]` the latest Redis time (ms) at which it may take effect. Returns `{code, namespace}`:
/// 1 stored, 0 another namespace is current, -1 too late.
const SET: &str = r"
local ns = namespace()
if ns ~= ARGV[8] then return {0, ns} end
local t = redis.call('TIME')
if t[1] * 1000 + math.floor(t[2] / 1000) > tonumber(ARGV[9]) then return {-1, ns} end
redis.call('SET', ARGV[3] .. ns .. ':' .. ARGV[4], ARGV[5], 'PX', ARGV[6])
redis.call('PUBLISH', ARGV[1], ARGV[7])
return {1, ns}
";

/// `ARGV[4]` key hash, `[5]` message. Returns the namespace.
const DELETE: &str = r"
local ns = namespace()
redis.call('DEL', ARGV[3] .. ns .. ':' .. ARGV[4])
redis.call('PUBLISH', ARGV[1], ARGV[5])
return ns
";

/// Bumps the namespace and broadcasts it. Returns the new namespace.
const CLEAR: &str = r"
return bump_namespace()
";

/// `KEYS[2]` the incarnation record. Returns `{namespace, run_id, bumped}`.
const VALIDATE: &str = r"
local run_id = string.match(redis.call('INFO', 'server'), 'run_id:(%x+)')
if not run_id then return redis.error_reply('ERR INFO server has no run_id') end
local ns = namespace()
local bumped = 0
if redis.call('GET', KEYS[2]) ~= run_id then
  ns = bump_namespace()
  redis.call('SET', KEYS[2], run_id)
  bumped = 1
end
return {ns, run_id, bumped}
";

fn script(body: &str, allow_oom: bool) -> Script {
    let flags = if allow_oom {
        "#!lua flags=allow-oom\n"
    } else {
        "#!lua\n"
    };
    Script::new(&format!("{flags}{PRELUDE}{body}"))
}

/// Every name a command needs, fixed for the tier's life.
pub(crate) struct Names {
    pub prefix: String,
    pub namespace_key: String,
    pub incarnation_key: String,
    pub channel: String,
    pub clear_prefix: String,
}

/// What `set` answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum SetReply {
    Stored {
        namespace: u64,
    },
    /// Not stored: this namespace is current (the value must be bound to it).
    OtherNamespace {
        namespace: u64,
    },
    /// Not stored: it reached Redis after its deadline.
    TooLate,
}

/// What `validate` answered.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Validation {
    pub namespace: u64,
    pub server_id: String,
    /// The server was not the one recorded: the namespace was bumped.
    pub bumped: bool,
}

/// Redis' clock as seen from here: a `TIME` answer and when it was taken.
#[derive(Debug, Clone, Copy)]
pub(crate) struct RedisClock {
    taken: Instant,
    redis_ms: f64,
    /// Half the round trip of the measurement, plus Redis' millisecond rounding.
    uncertainty_ms: f64,
}

impl RedisClock {
    /// Redis' time at `at`, as early as it may be. A deadline set to this is safe: a command that
    /// runs after `at` sees a Redis time at least this late, and is refused.
    pub fn earliest_at(&self, at: Instant) -> f64 {
        let elapsed = at.saturating_duration_since(self.taken).as_secs_f64() * 1000.0;
        self.redis_ms + elapsed - self.uncertainty_ms
    }
}

/// A validated data connection.
#[derive(Clone)]
pub(crate) struct Link {
    pub conn: MultiplexedConnection,
    /// Tells links apart, so that only the link that failed is discarded.
    pub id: u64,
    pub server_id: String,
    pub clock: RedisClock,
}

pub(crate) struct Scripts {
    get: Script,
    set: Script,
    delete: Script,
    clear: Script,
    validate: Script,
}

impl Scripts {
    pub fn new() -> Self {
        Self {
            get: script(GET, true),
            set: script(SET, false),
            delete: script(DELETE, true),
            clear: script(CLEAR, true),
            validate: script(VALIDATE, true),
        }
    }
}

/// The commands, over whatever link the caller gives.
pub(crate) struct Commands {
    pub names: Names,
    scripts: Scripts,
}

impl Commands {
    pub fn new(names: Names) -> Self {
        Self {
            names,
            scripts: Scripts::new(),
        }
    }

    fn with_prelude<'a>(&'a self, script: &'a Script) -> ::redis::ScriptInvocation<'a> {
        let mut invocation = script.key(&self.names.namespace_key);
        invocation
            .arg(&self.names.channel)
            .arg(&self.names.clear_prefix)
            .arg(&self.names.prefix);
        invocation
    }

    /// Opens a connection to `client`, measures Redis' clock and validates the server (see the
    /// module's documentation). `timeout` bounds each step.
    pub async fn open_link(
        &self,
        client: &Client,
        id: u64,
        timeout: Duration,
    ) -> RedisResult<(Link, Validation)> {
        let config = AsyncConnectionConfig::new()
            .set_connection_timeout(Some(timeout))
            .set_response_timeout(Some(timeout));
        let mut conn = client
            .get_multiplexed_async_connection_with_config(&config)
            .await?;
        let clock = measure_clock(&mut conn).await?;
        let validation = self.validate(&mut conn).await?;
        let link = Link {
            conn,
            id,
            server_id: validation.server_id.clone(),
            clock,
        };
        Ok((link, validation))
    }

    pub async fn validate(&self, conn: &mut MultiplexedConnection) -> RedisResult<Validation> {
        let (namespace, server_id, bumped): (u64, String, i64) = self
            .with_prelude(&self.scripts.validate)
            .key(&self.names.incarnation_key)
            .invoke_async(conn)
            .await?;
        Ok(Validation {
            namespace,
            server_id,
            bumped: bumped != 0,
        })
    }

    /// The stored bytes under `key_hash` in the current namespace, and that namespace.
    pub async fn get(&self, link: &Link, key_hash: &str) -> RedisResult<(u64, Option<Vec<u8>>)> {
        self.with_prelude(&self.scripts.get)
            .arg(key_hash)
            .invoke_async(&mut link.conn.clone())
            .await
    }

    /// Stores `value` (bound to `namespace`) for `px_ms` and publishes `message`, unless another
    /// namespace is current or Redis' clock is past `deadline_redis_ms`.
    #[allow(clippy::too_many_arguments)]
    pub async fn set(
        &self,
        link: &Link,
        key_hash: &str,
        value: &[u8],
        px_ms: u64,
        message: &str,
        namespace: u64,
        deadline_redis_ms: u64,
    ) -> RedisResult<SetReply> {
        let (code, current): (i64, u64) = self
            .with_prelude(&self.scripts.set)
            .arg(key_hash)
            .arg(value)
            .arg(px_ms)
            .arg(message)
            .arg(namespace.to_string())
            .arg(deadline_redis_ms)
            .invoke_async(&mut link.conn.clone())
            .await?;
        Ok(match code {
            1 => SetReply::Stored { namespace: current },
            0 => SetReply::OtherNamespace { namespace: current },
            _ => SetReply::TooLate,
        })
    }

    /// Deletes the value under `key_hash` and publishes `message`; returns the namespace.
    pub async fn delete(&self, link: &Link, key_hash: &str, message: &str) -> RedisResult<u64> {
        self.with_prelude(&self.scripts.delete)
            .arg(key_hash)
            .arg(message)
            .invoke_async(&mut link.conn.clone())
            .await
    }

    /// Bumps the namespace and broadcasts it; returns the new one.
    pub async fn clear(&self, link: &Link) -> RedisResult<u64> {
        self.with_prelude(&self.scripts.clear)
            .invoke_async(&mut link.conn.clone())
            .await
    }

    /// Measures Redis' clock again on `link`.
    pub async fn remeasure(&self, link: &Link) -> RedisResult<RedisClock> {
        measure_clock(&mut link.conn.clone()).await
    }
}

async fn measure_clock(conn: &mut MultiplexedConnection) -> RedisResult<RedisClock> {
    let sent = Instant::now();
    let (seconds, micros): (u64, u64) = ::redis::cmd("TIME").query_async(conn).await?;
    let received = Instant::now();
    let half_trip = received.duration_since(sent) / 2;
    Ok(RedisClock {
        taken: sent + half_trip,
        redis_ms: seconds as f64 * 1000.0 + micros as f64 / 1000.0,
        uncertainty_ms: half_trip.as_secs_f64() * 1000.0 + 1.0,
    })
}

/// Whether an error means the link is no good any more: gone, not connectable, or talking to a
/// server that no longer takes writes (`READONLY`: a failover demoted it) or cannot serve
/// (`LOADING`, `MASTERDOWN`).
pub(crate) fn is_link_error(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
        || error.is_timeout()
        || matches!(error.code(), Some("READONLY" | "LOADING" | "MASTERDOWN"))
}

/// Whether the key holds something other than a string (for example a hash someone else wrote).
pub(crate) fn is_wrong_type(error: &RedisError) -> bool {
    error.code() == Some("WRONGTYPE") || error.to_string().contains("WRONGTYPE")
}
