//! The invalidation channel: the messages on `{prefix}invalidate`, and the subscriber that delivers
//! them to the caller's [`InvalidationSink`](super::InvalidationSink) and watches its own connection.
//!
//! **Why pub/sub and not server-assisted client-side caching** (`CLIENT TRACKING ON BCAST PREFIX
//! {prefix} NOLOOP`). Both deliver invalidations atomically with the write, on a connection of their
//! own (tracking would also report writes by other clients, such as an operator's `DEL`, which the
//! tier does not need: Vendure's sessions live in its database). Pub/sub wins on failure handling,
//! the heart of this design: tracking is state of the *data* connection (with RESP2, redirected to
//! a second connection subscribed to `__redis__:invalidate`), and redis-rs' connection manager
//! re-makes that connection silently, so tracking, and with it every invalidation, could vanish
//! without any signal, the very failure the outage policy must see. Keeping it would mean
//! re-issuing `CLIENT TRACKING` with the redirect's client id each time either connection is
//! re-made, and handling `tracking-redir-broken`. A subscription lives on one connection the tier
//! owns and watches: its stream ends when it is lost, which is the exact event the policy needs.
//! Pub/sub also works on Redis before 6 and on managed services that restrict `CLIENT`, and costs
//! one `PUBLISH` inside the write's own script (no extra round trip). `NOLOOP`'s job, not hearing
//! one's own writes, is done by the origin in each message.
//!
//! Messages are text: `1|{origin}|k|{key hash}` (a session was written or deleted) and
//! `1|{origin}|c|{namespace}` (a clear). `1` is the format version, `origin` the writing instance's
//! id: an instance ignores its own messages (its caller already updated its local layers). A
//! message that cannot be read (another version, damage) is treated as a clear: safe, if costly.

use super::config::RedisTierConfig;
use super::keys::is_key_hash;
use super::outage::Event;
use super::stats::bump;
use super::Inner;
use ::redis::aio::{PubSubSink, PubSubStream};
use ::redis::{Client, RedisResult};
use futures_util::StreamExt;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

const VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message<'a> {
    /// The session with this key hash was written or deleted.
    Key { origin: &'a str, key_hash: &'a str },
    /// The namespace was bumped.
    Clear { origin: &'a str },
}

pub(crate) fn key_message(origin: &str, key_hash: &str) -> String {
    format!("{VERSION}|{origin}|k|{key_hash}")
}

/// The clear script appends the new namespace.
pub(crate) fn clear_message_prefix(origin: &str) -> String {
    format!("{VERSION}|{origin}|c|")
}

pub(crate) fn parse(payload: &[u8]) -> Option<Message<'_>> {
    let text = std::str::from_utf8(payload).ok()?;
    let mut parts = text.split('|');
    let (version, origin, kind, rest) =
        (parts.next()?, parts.next()?, parts.next()?, parts.next()?);
    if version != VERSION || parts.next().is_some() || origin.is_empty() {
        return None;
    }
    match kind {
        "k" if is_key_hash(rest) => Some(Message::Key {
            origin,
            key_hash: rest,
        }),
        "c" if !rest.is_empty() && rest.bytes().all(|b| b.is_ascii_digit()) => {
            Some(Message::Clear { origin })
        }
        _ => None,
    }
}

/// A live subscription to the channel.
pub(crate) struct Subscription {
    sink: PubSubSink,
    stream: PubSubStream,
}

/// Opens a dedicated pub/sub connection and subscribes; returns once Redis confirmed, so every
/// message published from then on is delivered.
pub(crate) async fn subscribe(client: &Client, channel: &str) -> RedisResult<Subscription> {
    let (mut sink, stream) = client.get_async_pubsub().await?.split();
    sink.subscribe(channel).await?;
    Ok(Subscription { sink, stream })
}

/// Subscribes, then learns which server incarnation it subscribed to (in this order: a restart in
/// between ends the subscription, which is then noticed).
pub(crate) async fn subscribe_and_identify(
    client: &Client,
    channel: &str,
    config: &RedisTierConfig,
) -> Result<(Subscription, String), String> {
    let timeout = config.connect_timeout;
    let within = |what: &'static str| move |_| format!("{what}: no answer within {timeout:?}");
    let subscription = tokio::time::timeout(timeout, subscribe(client, channel))
        .await
        .map_err(within("subscribing"))?
        .map_err(|e| config.scrub(&e.to_string()))?;
    let server_id = tokio::time::timeout(timeout, super::client::server_id(client, timeout))
        .await
        .map_err(within("INFO server"))?
        .map_err(|e| config.scrub(&e.to_string()))?;
    Ok((subscription, server_id))
}

