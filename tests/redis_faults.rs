//! The tier's guarantees under faults, one test per mechanism that once served a deleted session:
//! a write delayed past its call, a hung invalidation channel, a stalled Redis, a restart with old
//! data seen by a process that starts afterwards, a namespace counter that vanishes, `clear()` at
//! `maxmemory` under `noeviction`. Each runs real `redis-server`s on loopback, with a fault proxy
//! between a tier and Redis where a connection must be held, cut or delayed.

mod redis_support;

use redis_support::proxy::{FaultProxy, Kind};
use redis_support::{block_on, eventually, serial, Heard, RecordingSink, RedisServer};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vendure_native_session_cache::redis::{
    Lookup, RedisTier, RedisTierConfig, SetOutcome, WriteOutcome,
};
use vendure_native_session_cache::time::{TimeSource, WallClock};

const SECRET: &str = "fault-secret";
const TOKEN: &str = "0d9c8b7a6f5e4d3c2b1a0f9e8d7c6b5a4f3e2d1c0b9a8f7e6d5c4b3a2f1e0d9c";
const PAYLOAD: &[u8] = br#"{"cacheExpiry":1800000000.5,"id":11,"expires":1900000000000}"#;
/// The guarantee: nothing deleted is served more than this after the delete returned.
const BOUND: Duration = Duration::from_millis(100);

fn config(url: &str) -> RedisTierConfig {
    let mut config = RedisTierConfig::new(url, SECRET);
    config.connect_timeout = Duration::from_millis(1000);
    config.heartbeat = Duration::from_millis(500);
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

fn namespace(server: &RedisServer) -> Option<u64> {
    redis::cmd("GET")
        .arg("vsc:ns")
        .query(&mut server.connection())
        .expect("GET ns")
}

/// Waits until the tier serves local hits (a fresh proof of liveness).
fn until_trusted(tier: &RedisTier) {
    assert!(
        eventually(Duration::from_secs(5), || tier.local_trustworthy()),
        "the tier never trusted its local layers"
    );
}

#[test]
fn a_set_delayed_on_the_network_past_its_call_cannot_land_after_a_later_delete() {
    let _serial = serial();
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.port);
    let (a, _) = connect(&proxy.url());
    let (b, _) = connect(&server.url());
    assert_eq!(
        block_on(a.set(TOKEN, PAYLOAD, in_a_minute())),
        SetOutcome::Stored
    );

    // A's SET is held on the wire; its call gives up; B then deletes; then the SET arrives.
    proxy.hang(Kind::Data);
    let started = Instant::now();
    assert_eq!(
        block_on(a.set(TOKEN, b"the older value", in_a_minute())),
        SetOutcome::Unavailable
    );
    assert!(started.elapsed() < Duration::from_millis(50));
    assert_eq!(block_on(b.delete(TOKEN)), WriteOutcome::Done);
    std::thread::sleep(Duration::from_millis(50));
    // Only the held SET arrives; A's repair (a delete sent on the same connection after it) is
    // lost with the connection, so nothing but the SET's own deadline can stop it.
    proxy.pass_held_then_cut(Kind::Data);
    std::thread::sleep(Duration::from_millis(100));

    assert_eq!(
        block_on(b.get(TOKEN)),
        Lookup::Miss,
        "the late write landed"
    );
    let (c, _) = connect(&server.url());
    assert_eq!(
        block_on(c.get(TOKEN)),
        Lookup::Miss,
        "a new process reads the late write"
    );
    let stats = a.stats();
    assert!(stats.late_writes + stats.repairs >= 1, "{stats:?}");
}

#[test]
fn a_hung_invalidation_channel_stops_local_hits_within_the_bound() {
    let _serial = serial();
    let server = RedisServer::start();
    let proxy = FaultProxy::start(server.port);
    let (a, _) = connect(&proxy.url());
    until_trusted(&a);
    // Bytes held, the connection open: nothing tells A its channel is silent but the missing proof.
    proxy.hang(Kind::PubSub);
    let hung = Instant::now();
    assert!(
        eventually(Duration::from_secs(2), || !a.local_trustworthy()),
        "local hits never stopped"
    );
    let took = hung.elapsed();
    println!("local hits stopped {took:?} after the channel hung");
    assert!(took < BOUND, "local hits went on for {took:?}");
    proxy.release(Kind::PubSub);
    until_trusted(&a);
}

#[test]
fn a_stalled_redis_stops_local_hits_within_the_bound_everywhere() {
    let _serial = serial();
    let server = RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--enable-debug-command",
        "yes",
    ]);
    let (a, _) = connect(&server.url());
    let (b, _) = connect(&server.url());
    until_trusted(&a);
    until_trusted(&b);
    let stall = std::thread::spawn({
        let mut con = server.connection();
        move || {
            let _: redis::RedisResult<()> =
                redis::cmd("DEBUG").arg("SLEEP").arg("0.5").query(&mut con);
        }
    });
    let stalled = Instant::now();
    for tier in [&a, &b] {
        assert!(eventually(Duration::from_secs(1), || !tier.local_trustworthy()));
    }
    let took = stalled.elapsed();
    println!("both stopped local hits {took:?} into the stall");
    assert!(took < BOUND, "local hits went on for {took:?} into a stall");
    stall.join().unwrap();
    until_trusted(&a);
    until_trusted(&b);
}

