//! Where the tier connects: one Redis (`redis://`, `rediss://`), or whichever master the Redis
//! Sentinels name (`redis+sentinel://`), asked again at every (re)connection, so that after a
//! failover the tier follows the new master. (The validation of every new connection, see
//! `client.rs`, then notices that it is another server and bumps the namespace.)
//!
//! `redis+sentinel://[[user]:password@]host[:port][,host[:port]...]/<master name>[/<db>]`: the
//! sentinels (port 26379 unless given), the master's name, and the credentials and database of the
//! master (sentinels without a password). TLS through Sentinel is not supported.

use ::redis::{Client, ErrorKind, RedisError, RedisResult};
use std::time::Duration;

pub const SENTINEL_SCHEME: &str = "redis+sentinel://";
const DEFAULT_SENTINEL_PORT: u16 = 26379;

#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct SentinelUrl {
    pub sentinels: Vec<(String, u16)>,
    pub master: String,
    /// `user:password` as written in the URL (percent-encoded), for the master.
    pub userinfo: Option<String>,
    pub db: u32,
}

/// Parses a `redis+sentinel://` URL; errors never repeat the URL (it may hold a password).
pub(crate) fn parse_sentinel_url(url: &str) -> Result<SentinelUrl, String> {
    let rest = url
        .strip_prefix(SENTINEL_SCHEME)
        .ok_or_else(|| format!("a Sentinel URL starts with {SENTINEL_SCHEME}"))?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo.to_string()), hosts),
        None => (None, authority),
    };
    let mut sentinels = Vec::new();
    for host in hosts.split(',') {
        let (name, port) = match host.rsplit_once(':') {
            Some((name, port)) => (
                name,
                port.parse::<u16>()
                    .map_err(|_| "a sentinel's port is not a number".to_string())?,
            ),
            None => (host, DEFAULT_SENTINEL_PORT),
        };
        if name.is_empty() {
            return Err("a sentinel's host is empty".into());
        }
        sentinels.push((name.to_string(), port));
    }
    let mut segments = path.split('/').filter(|s| !s.is_empty());
    let master = segments
        .next()
        .ok_or_else(|| {
            "the URL names no master (redis+sentinel://host:26379/<master name>)".to_string()
        })?
        .to_string();
    let db = match segments.next() {
        Some(db) => db
            .parse()
            .map_err(|_| "the database index is not a number".to_string())?,
        None => 0,
    };
    if segments.next().is_some() {
        return Err("the URL has more path segments than /<master name>/<db>".into());
    }
    Ok(SentinelUrl {
        sentinels,
        master,
        userinfo,
        db,
    })
}

/// A Sentinel URL with its password replaced by `***`.
pub(crate) fn redact_sentinel_url(url: &str) -> Option<String> {
    let rest = url.strip_prefix(SENTINEL_SCHEME)?;
    let (authority, path) = rest.split_once('/').unwrap_or((rest, ""));
    let (userinfo, hosts) = match authority.rsplit_once('@') {
        Some((userinfo, hosts)) => (Some(userinfo), hosts),
        None => (None, authority),
    };
    let userinfo = match userinfo {
        Some(info) => match info.split_once(':') {
            Some((user, _)) => format!("{user}:***@"),
            None => format!("{info}@"),
        },
        None => String::new(),
    };
    let path = if path.is_empty() {
        String::new()
    } else {
        format!("/{path}")
    };
    Some(format!("{SENTINEL_SCHEME}{userinfo}{hosts}{path}"))
}

pub(crate) enum Target {
    Direct(Client),
    Sentinel {
        sentinels: Vec<Client>,
        url: SentinelUrl,
    },
}

impl Target {
    pub fn sentinel(url: SentinelUrl) -> RedisResult<Self> {
        let sentinels = url
            .sentinels
            .iter()
            .map(|(host, port)| Client::open(format!("redis://{host}:{port}")))
            .collect::<RedisResult<Vec<_>>>()?;
        Ok(Self::Sentinel { sentinels, url })
    }

    /// A client for the server to use now: the URL's, or the master a sentinel names (the first
    /// that answers, in the URL's order).
    pub async fn client(&self, timeout: Duration) -> RedisResult<Client> {
        let (sentinels, url) = match self {
            Self::Direct(client) => return Ok(client.clone()),
            Self::Sentinel { sentinels, url } => (sentinels, url),
        };
        let mut last = None;
        for sentinel in sentinels {
            match tokio::time::timeout(timeout, master_address(sentinel, &url.master, timeout))
                .await
            {
                Ok(Ok((host, port))) => {
                    let auth = url
                        .userinfo
                        .as_deref()
                        .map(|info| format!("{info}@"))
                        .unwrap_or_default();
                    return Client::open(format!("redis://{auth}{host}:{port}/{}", url.db));
                }
                Ok(Err(error)) => last = Some(error),
                Err(_) => {
                    last = Some(RedisError::from((
                        ErrorKind::Io,
                        "a sentinel did not answer in time",
                    )))
                }
            }
        }
        Err(last.unwrap_or_else(|| RedisError::from((ErrorKind::Io, "no sentinel"))))
    }
}

async fn master_address(
    sentinel: &Client,
    master: &str,
    timeout: Duration,
) -> RedisResult<(String, u16)> {
    let config = ::redis::AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout));
    let mut conn = sentinel
        .get_multiplexed_async_connection_with_config(&config)
        .await?;
    let address: Option<(String, u16)> = ::redis::cmd("SENTINEL")
        .arg("get-master-addr-by-name")
        .arg(master)
        .query_async(&mut conn)
        .await?;
    address.ok_or_else(|| {
        RedisError::from((ErrorKind::Io, "the sentinel does not know this master name"))
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sentinel_urls_parse() {
        assert_eq!(
            parse_sentinel_url("redis+sentinel://:p%40ss@s1:26380,s2,10.0.0.3:5000/shop/2"),
            Ok(SentinelUrl {
                sentinels: vec![
                    ("s1".into(), 26380),
                    ("s2".into(), 26379),
                    ("10.0.0.3".into(), 5000)
                ],
                master: "shop".into(),
                userinfo: Some(":p%40ss".into()),
                db: 2,
            })
        );
        let plain = parse_sentinel_url("redis+sentinel://127.0.0.1:26379/mymaster").unwrap();
        assert_eq!((plain.db, plain.userinfo), (0, None));
        for bad in [
            "redis+sentinel://h:26379",
            "redis+sentinel://h:port/m",
            "redis+sentinel://:pw@/m",
            "redis+sentinel://h/m/x",
            "redis+sentinel://h/m/1/2",
        ] {
            let error = parse_sentinel_url(bad).unwrap_err();
            assert!(!error.contains("pw"), "{bad}: {error}");
        }
    }

    #[test]
    fn sentinel_urls_are_shown_without_the_password() {
        assert_eq!(
            redact_sentinel_url("redis+sentinel://app:hunter2@s1,s2:26380/shop/1").as_deref(),
            Some("redis+sentinel://app:***@s1,s2:26380/shop/1")
        );
        assert_eq!(
            redact_sentinel_url("redis+sentinel://s1/shop").as_deref(),
            Some("redis+sentinel://s1/shop")
        );
    }
}
