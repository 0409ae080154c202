//! Connections and commands.
//!
//! Data commands go through one redis-rs `ConnectionManager` (a multiplexed connection that
//! reconnects by itself after an I/O error). Each operation is one Lua script, so it is one round
//! trip and atomic on the server:
//!
//! - it reads the namespace and builds the key `{prefix}{namespace}:{hash}` on the server, so an
//!   instance never caches the namespace and cannot use a stale one after a clear, a restart or a
//!   `FLUSHALL`;
//! - a write and its invalidation are published together, or not at all (a lost publish would
//!   leave other instances serving their local copy).
//!
//! The scripts touch keys they do not declare in `KEYS` (the data key depends on the namespace they
//! read), which standalone Redis and replicated setups accept; Redis Cluster would need every name
//! in one hash slot and is not supported.

use super::config::RedisTierConfig;
use ::redis::aio::{ConnectionManager, ConnectionManagerConfig};
use ::redis::{AsyncConnectionConfig, Client, RedisError, RedisResult, Script};
use std::time::Duration;

const GET: &str = r"
local ns = redis.call('GET', KEYS[1]) or '0'
return redis.call('GET', ARGV[1] .. ns .. ':' .. ARGV[2])
";

const SET: &str = r"
local ns = redis.call('GET', KEYS[1]) or '0'
redis.call('SET', ARGV[1] .. ns .. ':' .. ARGV[2], ARGV[3], 'PX', ARGV[4])
redis.call('PUBLISH', ARGV[5], ARGV[6])
return 1
";

const DELETE: &str = r"
local ns = redis.call('GET', KEYS[1]) or '0'
redis.call('DEL', ARGV[1] .. ns .. ':' .. ARGV[2])
redis.call('PUBLISH', ARGV[3], ARGV[4])
return 1
";

/// Bumps the namespace and broadcasts the new one (the message ends with it).
const CLEAR: &str = r"
local ns = redis.call('INCR', KEYS[1])
redis.call('PUBLISH', ARGV[1], ARGV[2] .. ns)
return ns
";

/// Every name a command needs, fixed for the tier's life.
pub(crate) struct Names {
    pub prefix: String,
    pub namespace_key: String,
    pub channel: String,
}

pub(crate) struct Commands {
    conn: ConnectionManager,
    names: Names,
    get: Script,
    set: Script,
    delete: Script,
    clear: Script,
}

impl Commands {
    /// Opens the data connection (fails if Redis refuses it) and loads the scripts.
    pub async fn open(
        client: &Client,
        config: &RedisTierConfig,
        names: Names,
    ) -> RedisResult<Self> {
        let manager_config = ConnectionManagerConfig::new()
            .set_connection_timeout(Some(config.connect_timeout))
            // Callers' operations time out much sooner (op_timeout); this bounds background work.
            .set_response_timeout(Some(config.connect_timeout))
            .set_min_delay(Duration::from_millis(50))
            .set_max_delay(Duration::from_millis(500))
            .set_number_of_retries(4);
        let mut conn = ConnectionManager::new_with_config(client.clone(), manager_config).await?;
        let commands = Self {
            get: Script::new(GET),
            set: Script::new(SET),
            delete: Script::new(DELETE),
            clear: Script::new(CLEAR),
            names,
            conn: conn.clone(),
        };
        // Loaded now so that the first calls are one round trip each; after a server restart,
        // redis-rs reloads a script on NOSCRIPT by itself.
        for script in [
            &commands.get,
            &commands.set,
            &commands.delete,
            &commands.clear,
        ] {
            script.load_async(&mut conn).await?;
        }
        Ok(commands)
    }

    /// The stored bytes under `key_hash` in the current namespace.
    pub async fn get(&self, key_hash: &str) -> RedisResult<Option<Vec<u8>>> {
        self.get
            .key(&self.names.namespace_key)
            .arg(&self.names.prefix)
            .arg(key_hash)
            .invoke_async(&mut self.conn.clone())
            .await
    }

    /// Stores `value` for `px_ms` and publishes `message`.
    pub async fn set(
        &self,
        key_hash: &str,
        value: &[u8],
        px_ms: u64,
        message: &str,
    ) -> RedisResult<()> {
        self.set
            .key(&self.names.namespace_key)
            .arg(&self.names.prefix)
            .arg(key_hash)
            .arg(value)
            .arg(px_ms)
            .arg(&self.names.channel)
            .arg(message)
            .invoke_async::<i64>(&mut self.conn.clone())
            .await
            .map(drop)
    }

    /// Deletes the value under `key_hash` and publishes `message`.
    pub async fn delete(&self, key_hash: &str, message: &str) -> RedisResult<()> {
        self.delete
            .key(&self.names.namespace_key)
            .arg(&self.names.prefix)
            .arg(key_hash)
            .arg(&self.names.channel)
            .arg(message)
            .invoke_async::<i64>(&mut self.conn.clone())
            .await
            .map(drop)
    }

    /// `INCR`s the namespace, publishes `message_prefix` followed by the new namespace, returns it.
    pub async fn clear(&self, message_prefix: &str) -> RedisResult<u64> {
        self.clear
            .key(&self.names.namespace_key)
            .arg(&self.names.channel)
            .arg(message_prefix)
            .invoke_async(&mut self.conn.clone())
            .await
    }
}

/// The `run_id` of the server, on a connection of its own (the data connection may be waiting in
/// its reconnection backoff). It changes at every restart. Opening this connection also proves the
/// URL's password and database index are accepted.
pub(crate) async fn server_id(client: &Client, timeout: Duration) -> RedisResult<String> {
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    let mut conn = client
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let info: String = ::redis::cmd("INFO")
        .arg("server")
        .query_async(&mut conn)
        .await?;
    parse_run_id(&info).map(str::to_string).ok_or_else(|| {
        RedisError::from((
            ::redis::ErrorKind::UnexpectedReturnType,
            "INFO server has no run_id",
        ))
    })
}

fn parse_run_id(info: &str) -> Option<&str> {
    info.lines()
        .find_map(|line| line.trim_end().strip_prefix("run_id:"))
        .filter(|id| !id.is_empty())
}

/// Whether an error means the connection is gone or cannot be made (as opposed to a server error).
pub(crate) fn is_connection_error(error: &RedisError) -> bool {
    error.is_io_error()
        || error.is_connection_dropped()
        || error.is_connection_refusal()
        || error.is_unrecoverable_error()
}

/// Whether the key holds something other than a string (for example a hash someone else wrote).
pub(crate) fn is_wrong_type(error: &RedisError) -> bool {
    error.code() == Some("WRONGTYPE") || error.to_string().contains("WRONGTYPE")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn run_id_is_read_from_info() {
        let info = "# Server\r\nredis_version:7.0.15\r\nrun_id:3f1e9a\r\ntcp_port:6379\r\n";
        assert_eq!(parse_run_id(info), Some("3f1e9a"));
        assert_eq!(parse_run_id("# Server\r\nrun_id:\r\n"), None);
        assert_eq!(parse_run_id(""), None);
    }
}
