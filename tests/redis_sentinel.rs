//! Redis Sentinel as the high-availability setup: real `redis-server`s (a master and a replica)
//! and a real `redis-server --sentinel`, all on loopback. The tier connects through
//! `redis+sentinel://`, follows a failover to the new master, and a failover to a replica that
//! missed a delete brings no deleted session back, for running processes and for new ones.

mod redis_support;

use redis_support::proxy::{FaultProxy, Kind};
use redis_support::{block_on, eventually, free_port, serial, RecordingSink, RedisServer, TempDir};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vendure_native_session_cache::redis::{
    Lookup, RedisTier, RedisTierConfig, SetOutcome, WriteOutcome,
};
use vendure_native_session_cache::time::{TimeSource, WallClock};

const SECRET: &str = "sentinel-secret";
const PAYLOAD: &[u8] = br#"{"cacheExpiry":1800000000.5,"id":3,"expires":1900000000000}"#;
const MASTER: &str = "shop";

/// One `redis-server --sentinel`, monitoring `MASTER` at the given port with a quorum of 1.
struct Sentinel {
    child: Child,
    port: u16,
    _dir: TempDir,
}

impl Sentinel {
    fn start(master_port: u16) -> Self {
        let dir = TempDir::new("sentinel");
        let port = free_port();
        let conf = dir.path().join("sentinel.conf");
        std::fs::write(
            &conf,
            format!(
                "port {port}\nbind 127.0.0.1\ndir {dir}\n\
                 sentinel monitor {MASTER} 127.0.0.1 {master_port} 1\n\
                 sentinel down-after-milliseconds {MASTER} 400\n\
                 sentinel failover-timeout {MASTER} 3000\n\
                 sentinel parallel-syncs {MASTER} 1\n",
                dir = dir.path().display()
            ),
        )
        .expect("write sentinel.conf");
        let child = Command::new("redis-server")
            .arg(&conf)
            .arg("--sentinel")
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("spawn redis-server --sentinel");
        let sentinel = Self {
            child,
            port,
            _dir: dir,
        };
        assert!(
            eventually(Duration::from_secs(10), || sentinel.master_port().is_some()),
            "the sentinel never answered"
        );
        sentinel
    }

    fn connection(&self) -> Option<redis::Connection> {
        redis::Client::open(format!("redis://127.0.0.1:{}", self.port))
            .ok()?
            .get_connection_with_timeout(Duration::from_millis(500))
            .ok()
    }

    fn master_port(&self) -> Option<u16> {
        let mut con = self.connection()?;
        let address: Option<(String, u16)> = redis::cmd("SENTINEL")
            .arg("get-master-addr-by-name")
            .arg(MASTER)
            .query(&mut con)
            .ok()?;
        address.map(|(_, port)| port)
    }

    /// Waits until the sentinel knows of `replicas` replicas (it learns them from the master's INFO).
    fn wait_for_replicas(&self, replicas: usize) {
        assert!(
            eventually(Duration::from_secs(20), || {
                let Some(mut con) = self.connection() else {
                    return false;
                };
                let known: redis::RedisResult<Vec<redis::Value>> = redis::cmd("SENTINEL")
                    .arg("replicas")
                    .arg(MASTER)
                    .query(&mut con);
                known.is_ok_and(|list| list.len() >= replicas)
            }),
            "the sentinel never learned the replica"
        );
    }

    fn url(&self) -> String {
        format!("redis+sentinel://127.0.0.1:{}/{MASTER}", self.port)
    }
}

