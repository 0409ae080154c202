//! The Redis tier against a real `redis-server`, one per test, started on a free loopback port and
//! killed when the test ends (even by a failed assertion). Two tiers on one server stand for two
//! Vendure instances.

mod redis_support;

use redis_support::{block_on, eventually, serial, Heard, RecordingSink, RedisServer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vendure_native_session_cache::redis::{
    Lookup, Phase, RedisTier, RedisTierConfig, RedisTierError, SetOutcome, WriteOutcome,
};
use vendure_native_session_cache::time::{MockTime, TimeSource, WallClock};

const SECRET: &str = "test-secret";
const TOKEN: &str = "5e1f0a9c3b7d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f2a4c6e8b0d1f";
const PAYLOAD: &[u8] = br#"{"cacheExpiry":1800000000.25,"id":7,"expires":"2027-01-01T00:00:00.000Z","activeOrderId":null}"#;
/// How long an invalidation may take to reach another instance (the issue's bound).
const INVALIDATION_BOUND: Duration = Duration::from_millis(100);
/// Vendure's limit on any session-cache call.
const VENDURE_LIMIT: Duration = Duration::from_millis(50);

fn config(url: &str) -> RedisTierConfig {
    let mut config = RedisTierConfig::new(url, SECRET);
    config.connect_timeout = Duration::from_millis(1000);
    config.heartbeat = Duration::from_millis(250);
    config
}

fn connect(url: &str) -> (RedisTier, Arc<RecordingSink>) {
    let sink = RecordingSink::new();
    let tier = block_on(RedisTier::connect(config(url), sink.clone())).expect("connect");
    (tier, sink)
}

fn in_a_minute() -> u64 {
    WallClock.now_ms() + 60_000
}

fn namespace(server: &RedisServer, prefix: &str) -> u64 {
    let mut con = server.connection();
    let ns: Option<u64> = redis::cmd("GET")
        .arg(format!("{prefix}ns"))
        .query(&mut con)
        .expect("GET ns");
    ns.unwrap_or(0)
}

/// Runs `op` and asserts it answered within Vendure's 50 ms.
fn quick<T>(what: &str, op: impl std::future::Future<Output = T>) -> T {
    let started = Instant::now();
    let answer = block_on(op);
    let took = started.elapsed();
    assert!(took < VENDURE_LIMIT, "{what} took {took:?}");
    answer
}

#[test]
fn a_set_in_one_instance_is_read_by_another() {
    let _serial = serial();
    let server = RedisServer::start();
    let (a, _) = connect(&server.url());
    let (b, _) = connect(&server.url());
    assert_eq!(a.key_hash(TOKEN), b.key_hash(TOKEN));
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss);
    assert_eq!(
        block_on(a.set(TOKEN, PAYLOAD, in_a_minute())),
        SetOutcome::Stored
    );
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Hit(PAYLOAD.to_vec()));
    assert_eq!(block_on(a.get(TOKEN)), Lookup::Hit(PAYLOAD.to_vec()));
    assert!(a.local_trustworthy() && b.local_trustworthy());
    assert_eq!(a.phase(), Phase::Up);

    // The key is `{prefix}{namespace}:{hash}`, it expires with the session, and neither any key nor
    // any value holds the token.
    let mut con = server.connection();
    let key = a
        .key_scheme()
        .data_key(namespace(&server, "vsc:"), &a.key_hash(TOKEN));
    let ns = namespace(&server, "vsc:");
    assert_eq!(key, format!("vsc:{ns}:{}", a.key_hash(TOKEN)));
    let pttl: i64 = redis::cmd("PTTL").arg(&key).query(&mut con).unwrap();
    assert!((59_000..=60_000).contains(&pttl), "PTTL {pttl}");
    let mut keys: Vec<String> = redis::cmd("KEYS").arg("*").query(&mut con).unwrap();
    keys.sort();
    // Beside the session: the namespace counter and the server incarnation record.
    assert_eq!(
        keys,
        vec![key.clone(), "vsc:ns".to_string(), "vsc:srv".to_string()]
    );
    let stored: Vec<u8> = redis::cmd("GET").arg(&key).query(&mut con).unwrap();
    assert!(!String::from_utf8_lossy(&stored).contains(TOKEN));
    assert!(stored.ends_with(PAYLOAD));

    let stats = b.stats();
    assert_eq!((stats.hits, stats.misses, stats.errors), (1, 1, 0));
    assert_eq!(a.stats().sets, 1);
}