/// Delivers one message to the sink. False if the sink panicked: the subscriber then drops its
/// subscription, so that the flush on return covers whatever the sink failed to drop.
fn deliver(inner: &Inner, payload: &[u8]) -> bool {
    let call = |f: &dyn Fn()| {
        inner.seq.fetch_add(1, Ordering::AcqRel);
        std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_ok()
    };
    match parse(payload) {
        Some(Message::Key { origin, .. } | Message::Clear { origin }) if origin == inner.origin => {
            true
        }
        Some(Message::Key { key_hash, .. }) => {
            bump(&inner.counters.invalidations);
            call(&|| inner.sink.invalidate(key_hash))
        }
        Some(Message::Clear { .. }) => {
            bump(&inner.counters.invalidate_alls);
            call(&|| inner.sink.invalidate_all())
        }
        None => {
            bump(&inner.counters.malformed_messages);
            bump(&inner.counters.invalidate_alls);
            call(&|| inner.sink.invalidate_all())
        }
    }
}

/// Reconnection delays: 50 ms doubling to 1 s.
struct Backoff(Duration);

impl Backoff {
    const FIRST: Duration = Duration::from_millis(50);
    const MAX: Duration = Duration::from_secs(1);

    fn new() -> Self {
        Self(Self::FIRST)
    }

    fn next(&mut self) -> Duration {
        let delay = self.0;
        self.0 = (self.0 * 2).min(Self::MAX);
        delay
    }
}

/// The subscriber's life: read the channel while subscribed, feed the outage policy the losses and
/// recoveries, reconnect with backoff. Runs until the tier's runtime shuts down.
pub(crate) async fn supervise(inner: Arc<Inner>, first: Subscription) {
    let mut subscription = Some(first);
    let mut backoff = Backoff::new();
    loop {
        let current = match subscription.take() {
            Some(current) => current,
            None => {
                match subscribe_and_identify(&inner.client, &inner.channel, &inner.config).await {
                    Ok((current, server_id)) => {
                        backoff = Backoff::new();
                        inner.apply(Event::Subscribed { server_id });
                        current
                    }
                    Err(_) => {
                        bump(&inner.counters.errors);
                        tokio::time::sleep(backoff.next()).await;
                        continue;
                    }
                }
            }
        };
        listen(&inner, current).await;
        inner.apply(Event::SubscriptionLost);
    }
}

/// Delivers messages until the subscription is lost: its stream ends, or a ping (every heartbeat,
/// or at once when an operation saw a connection error) gets no answer.
async fn listen(inner: &Inner, mut subscription: Subscription) {
    let heartbeat = inner.config.heartbeat;
    let mut ticker = tokio::time::interval_at(tokio::time::Instant::now() + heartbeat, heartbeat);
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
    loop {
        tokio::select! {
            message = subscription.stream.next() => match message {
                Some(message) => {
                    if !deliver(inner, message.get_payload_bytes()) {
                        bump(&inner.counters.errors);
                        return;
                    }
                }
                None => return,
            },
            _ = ticker.tick() => {
                if !alive(&mut subscription.sink, heartbeat).await {
                    return;
                }
            }
            _ = inner.check_connection.notified() => {
                // As patient as the heartbeat: a Redis that is only slow is not an outage (the
                // messages are late, not lost), and calling it one would flush every local layer.
                if !alive(&mut subscription.sink, heartbeat).await {
                    return;
                }
            }
        }
    }
}

async fn alive(sink: &mut PubSubSink, within: Duration) -> bool {
    matches!(
        tokio::time::timeout(within, sink.ping::<::redis::Value>()).await,
        Ok(Ok(_))
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn messages_round_trip() {
        let hash = "0f".repeat(32);
        assert_eq!(
            parse(key_message("a1b2", &hash).as_bytes()),
            Some(Message::Key {
                origin: "a1b2",
                key_hash: &hash
            })
        );
        let clear = format!("{}17", clear_message_prefix("a1b2"));
        assert_eq!(
            parse(clear.as_bytes()),
            Some(Message::Clear { origin: "a1b2" })
        );
    }

    #[test]
    fn unreadable_messages_are_none() {
        let hash = "0f".repeat(32);
        for bad in [
            format!("2|a|k|{hash}"),
            format!("1||k|{hash}"),
            "1|a|k|nothex".to_string(),
            format!("1|a|k|{hash}|extra"),
            "1|a|c|".to_string(),
            "1|a|c|x1".to_string(),
            "1|a|x|1".to_string(),
            "1|a|k".to_string(),
            String::new(),
        ] {
            assert_eq!(parse(bad.as_bytes()), None, "{bad}");
        }
        assert_eq!(parse(b"\xff\xfe"), None);
    }

    #[test]
    fn backoff_doubles_to_a_second() {
        let mut backoff = Backoff::new();
        let delays: Vec<u128> = (0..7).map(|_| backoff.next().as_millis()).collect();
        assert_eq!(delays, [50, 100, 200, 400, 800, 1000, 1000]);
    }
}