impl Drop for Sentinel {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn connect(url: &str) -> RedisTier {
    let mut config = RedisTierConfig::new(url, SECRET);
    config.connect_timeout = Duration::from_millis(1000);
    config.heartbeat = Duration::from_millis(300);
    block_on(RedisTier::connect(config, RecordingSink::new())).expect("connect through Sentinel")
}

fn in_a_minute() -> u64 {
    WallClock.now_ms() + 60_000
}

/// Waits until the replica is in sync and has acknowledged everything written so far.
fn replicated(master: &RedisServer) {
    let mut con = master.connection();
    // A write on this connection, so that WAIT waits for everything before it.
    let _: () = redis::cmd("SET")
        .arg("sync-probe")
        .arg(1)
        .query(&mut con)
        .expect("SET");
    assert!(
        eventually(Duration::from_secs(20), || {
            let acked: i64 = redis::cmd("WAIT")
                .arg(1)
                .arg(200)
                .query(&mut con)
                .unwrap_or(0);
            acked >= 1
        }),
        "the replica never caught up"
    );
}

#[test]
fn a_failover_to_a_replica_that_missed_a_delete_brings_no_deleted_session_back() {
    let _serial = serial();
    let mut master = RedisServer::start();
    // The replica replicates through a proxy, so that its link can be held.
    let link = FaultProxy::start(master.port);
    let replica = RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--replicaof",
        "127.0.0.1",
        &link.port.to_string(),
    ]);
    let sentinel = Sentinel::start(master.port);
    sentinel.wait_for_replicas(1);
    {
        let a = connect(&sentinel.url());
        assert_eq!(
            block_on(a.set("deleted", PAYLOAD, in_a_minute())),
            SetOutcome::Stored
        );
        assert_eq!(
            block_on(a.set("kept", PAYLOAD, in_a_minute())),
            SetOutcome::Stored
        );
        replicated(&master);
        // The replica stops hearing the master; the delete reaches the master only.
        link.hang(Kind::Data);
        assert_eq!(block_on(a.delete("deleted")), WriteOutcome::Done);
        // A stops too: no process that saw the old master is left to notice the failover.
    }
    master.kill();
    link.cut(Kind::Data);
    let died = Instant::now();
    assert!(
        eventually(Duration::from_secs(20), || sentinel.master_port()
            == Some(replica.port)),
        "no failover"
    );
    println!("failover done {:?} after the master died", died.elapsed());
    // A process started after the failover connects to the promoted, stale replica.
    let c = connect(&sentinel.url());
    assert_eq!(
        block_on(c.get("deleted")),
        Lookup::Miss,
        "the deleted session came back"
    );
    assert_eq!(c.stats().incarnation_bumps, 1);
    assert_eq!(
        block_on(c.set("new", PAYLOAD, in_a_minute())),
        SetOutcome::Stored
    );
    assert_eq!(block_on(c.get("new")), Lookup::Hit(PAYLOAD.to_vec()));
}

#[test]
fn a_switchover_moves_every_tier_to_the_new_master_and_invalidations_still_flow() {
    let _serial = serial();
    let master = RedisServer::start();
    let replica = RedisServer::start_with(&[
        "--save",
        "",
        "--appendonly",
        "no",
        "--replicaof",
        "127.0.0.1",
        &master.port.to_string(),
    ]);
    let sentinel = Sentinel::start(master.port);
    sentinel.wait_for_replicas(1);
    let sink_b = RecordingSink::new();
    let a = connect(&sentinel.url());
    let mut config = RedisTierConfig::new(sentinel.url(), SECRET);
    config.connect_timeout = Duration::from_millis(1000);
    let b = block_on(RedisTier::connect(config, sink_b.clone())).expect("connect B");
    assert_eq!(
        block_on(a.set("t", PAYLOAD, in_a_minute())),
        SetOutcome::Stored
    );
    replicated(&master);

    let _: () = redis::cmd("SENTINEL")
        .arg("FAILOVER")
        .arg(MASTER)
        .query(&mut sentinel.connection().expect("sentinel"))
        .expect("SENTINEL FAILOVER");
    assert!(eventually(Duration::from_secs(20), || sentinel
        .master_port()
        == Some(replica.port)));
    // Both tiers write to the new master again (READONLY from the demoted one is a lost link).
    for tier in [&a, &b] {
        assert!(
            eventually(Duration::from_secs(20), || tier.local_trustworthy()
                && block_on(tier.set("after", PAYLOAD, in_a_minute()))
                    == SetOutcome::Stored),
            "a tier never reached the new master: {:?}",
            tier.stats()
        );
    }
    // And a delete on A reaches B.
    let since = Instant::now();
    assert_eq!(block_on(a.delete("after")), WriteOutcome::Done);
    assert!(sink_b
        .wait_for(
            &redis_support::Heard::Key(a.key_hash("after")),
            since,
            Duration::from_millis(100)
        )
        .is_some());
    assert_eq!(block_on(b.get("after")), Lookup::Miss);
    let _ = Arc::strong_count(&sink_b);
}