#[test]
fn a_process_started_after_a_restart_from_old_data_does_not_trust_it() {
    let _serial = serial();
    let mut server = RedisServer::start_with(&["--save", "", "--appendonly", "no"]);
    {
        let (a, _) = connect(&server.url());
        assert_eq!(
            block_on(a.set(TOKEN, PAYLOAD, in_a_minute())),
            SetOutcome::Stored
        );
        // A snapshot with the session in it, then a delete Redis takes but never persists.
        let _: () = redis::cmd("SAVE").query(&mut server.connection()).unwrap();
        assert_eq!(block_on(a.delete(TOKEN)), WriteOutcome::Done);
        // A stops: nobody is running to notice the restart.
    }
    server.restart();
    let (c, _) = connect(&server.url());
    assert_eq!(
        block_on(c.get(TOKEN)),
        Lookup::Miss,
        "the deleted session came back"
    );
    assert_eq!(c.stats().incarnation_bumps, 1);
    // The process after it finds the incarnation recorded, and bumps nothing.
    let (d, _) = connect(&server.url());
    assert_eq!(d.stats().incarnation_bumps, 0);
    assert_eq!(block_on(d.get(TOKEN)), Lookup::Miss);
}

#[test]
fn a_namespace_counter_that_vanishes_never_comes_back_at_a_used_value() {
    let _serial = serial();
    let server = RedisServer::start();
    let (a, _) = connect(&server.url());
    let (b, b_heard) = connect(&server.url());
    // A session written in the first namespace, made unreachable by a clear.
    assert_eq!(
        block_on(a.set(TOKEN, PAYLOAD, in_a_minute())),
        SetOutcome::Stored
    );
    let first = namespace(&server).expect("a namespace");
    assert_eq!(block_on(a.clear()), WriteOutcome::Done);
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss);
    let second = namespace(&server).expect("a namespace");
    assert!(second > first);

    // Evicted under allkeys-lru, or deleted by an operator: the counter is gone.
    let _: () = redis::cmd("DEL")
        .arg("vsc:ns")
        .query(&mut server.connection())
        .unwrap();
    let since = Instant::now();
    assert_eq!(
        block_on(b.get(TOKEN)),
        Lookup::Miss,
        "a cleared session came back"
    );
    let third = namespace(&server).expect("made anew");
    assert!(
        third > second,
        "{third} <= {second}: a used namespace again"
    );
    // Everyone drops their local copies: the new namespace is broadcast as a clear.
    assert!(b_heard.wait_for(&Heard::All, since, BOUND).is_some() || b.stats().invalidate_alls > 0);
    assert_eq!(block_on(a.clear()), WriteOutcome::Done);
    assert_eq!(block_on(a.get(TOKEN)), Lookup::Miss);
    assert!(namespace(&server).unwrap() > third);
}

#[test]
fn clear_and_delete_work_at_maxmemory_under_noeviction() {
    let _serial = serial();
    let server = RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--maxmemory",
        "3mb",
        "--maxmemory-policy",
        "noeviction",
    ]);
    let (a, _) = connect(&server.url());
    let (b, b_heard) = connect(&server.url());
    assert_eq!(
        block_on(a.set(TOKEN, PAYLOAD, in_a_minute())),
        SetOutcome::Stored
    );
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Hit(PAYLOAD.to_vec()));
    // Other data fills Redis to its limit.
    let mut con = server.connection();
    let filler = "x".repeat(10_000);
    for i in 0.. {
        let written: redis::RedisResult<()> = redis::cmd("SET")
            .arg(format!("other:{i}"))
            .arg(&filler)
            .query(&mut con);
        if written.is_err() {
            break;
        }
    }
    // Well over the limit, not just at it (noeviction frees nothing).
    let _: () = redis::cmd("CONFIG")
        .arg(&["SET", "maxmemory", "1mb"])
        .query(&mut con)
        .unwrap();
    // A new session cannot be stored; a clear and a delete still can, and are heard.
    assert_eq!(
        block_on(a.set("new", PAYLOAD, in_a_minute())),
        SetOutcome::Unavailable
    );
    let since = Instant::now();
    assert_eq!(
        block_on(a.clear()),
        WriteOutcome::Done,
        "clear() refused at maxmemory"
    );
    assert!(
        b_heard.wait_for(&Heard::All, since, BOUND).is_some(),
        "B never heard the clear"
    );
    assert_eq!(block_on(b.get(TOKEN)), Lookup::Miss);
    assert_eq!(
        block_on(a.delete("new")),
        WriteOutcome::Done,
        "delete refused at maxmemory"
    );
}
