//! The tier's configuration, its validation, and the error `connect` returns. A Redis URL may carry
//! a password: it never appears in an error, a `Debug` output or a log line built from them.

use super::keys::DEFAULT_KEY_PREFIX;
use super::target::{parse_sentinel_url, redact_sentinel_url, Target, SENTINEL_SCHEME};
use std::time::Duration;

/// Vendure gives every session-cache call 50 ms (`withTimeout`) before it treats it as a miss.
pub const VENDURE_CALL_LIMIT: Duration = Duration::from_millis(50);
/// The default timeout of one Redis command: well under Vendure's 50 ms, so that an unreachable
/// Redis turns into a miss, never a stalled request.
pub const DEFAULT_OP_TIMEOUT: Duration = Duration::from_millis(20);
pub const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(2);
pub const DEFAULT_HEARTBEAT: Duration = Duration::from_secs(1);

#[derive(Clone)]
pub struct RedisTierConfig {
    /// `redis://[[user]:password@]host[:port][/db]` or `rediss://...` (TLS, certificates checked
    /// against the system's roots, or `SSL_CERT_FILE`/`SSL_CERT_DIR`).
    pub url: String,
    /// Prepended to every name the tier uses in Redis (default `vsc:`); instances that share
    /// sessions must share it, and its secret.
    pub key_prefix: String,
    /// Keys the hash of tokens and the MAC of values; never sent to Redis.
    pub secret: String,
    /// The longest a `get`, `set`, `delete` or `clear` waits for Redis (default 20 ms; must be
    /// under Vendure's 50 ms).
    pub op_timeout: Duration,
    /// The longest `connect` and each reconnection attempt may take (default 2 s).
    pub connect_timeout: Duration,
    /// How often the invalidation connection is pinged, so that a silently dead connection is
    /// noticed (default 1 s). A closed one is noticed at once.
    pub heartbeat: Duration,
}

impl RedisTierConfig {
    /// A configuration with every default: prefix `vsc:`, 20 ms commands.
    pub fn new(url: impl Into<String>, secret: impl Into<String>) -> Self {
        Self {
            url: url.into(),
            key_prefix: DEFAULT_KEY_PREFIX.to_string(),
            secret: secret.into(),
            op_timeout: DEFAULT_OP_TIMEOUT,
            connect_timeout: DEFAULT_CONNECT_TIMEOUT,
            heartbeat: DEFAULT_HEARTBEAT,
        }
    }

    /// The URL as it may be shown: its password replaced by `***`.
    pub fn redacted_url(&self) -> String {
        redact_url(&self.url)
    }

    /// Checks everything that can be checked without connecting.
    pub(crate) fn validate(&self) -> Result<Target, RedisTierError> {
        self.validate_common()?;
        if self.url.starts_with(SENTINEL_SCHEME) {
            let url = parse_sentinel_url(&self.url).map_err(|reason| {
                RedisTierError::InvalidConfig(format!(
                    "the Sentinel URL {} is not valid: {reason}; expected redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/<master name>[/<db>]",
                    self.redacted_url()
                ))
            })?;
            return Target::sentinel(url).map_err(|error| {
                RedisTierError::InvalidConfig(format!(
                    "the Sentinel URL {} is not valid: {}",
                    self.redacted_url(),
                    self.scrub(&error.to_string())
                ))
            });
        }
        self.validate_direct().map(Target::Direct)
    }

    fn validate_common(&self) -> Result<(), RedisTierError> {
        let invalid = |message: String| Err(RedisTierError::InvalidConfig(message));
        if self.secret.is_empty() {
            return invalid("`secret` must not be empty: it keys the hash of every token".into());
        }
        if self.op_timeout.is_zero() || self.op_timeout >= VENDURE_CALL_LIMIT {
            return invalid(format!(
                "`op_timeout` must be above 0 and under Vendure's {} ms call limit, got {} ms",
                VENDURE_CALL_LIMIT.as_millis(),
                self.op_timeout.as_millis()
            ));
        }
        if self.connect_timeout.is_zero() || self.heartbeat.is_zero() {
            return invalid("`connect_timeout` and `heartbeat` must be above 0".into());
        }
        Ok(())
    }