#[test]
fn deletes_sets_and_clears_reach_the_other_instance_within_100ms() {
    let _serial = serial();
    let server = RedisServer::start();
    let (a, a_heard) = connect(&server.url());
    let (b, b_heard) = connect(&server.url());
    let hash = a.key_hash(TOKEN);

    let since = Instant::now();
    block_on(a.set(TOKEN, PAYLOAD, in_a_minute()));
    let at = b_heard
        .wait_for(&Heard::Key(hash.clone()), since, INVALIDATION_BOUND)
        .expect("B hears A's set");
    println!("set → B's sink: {:?}", at - since);

    let since = Instant::now();
    assert_eq!(block_on(a.delete(TOKEN)), WriteOutcome::Done);
    let at = b_heard
        .wait_for(&Heard::Key(hash.clone()), since, INVALIDATION_BOUND)
        .expect("B hears A's delete");
    println!("delete → B's sink: {:?}", at - since);
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss);

    block_on(a.set(TOKEN, PAYLOAD, in_a_minute()));
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Hit(PAYLOAD.to_vec()));
    let before = namespace(&server, "vsc:");
    let since = Instant::now();
    assert_eq!(block_on(a.clear()), WriteOutcome::Done);
    let at = b_heard
        .wait_for(&Heard::All, since, INVALIDATION_BOUND)
        .expect("B hears A's clear");
    println!("clear → B's sink: {:?}", at - since);
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss, "the clear reached B");
    assert!(
        namespace(&server, "vsc:") > before,
        "the clear bumped the namespace"
    );

    // An instance ignores its own messages: its caller already updated its local layers.
    std::thread::sleep(Duration::from_millis(20));
    assert_eq!(a_heard.heard(), vec![], "A heard itself");
    assert_eq!(b.stats().invalidations, 3);
    assert_eq!(b.stats().invalidate_alls, 1);
}

#[test]
fn instances_with_other_prefixes_or_secrets_share_nothing() {
    let _serial = serial();
    let server = RedisServer::start();
    let (a, _) = connect(&server.url());
    let mut other_prefix = config(&server.url());
    other_prefix.key_prefix = "shop2:".into();
    let c = block_on(RedisTier::connect(other_prefix, RecordingSink::new())).unwrap();
    let other_secret = RedisTierConfig {
        secret: "another".into(),
        ..config(&server.url())
    };
    let d = block_on(RedisTier::connect(other_secret, RecordingSink::new())).unwrap();
    block_on(a.set(TOKEN, PAYLOAD, in_a_minute()));
    assert_eq!(block_on(c.get(TOKEN)), Lookup::Miss);
    assert_eq!(block_on(d.get(TOKEN)), Lookup::Miss);
    block_on(c.clear());
    assert_eq!(block_on(a.get(TOKEN)), Lookup::Hit(PAYLOAD.to_vec()));
}

