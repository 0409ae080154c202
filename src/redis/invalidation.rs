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

use super::keys::is_key_hash;
use super::lease::PROOF_INTERVAL;
use super::outage::Event;
use super::stats::bump;
use super::Inner;
use crate::time::monotonic_ms;
use ::redis::aio::{PubSubSink, PubSubStream};
use ::redis::{Client, RedisResult};
use futures_util::{FutureExt, StreamExt};
use std::sync::Arc;
use std::time::Duration;

const VERSION: &str = "1";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Message<'a> {
    /// The session with this key hash was written or deleted.
    Key { origin: &'a str, key_hash: &'a str },
    /// The namespace was bumped to this one.
    Clear { origin: &'a str, namespace: u64 },
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
            Some(Message::Clear {
                origin,
                namespace: rest.parse().ok()?,
            })
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

/// Delivers one message to the sink. False if the sink panicked: the subscriber then drops its
/// subscription, so that the flush on return covers whatever the sink failed to drop.
fn deliver(inner: &Inner, payload: &[u8]) -> bool {
    let call = |f: &dyn Fn()| std::panic::catch_unwind(std::panic::AssertUnwindSafe(f)).is_ok();
    match parse(payload) {
        Some(Message::Key { origin, .. } | Message::Clear { origin, .. })
            if origin == inner.origin =>
        {
            true
        }
        Some(Message::Key { key_hash, .. }) => {
            bump(&inner.counters.invalidations);
            call(&|| inner.sink.invalidate(key_hash))
        }
        Some(Message::Clear { namespace, .. }) => {
            inner.heard_namespace(namespace);
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

/// Handles what the stream yielded; false if the subscription is over (the stream ended, or the
/// sink panicked).
fn received(inner: &Inner, message: Option<::redis::Msg>) -> bool {
    match message {
        Some(message) => {
            let delivered = deliver(inner, message.get_payload_bytes());
            if !delivered {
                bump(&inner.counters.errors);
            }
            delivered
        }
        None => false,
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

/// The subscriber's life: read the channel while subscribed, prove it live for the lease, feed the
/// outage policy the losses and recoveries, reconnect with backoff. Runs until the tier's runtime
/// shuts down.
pub(crate) async fn supervise(inner: Arc<Inner>, first: Subscription) {
    let mut subscription = Some(first);
    let mut backoff = Backoff::new();
    loop {
        let current = match subscription.take() {
            Some(current) => current,
            None => match resubscribe(&inner).await {
                Some((current, server_id)) => {
                    backoff = Backoff::new();
                    inner.apply(Event::Subscribed { server_id });
                    current
                }
                None => {
                    bump(&inner.counters.errors);
                    tokio::time::sleep(backoff.next()).await;
                    continue;
                }
            },
        };
        listen(&inner, current).await;
        inner.apply(Event::SubscriptionLost);
    }
}

/// Subscribes, then validates the server on the data link (in this order: every message published
/// after the validation is heard).
async fn resubscribe(inner: &Arc<Inner>) -> Option<(Subscription, String)> {
    let timeout = inner.config.connect_timeout;
    let subscribing = async {
        let client = inner.client().await?;
        subscribe(&client, &inner.channel).await
    };
    let subscription = tokio::time::timeout(timeout, subscribing)
        .await
        .ok()?
        .ok()?;
    let server_id = inner.validate_for_subscription().await?;
    Some((subscription, server_id))
}

/// Delivers messages until the subscription is lost: its stream ends, a `PING` gets no answer
/// within the heartbeat, or the tier asks for a new subscription. A `PING` is in flight at all
/// times, [`PROOF_INTERVAL`] apart; each answer, once every message before it is delivered, renews
/// the lease.
async fn listen(inner: &Inner, subscription: Subscription) {
    let Subscription {
        mut sink,
        mut stream,
    } = subscription;
    let patience = inner.config.heartbeat;
    loop {
        let sent = monotonic_ms();
        let next_proof = tokio::time::Instant::now() + PROOF_INTERVAL;
        {
            let ping = tokio::time::timeout(patience, sink.ping::<::redis::Value>());
            tokio::pin!(ping);
            loop {
                tokio::select! {
                    biased;
                    message = stream.next() => if !received(inner, message) {
                        return;
                    },
                    answer = &mut ping => match answer {
                        Ok(Ok(_)) => break,
                        _ => return,
                    },
                    _ = inner.resubscribe.notified() => return,
                }
            }
        }
        // The connection queued every message that came before the answer ahead of it.
        while let Some(next) = stream.next().now_or_never() {
            if !received(inner, next) {
                return;
            }
        }
        inner.renew_lease(sent);
        loop {
            tokio::select! {
                biased;
                message = stream.next() => if !received(inner, message) {
                    return;
                },
                _ = inner.resubscribe.notified() => return,
                _ = tokio::time::sleep_until(next_proof) => break,
                _ = inner.check_connection.notified() => break,
            }
        }
    }
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
            Some(Message::Clear {
                origin: "a1b2",
                namespace: 17
            })
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