    fn validate_direct(&self) -> Result<::redis::Client, RedisTierError> {
        let invalid = |message: String| Err(RedisTierError::InvalidConfig(message));
        let parsed = match url::Url::parse(&self.url) {
            Ok(parsed) => parsed,
            Err(error) => {
                // The text itself is not shown: it may hold a password.
                return invalid(format!(
                    "the Redis URL cannot be parsed ({error}); expected redis://[:password@]host[:port][/db] or rediss://..."
                ));
            }
        };
        match parsed.scheme() {
            "redis" | "rediss" => {}
            other => {
                return invalid(format!(
                    "the Redis URL {} has the scheme '{other}'; use redis://, rediss:// (TLS) or redis+sentinel://",
                    self.redacted_url()
                ))
            }
        }
        if parsed.host_str().is_none_or(str::is_empty) {
            return invalid(format!(
                "the Redis URL {} names no host",
                self.redacted_url()
            ));
        }
        ::redis::Client::open(self.url.as_str()).map_err(|error| {
            RedisTierError::InvalidConfig(format!(
                "the Redis URL {} is not valid: {}",
                self.redacted_url(),
                self.scrub(&error.to_string())
            ))
        })
    }

    /// `text` with any occurrence of the URL's password replaced by `***`.
    pub(crate) fn scrub(&self, text: &str) -> String {
        let password = match parse_sentinel_url(&self.url) {
            Ok(sentinel) => sentinel
                .userinfo
                .and_then(|info| info.split_once(':').map(|(_, p)| p.to_string())),
            Err(_) => url::Url::parse(&self.url)
                .ok()
                .and_then(|parsed| parsed.password().map(str::to_string)),
        };
        let Some(password) = password.filter(|p| !p.is_empty()) else {
            return text.to_string();
        };
        let mut out = text.replace(&password, "***");
        if let Ok(decoded) = percent_decode(&password) {
            if !decoded.is_empty() {
                out = out.replace(&decoded, "***");
            }
        }
        out
    }
}

impl std::fmt::Debug for RedisTierConfig {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RedisTierConfig")
            .field("url", &self.redacted_url())
            .field("key_prefix", &self.key_prefix)
            .field("secret", &"***")
            .field("op_timeout", &self.op_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("heartbeat", &self.heartbeat)
            .finish()
    }
}

fn percent_decode(text: &str) -> Result<String, ()> {
    let bytes = text.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        if bytes[i] == b'%' {
            let hex = bytes.get(i + 1..i + 3).ok_or(())?;
            let hex = std::str::from_utf8(hex).map_err(|_| ())?;
            out.push(u8::from_str_radix(hex, 16).map_err(|_| ())?);
            i += 3;
        } else {
            out.push(bytes[i]);
            i += 1;
        }
    }
    String::from_utf8(out).map_err(|_| ())
}

/// `url` with its password replaced by `***`; an unparsable URL is not shown at all.
pub fn redact_url(url: &str) -> String {
    if let Some(redacted) = redact_sentinel_url(url) {
        return redacted;
    }
    match url::Url::parse(url) {
        Ok(mut parsed) => {
            if parsed.password().is_some() && parsed.set_password(Some("***")).is_err() {
                return "<a Redis URL>".to_string();
            }
            parsed.to_string()
        }
        Err(_) => "<an unparsable Redis URL>".to_string(),
    }
}

/// Why the tier could not start.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RedisTierError {
    /// The configuration is wrong; nothing was attempted.
    InvalidConfig(String),
    /// Redis could not be reached or refused us. `url` has no password.
    Connect { url: String, reason: String },
}

impl std::fmt::Display for RedisTierError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::InvalidConfig(message) => {
                write!(f, "invalid Redis configuration: {message}")
            }
            Self::Connect { url, reason } => {
                write!(f, "cannot connect to Redis at {url}: {reason}")
            }
        }
    }
}