#[test]
fn a_deadline_in_the_past_stores_nothing_and_drops_the_older_value() {
    let _serial = serial();
    let server = RedisServer::start();
    let clock = Arc::new(MockTime::new(1_800_000_000_000));
    let sink = RecordingSink::new();
    let a = block_on(RedisTier::connect_with_clock(
        config(&server.url()),
        sink,
        clock.clone(),
    ))
    .unwrap();
    let (b, b_heard) = connect(&server.url());
    let deadline = clock.now_ms() + 5_000;
    assert_eq!(
        block_on(a.set(TOKEN, PAYLOAD, deadline)),
        SetOutcome::Stored
    );
    let key = a
        .key_scheme()
        .data_key(namespace(&server, "vsc:"), &a.key_hash(TOKEN));
    let pttl: i64 = redis::cmd("PTTL")
        .arg(&key)
        .query(&mut server.connection())
        .unwrap();
    assert!(
        (4_000..=5_000).contains(&pttl),
        "PX comes from the injected clock: {pttl}"
    );

    clock.advance(5_000);
    let since = Instant::now();
    assert_eq!(
        block_on(a.set(TOKEN, b"newer", deadline)),
        SetOutcome::AlreadyExpired
    );
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss);
    assert!(b_heard
        .wait_for(&Heard::Key(a.key_hash(TOKEN)), since, INVALIDATION_BOUND)
        .is_some());
}

#[test]
fn corrupt_and_foreign_values_are_counted_misses() {
    let _serial = serial();
    let server = RedisServer::start();
    let (a, _) = connect(&server.url());
    let (b, _) = connect(&server.url());
    let mut con = server.connection();
    let key = |token: &str| {
        a.key_scheme()
            .data_key(namespace(&server, "vsc:"), &a.key_hash(token))
    };
    let put = |con: &mut redis::Connection, token: &str, value: &[u8]| {
        let _: () = redis::cmd("SET")
            .arg(key(token))
            .arg(value)
            .query(con)
            .unwrap();
    };

    put(&mut con, "garbage", b"{\"not\":\"ours\"}");
    assert_eq!(block_on(b.get("garbage")), Lookup::Corrupt);

    block_on(a.set("v2", PAYLOAD, in_a_minute()));
    let mut stored: Vec<u8> = redis::cmd("GET").arg(key("v2")).query(&mut con).unwrap();
    stored[3] = 1;
    put(&mut con, "v2", &stored);
    assert_eq!(block_on(b.get("v2")), Lookup::Corrupt, "another version");

    block_on(a.set("tampered", PAYLOAD, in_a_minute()));
    let mut stored: Vec<u8> = redis::cmd("GET")
        .arg(key("tampered"))
        .query(&mut con)
        .unwrap();
    let last = stored.len() - 2;
    stored[last] = b'9';
    put(&mut con, "tampered", &stored);
    assert_eq!(
        block_on(b.get("tampered")),
        Lookup::Corrupt,
        "payload changed"
    );

    block_on(a.set("original", PAYLOAD, in_a_minute()));
    let stored: Vec<u8> = redis::cmd("GET")
        .arg(key("original"))
        .query(&mut con)
        .unwrap();
    put(&mut con, "moved", &stored);
    assert_eq!(
        block_on(b.get("moved")),
        Lookup::Corrupt,
        "another key's value"
    );

    let _: () = redis::cmd("HSET")
        .arg(key("hash"))
        .arg("f")
        .arg("v")
        .query(&mut con)
        .unwrap();
    assert_eq!(block_on(b.get("hash")), Lookup::Corrupt, "not a string");

    assert_eq!(block_on(b.get("original")), Lookup::Hit(PAYLOAD.to_vec()));
    let stats = b.stats();
    assert_eq!(stats.corrupt, 5);
    assert_eq!((stats.errors, stats.unavailable, stats.hits), (0, 0, 1));
}

