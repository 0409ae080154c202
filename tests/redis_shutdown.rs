//! Dropping a tier stops its runtime thread: none may outlive the tier (and so the addon). Its own
//! test binary, because it counts the process's threads.

mod redis_support;

use redis_support::{block_on, eventually, RecordingSink, RedisServer};
use std::time::{Duration, Instant};
use vendure_native_session_cache::redis::{RedisTier, RedisTierConfig};

/// Threads of this process named like the tier's runtime threads.
fn tier_threads() -> usize {
    std::fs::read_dir("/proc/self/task")
        .map(|tasks| {
            tasks
                .filter_map(Result::ok)
                .filter(|task| {
                    std::fs::read_to_string(task.path().join("comm"))
                        .is_ok_and(|name| name.trim_end() == "vsc-redis")
                })
                .count()
        })
        .unwrap_or(0)
}

#[test]
fn dropping_the_tier_stops_its_thread_in_sync_and_async_contexts() {
    let server = RedisServer::start();
    let config = RedisTierConfig::new(server.url(), "s");
    assert_eq!(tier_threads(), 0);

    let tier = block_on(RedisTier::connect(config.clone(), RecordingSink::new())).unwrap();
    assert!(tier_threads() >= 1);
    let started = Instant::now();
    drop(tier);
    println!("drop took {:?}", started.elapsed());
    assert!(started.elapsed() < Duration::from_millis(500));
    assert_eq!(tier_threads(), 0, "joined before drop returned");

    // Inside an async context the runtime cannot be joined: it shuts down in the background, and
    // dropping does not panic.
    let outer = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    outer.block_on(async {
        let tier = RedisTier::connect(config, RecordingSink::new())
            .await
            .unwrap();
        assert_eq!(
            tier.get("t").await,
            vendure_native_session_cache::redis::Lookup::Miss
        );
        drop(tier);
    });
    assert!(eventually(Duration::from_secs(2), || tier_threads() == 0));
}