impl std::error::Error for RedisTierError {}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn redaction_hides_the_password_only() {
        assert_eq!(
            redact_url("redis://:hunter2@cache.internal:6380/3"),
            "redis://:***@cache.internal:6380/3"
        );
        assert_eq!(
            redact_url("rediss://app:hunter2@cache.internal/0"),
            "rediss://app:***@cache.internal/0"
        );
        assert_eq!(
            redact_url("redis://127.0.0.1:6379"),
            "redis://127.0.0.1:6379"
        );
        assert_eq!(
            redact_url("redis//:hunter2@nowhere"),
            "<an unparsable Redis URL>"
        );
    }

    #[test]
    fn defaults() {
        let config = RedisTierConfig::new("redis://127.0.0.1", "s");
        assert_eq!(config.key_prefix, "vsc:");
        assert_eq!(config.op_timeout, Duration::from_millis(20));
        assert!(config.validate().is_ok());
    }

    #[test]
    fn debug_shows_neither_password_nor_secret() {
        let config = RedisTierConfig::new("redis://:hunter2@h:1/2", "the-secret");
        let text = format!("{config:?}");
        assert!(
            !text.contains("hunter2") && !text.contains("the-secret"),
            "{text}"
        );
        assert!(text.contains("redis://:***@h:1/2"), "{text}");
    }

    fn invalid(config: RedisTierConfig) -> String {
        match config.validate() {
            Err(RedisTierError::InvalidConfig(message)) => message,
            other => panic!("expected InvalidConfig, got {:?}", other.map(|_| ())),
        }
    }

    #[test]
    fn bad_configurations_are_refused_clearly_without_the_password() {
        let message = invalid(RedisTierConfig::new("http://:hunter2@h/", "s"));
        assert!(
            message.contains("'http'") && !message.contains("hunter2"),
            "{message}"
        );
        let message = invalid(RedisTierConfig::new("not a url :hunter2", "s"));
        assert!(
            message.contains("cannot be parsed") && !message.contains("hunter2"),
            "{message}"
        );
        let message = invalid(RedisTierConfig::new("redis://h/", ""));
        assert!(message.contains("secret"), "{message}");
        let mut slow = RedisTierConfig::new("redis://h/", "s");
        slow.op_timeout = Duration::from_millis(50);
        assert!(invalid(slow).contains("50 ms"));
        let mut zero = RedisTierConfig::new("redis://h/", "s");
        zero.op_timeout = Duration::ZERO;
        assert!(invalid(zero).contains("op_timeout"));
        let message = invalid(RedisTierConfig::new("redis://:hunter2@h/notanumber", "s"));
        assert!(!message.contains("hunter2"), "{message}");
    }

    #[test]
    fn password_and_db_are_accepted() {
        for url in [
            "redis://:pw@127.0.0.1:6380/2",
            "redis://user:pw@localhost/0",
            "rediss://:pw@cache.example/1",
        ] {
            assert!(RedisTierConfig::new(url, "s").validate().is_ok(), "{url}");
        }
    }

    #[test]
    fn sentinel_urls_are_accepted_and_shown_without_the_password() {
        let config = RedisTierConfig::new("redis+sentinel://:hunter2@s1,s2:26380/shop/1", "s");
        assert!(config.validate().is_ok());
        assert_eq!(
            config.redacted_url(),
            "redis+sentinel://:***@s1,s2:26380/shop/1"
        );
        let message = invalid(RedisTierConfig::new("redis+sentinel://:hunter2@s1", "s"));
        assert!(
            message.contains("names no master") && !message.contains("hunter2"),
            "{message}"
        );
    }

    #[test]
    fn scrubbing_removes_the_password_in_both_spellings() {
        let config = RedisTierConfig::new("redis://:p%40ss@h/", "s");
        assert_eq!(config.scrub("bad p%40ss and p@ss"), "bad *** and ***");
        let none = RedisTierConfig::new("redis://h/", "s");
        assert_eq!(none.scrub("text"), "text");
    }
}