#[test]
fn connect_errors_name_the_url_without_the_password() {
    let _serial = serial();
    // Nothing listens on this port.
    let port = {
        let server = RedisServer::start();
        server.port
    };
    let url = format!("redis://:hunter2@127.0.0.1:{port}/2");
    let started = Instant::now();
    let error = block_on(RedisTier::connect(config(&url), RecordingSink::new())).unwrap_err();
    let message = error.to_string();
    println!("wrong port: {message} ({:?})", started.elapsed());
    assert!(matches!(error, RedisTierError::Connect { .. }));
    assert!(
        message.contains(&format!("redis://:***@127.0.0.1:{port}/2")),
        "{message}"
    );
    assert!(!message.contains("hunter2"), "{message}");
    assert!(message.to_lowercase().contains("refused"), "{message}");
    assert!(started.elapsed() < Duration::from_secs(2));

    let server = RedisServer::start_with(&["--save", "", "--requirepass", "right-one"]);
    for (url, expected) in [
        (
            format!("redis://:wrong-one@127.0.0.1:{}", server.port),
            "authentication failed",
        ),
        (
            format!("redis://default:wrong-one@127.0.0.1:{}/1", server.port),
            "authentication failed",
        ),
        (format!("redis://127.0.0.1:{}", server.port), "noauth"),
        (
            format!("redis://:right-one@127.0.0.1:{}/99", server.port),
            "db index",
        ),
    ] {
        let error = block_on(RedisTier::connect(config(&url), RecordingSink::new())).unwrap_err();
        let message = error.to_string();
        println!("{message}");
        assert!(
            message.starts_with("cannot connect to Redis at redis://"),
            "{message}"
        );
        assert!(
            message.contains(&format!("127.0.0.1:{}", server.port)),
            "{message}"
        );
        assert!(message.to_lowercase().contains(expected), "{message}");
        assert!(
            !message.contains("wrong-one") && !message.contains("right-one"),
            "{message}"
        );
    }

    // The right password and a database index: keys land in that database.
    let url = format!("redis://:right-one@127.0.0.1:{}/3", server.port);
    let (tier, _) = connect(&url);
    assert!(!format!("{tier:?}").contains("right-one"));
    block_on(tier.set(TOKEN, PAYLOAD, in_a_minute()));
    let mut con = server.connection();
    let _: () = redis::cmd("SELECT").arg(3).query(&mut con).unwrap();
    let size: u64 = redis::cmd("DBSIZE").query(&mut con).unwrap();
    assert_eq!(
        size, 3,
        "the session, the namespace and the incarnation record"
    );
}

#[test]
fn a_killed_redis_turns_every_call_into_a_quick_unavailable_and_a_restart_recovers_safely() {
    let _serial = serial();
    // Every write persisted at once: the restarted server has everything the killed one had.
    let mut server = RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "yes",
        "--appendfsync",
        "always",
    ]);
    let (a, a_heard) = connect(&server.url());
    let (b, b_heard) = connect(&server.url());
    block_on(a.set(TOKEN, PAYLOAD, in_a_minute()));
    block_on(a.set("kept", PAYLOAD, in_a_minute()));
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Hit(PAYLOAD.to_vec()));
    let old_key = a
        .key_scheme()
        .data_key(namespace(&server, "vsc:"), &a.key_hash(TOKEN));

    server.kill();
    let killed = Instant::now();
    // Every call answers within Vendure's limit, from the very first one on.
    assert_eq!(quick("get", a.get(TOKEN)), Lookup::Unavailable);
    assert!(
        eventually(Duration::from_secs(1), || !b.local_trustworthy()),
        "local layers are not trusted while the channel is down"
    );
    println!("B untrustworthy {:?} after the kill", killed.elapsed());
    assert!(eventually(Duration::from_secs(1), || !a.local_trustworthy()));
    for _ in 0..3 {
        assert_eq!(
            quick("set", a.set("other", PAYLOAD, in_a_minute())),
            SetOutcome::Unavailable
        );
        assert_eq!(quick("get", b.get(TOKEN)), Lookup::Unavailable);
        assert_eq!(quick("get", a.get("kept")), Lookup::Unavailable);
    }
    assert_eq!(quick("delete", a.delete(TOKEN)), WriteOutcome::Unavailable);
    assert_eq!(quick("clear", b.clear()), WriteOutcome::Unavailable);
    // The delete's repair fails too: then the write counts as lost.
    assert!(eventually(Duration::from_secs(1), || a.stats().lost_writes >= 1));
    let stats = a.stats();
    assert!(stats.outages == 1, "{stats:?}");

    a_heard.clear();
    b_heard.clear();
    let restarted = Instant::now();
    server.restart();
    let exists: bool = redis::cmd("EXISTS")
        .arg(&old_key)
        .query(&mut server.connection())
        .unwrap();
    assert!(
        exists,
        "the delete made during the outage never reached Redis"
    );
    assert!(
        eventually(Duration::from_secs(5), || a.local_trustworthy()
            && b.local_trustworthy()),
        "both recover"
    );
    println!(
        "trustworthy again {:?} after the restart",
        restarted.elapsed()
    );
    for (tier, heard) in [(&a, &a_heard), (&b, &b_heard)] {
        assert!(heard.heard().contains(&Heard::All), "local layers flushed");
        let stats = tier.stats();
        // The data link can notice the new server before the subscription does: then the
        // subscription is made twice.
        assert!(stats.reconnects >= 1 && stats.restarts == 1, "{stats:?}");
        assert!(stats.namespace_bumps >= 1, "{stats:?}");
    }
    assert!(namespace(&server, "vsc:") >= 1);
    // The session deleted during the outage is not served, nor anything else from before.
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss);
    assert_eq!(block_on(a.get(TOKEN)), Lookup::Miss);
    assert_eq!(block_on(b.get("kept")), Lookup::Miss);
    block_on(a.set(TOKEN, PAYLOAD, in_a_minute()));
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Hit(PAYLOAD.to_vec()));
}

