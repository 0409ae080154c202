//! The longest single set and delete while a second thread does the sweeper's work on a store of a
//! million entries just cleared, in Rust alone (no N-API, no V8): where a stall comes from.
//! `cargo run --release --example housekeeping_latency`.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};
use vendure_native_session_cache::store::{Store, StoreConfig};
use vendure_native_session_cache::time::WallClock;

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}

fn main() {
    let n = 1_000_000;
    let store = Arc::new(Store::new(
        StoreConfig {
            max_entries: n + 100_000,
            max_bytes: usize::MAX / 2,
            ..StoreConfig::default()
        },
        Arc::new(WallClock),
    ));
    let value = vec![b'x'; 410];
    let far = (now_s() + 3600.0, 1e13);
    for i in 0..n {
        store.set(&format!("{i:064x}"), value.clone().into(), far.0, far.1);
    }
    store.clear();
    let done = Arc::new(AtomicBool::new(false));
    let sweeper = {
        let (store, done) = (Arc::clone(&store), Arc::clone(&done));
        std::thread::spawn(move || {
            let started = Instant::now();
            let mut cursor = 0;
            let mut chunks: Vec<Duration> = Vec::new();
            loop {
                let t = Instant::now();
                let finished = store.reclaim(&mut cursor, chunk_slots());
                chunks.push(t.elapsed());
                if finished {
                    break;
                }
                std::thread::sleep(pause());
            }
            done.store(true, Ordering::Release);
            chunks.sort_unstable();
            let at = |q: f64| chunks[((chunks.len() - 1) as f64 * q) as usize];
            (
                started.elapsed(),
                (at(0.5), at(0.99), at(1.0), chunks.len()),
            )
        })
    };
    let mut longest = Duration::ZERO;
    let mut calls = 0u64;
    let mut i = 0usize;
    while !done.load(Ordering::Acquire) {
        let key = format!("new{:060x}", i % 10_000);
        let t = Instant::now();
        if i.is_multiple_of(2) {
            store.set(&key, value.clone().into(), far.0, far.1);
        } else {
            store.delete(&key);
        }
        longest = longest.max(t.elapsed());
        calls += 1;
        i += 1;
    }
    let Ok((pass, (median, p99, max, count))) = sweeper.join() else {
        return;
    };
    println!(
        "reclaim of {n} cleared entries: {pass:?} in all, {count} chunks (median {median:?}, p99 {p99:?}, \
         longest {max:?}); meanwhile {calls} set/delete calls, the longest {longest:?}"
    );
}

fn chunk_slots() -> usize {
    std::env::var("CHUNK")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024)
}

fn pause() -> Duration {
    Duration::from_micros(
        std::env::var("PAUSE_US")
            .ok()
            .and_then(|v| v.parse().ok())
            .unwrap_or(50),
    )
}