#[test]
fn connections_the_server_cuts_are_made_anew_within_the_call_and_the_channel_recovers() {
    let _serial = serial();
    let server = RedisServer::start();
    let (a, _) = connect(&server.url());
    let (b, b_heard) = connect(&server.url());
    block_on(a.set(TOKEN, PAYLOAD, in_a_minute()));
    let mut con = server.connection();
    let since = Instant::now();
    for kind in ["normal", "pubsub"] {
        let _: i64 = redis::cmd("CLIENT")
            .arg(&["KILL", "TYPE", kind])
            .query(&mut con)
            .unwrap();
    }
    // The data connections were cut: the first command finds out, and is sent again on a new one.
    assert_eq!(quick("delete", a.delete(TOKEN)), WriteOutcome::Done);
    // B's subscription was cut too, so it may have missed A's delete: it flushes when it is back.
    assert!(b_heard
        .wait_for(&Heard::All, since, Duration::from_secs(5))
        .is_some());
    assert!(eventually(Duration::from_secs(5), || a.local_trustworthy()
        && b.local_trustworthy()));
    assert_eq!(quick("get", b.get(TOKEN)), Lookup::Miss);
    let stats = b.stats();
    assert_eq!((stats.outages, stats.reconnects), (1, 1), "{stats:?}");
    assert_eq!(
        (stats.lost_writes, stats.namespace_bumps, stats.restarts),
        (0, 0, 0)
    );
}

#[test]
fn a_delete_redis_refused_is_covered_by_a_namespace_bump_before_trusting_again() {
    let _serial = serial();
    let server = RedisServer::start();
    let (a, _) = connect(&server.url());
    let (b, b_heard) = connect(&server.url());
    block_on(a.set(TOKEN, PAYLOAD, in_a_minute()));
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Hit(PAYLOAD.to_vec()));
    let before = namespace(&server, "vsc:");
    let old_key = a.key_scheme().data_key(before, &a.key_hash(TOKEN));

    // Redis stays up, keeps its data and serves reads, but refuses writes (NOREPLICAS).
    let mut con = server.connection();
    let config_set = |con: &mut redis::Connection, value: &str| {
        let _: () = redis::cmd("CONFIG")
            .arg(&["SET", "min-replicas-to-write", value])
            .query(con)
            .unwrap();
    };
    config_set(&mut con, "1");
    assert_eq!(quick("delete", a.delete(TOKEN)), WriteOutcome::Unavailable);
    // The repair (the delete again) fails too: the write is lost, a bump is owed.
    assert!(
        eventually(Duration::from_secs(1), || !a.local_trustworthy()),
        "a bump is owed"
    );
    assert_eq!(a.phase(), Phase::Recovering);
    assert_eq!(quick("get", a.get(TOKEN)), Lookup::Unavailable);
    std::thread::sleep(Duration::from_millis(200));
    assert!(!a.local_trustworthy(), "the bump cannot be made yet");
    assert!(a.stats().failed_bumps >= 1);

    let since = Instant::now();
    config_set(&mut con, "0");
    assert!(eventually(Duration::from_secs(3), || a.local_trustworthy()));
    assert!(b_heard
        .wait_for(&Heard::All, since, INVALIDATION_BOUND)
        .is_some());
    let stats = a.stats();
    assert_eq!(
        (stats.lost_writes, stats.namespace_bumps),
        (1, 1),
        "{stats:?}"
    );
    // The value the delete missed is still in Redis, under the old namespace: unreachable.
    let exists: bool = redis::cmd("EXISTS").arg(&old_key).query(&mut con).unwrap();
    assert!(exists, "the refused delete did not reach Redis");
    assert!(
        namespace(&server, "vsc:") > before,
        "the clear bumped the namespace"
    );
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss);
    assert_eq!(block_on(a.get(TOKEN)), Lookup::Miss);
}

#[test]
fn a_restart_with_old_data_brings_no_deleted_session_back() {
    let _serial = serial();
    let mut server = RedisServer::start_with(&["--save", "", "--appendonly", "no"]);
    let (a, _) = connect(&server.url());
    let (b, _) = connect(&server.url());
    block_on(a.set(TOKEN, PAYLOAD, in_a_minute()));
    block_on(a.set("kept", PAYLOAD, in_a_minute()));
    // A snapshot with the session in it, then a delete that Redis takes but never persists.
    let _: () = redis::cmd("SAVE").query(&mut server.connection()).unwrap();
    assert_eq!(block_on(a.delete(TOKEN)), WriteOutcome::Done);
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss);
    let old_key = a
        .key_scheme()
        .data_key(namespace(&server, "vsc:"), &a.key_hash(TOKEN));

    server.restart();
    let exists: bool = redis::cmd("EXISTS")
        .arg(&old_key)
        .query(&mut server.connection())
        .unwrap();
    assert!(
        exists,
        "the snapshot brought the deleted session back into Redis"
    );
    // Until both have bumped the namespace, neither serves anything from Redis.
    let mut served = Vec::new();
    assert!(eventually(Duration::from_secs(5), || {
        for tier in [&a, &b] {
            if let Lookup::Hit(_) = block_on(tier.get(TOKEN)) {
                served.push(tier.phase());
            }
        }
        a.local_trustworthy() && b.local_trustworthy()
    }));
    assert_eq!(served, vec![], "a deleted session came back");
    assert_eq!(block_on(a.get(TOKEN)), Lookup::Miss);
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss);
    assert_eq!(a.stats().restarts, 1);
    assert!(namespace(&server, "vsc:") >= 1);
}

#[test]
fn dropping_a_tier_returns_at_once_and_the_other_carries_on() {
    let _serial = serial();
    let server = RedisServer::start();
    let (a, _) = connect(&server.url());
    let (b, b_heard) = connect(&server.url());
    let started = Instant::now();
    drop(a);
    assert!(
        started.elapsed() < Duration::from_millis(500),
        "{:?}",
        started.elapsed()
    );
    let (c, _) = connect(&server.url());
    let since = Instant::now();
    block_on(c.delete(TOKEN));
    assert!(b_heard
        .wait_for(&Heard::Key(c.key_hash(TOKEN)), since, INVALIDATION_BOUND)
        .is_some());
    // An operation whose future is dropped still runs.
    drop(c.set(TOKEN, PAYLOAD, in_a_minute()));
    assert!(eventually(Duration::from_secs(1), || block_on(
        b.get(TOKEN)
    ) == Lookup::Hit(
        PAYLOAD.to_vec()
    )));
}

#[test]
fn losing_trust_flushes_the_local_store_at_once_and_again_on_recovery() {
    use vendure_native_session_cache::shared_tier::StoreSink;
    use vendure_native_session_cache::store::{Store, StoreConfig};
    let _serial = serial();
    let mut server = RedisServer::start();
    let store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
    let recorded = RecordingSink::new();
    /// The binding's sink, recorded as well.
    struct Both(StoreSink, Arc<RecordingSink>);
    impl vendure_native_session_cache::redis::InvalidationSink for Both {
        fn invalidate(&self, key_hash: &str) {
            self.0.invalidate(key_hash);
            self.1.invalidate(key_hash);
        }
        fn invalidate_all(&self) {
            self.0.invalidate_all();
            self.1.invalidate_all();
        }
    }
    let sink = Arc::new(Both(StoreSink::new(&store), recorded.clone()));
    let tier = block_on(RedisTier::connect(config(&server.url()), sink)).expect("connect");
    let key = tier.key_hash(TOKEN);
    let far = 4e12;
    store.set(&key, PAYLOAD.to_vec().into_boxed_slice(), far, far);
    let epoch = store.slot_table().epoch();

    server.kill();
    assert!(eventually(Duration::from_secs(1), || !tier.local_trustworthy()));
    // The flush runs under the policy's lock right after trust is withdrawn: by the time a reader
    // could see `false` and look again, the store is empty and every near cache's epoch is stale.
    assert!(
        eventually(Duration::from_millis(100), || recorded
            .heard()
            .contains(&Heard::All)),
        "losing trust flushes"
    );
    assert!(store.get_with(&key, |_| ()).is_none());
    assert_ne!(
        store.slot_table().epoch(),
        epoch,
        "near caches see the clear"
    );
    // While untrusted, the tier reads nothing, so nothing comes back into the store from a get.
    assert_eq!(block_on(tier.get(TOKEN)), Lookup::Unavailable);

    recorded.clear();
    let epoch = store.slot_table().epoch();
    server.restart();
    assert!(eventually(Duration::from_secs(5), || tier.local_trustworthy()));
    assert!(
        recorded.heard().contains(&Heard::All),
        "recovering flushes again"
    );
    assert_ne!(store.slot_table().epoch(), epoch);
}

#[test]
fn a_tier_wired_to_a_released_store_is_not_adopted_by_the_next_store_of_that_name() {
    // @vendure/testing's lifecycle: destroy() while init() still connects releases the store's name;
    // the next init opens a new store of that name while the first tier is still alive.
    use vendure_native_session_cache::shared_tier;
    use vendure_native_session_cache::store::{Store, StoreConfig};
    let _serial = serial();
    let server = RedisServer::start();
    let name = "adopted-across-destroy";
    let first_store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
    let first = shared_tier::open(name, &first_store, config(&server.url())).unwrap();
    let second_store = Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock)));
    let second = shared_tier::open(name, &second_store, config(&server.url())).unwrap();
    assert!(
        !Arc::ptr_eq(&first, &second),
        "the new store adopted a tier whose invalidations go to the released one"
    );
    // The new store hears another instance's delete through its own tier.
    let other = shared_tier::open(
        "another-instance",
        &Arc::new(Store::new(StoreConfig::default(), Arc::new(WallClock))),
        config(&server.url()),
    )
    .unwrap();
    let key = second.local_key(TOKEN);
    second_store.set(&key, b"v".to_vec().into(), 4e9, 4e12);
    quick("delete", other.tier.delete(TOKEN));
    assert!(eventually(Duration::from_secs(1), || second_store
        .get_with(&key, |_| ())
        .is_none()));
    drop(first);
}
