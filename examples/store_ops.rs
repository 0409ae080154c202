//! Nanoseconds per store operation in Rust alone, without N-API, to see what the binding adds:
//! `cargo run --release --example store_ops`.

use std::sync::Arc;
use std::time::Instant;
use vendure_native_session_cache::store::{Store, StoreConfig};
use vendure_native_session_cache::time::WallClock;

fn per_op(n: usize, mut op: impl FnMut(usize)) -> f64 {
    let started = Instant::now();
    for i in 0..n {
        op(i);
    }
    started.elapsed().as_nanos() as f64 / n as f64
}

fn main() {
    let n = 100_000;
    let store = Store::new(
        StoreConfig {
            max_entries: 200_000,
            ..StoreConfig::default()
        },
        Arc::new(WallClock),
    );
    let keys: Vec<String> = (0..n).map(|i| format!("{i:064x}")).collect();
    let value = vec![b'x'; 410];
    let far = (now_s() + 3600.0, 1e13);
    let insert = per_op(n, |i| {
        store.set(&keys[i], value.clone().into(), far.0, far.1);
    });
    let overwrite = per_op(n, |i| {
        store.set(&keys[i], value.clone().into(), far.0, far.1);
    });
    let hit = per_op(n, |i| {
        store.get_with(&keys[i], |h| h.value.len());
    });
    let miss = per_op(n, |i| {
        store.get_with(&keys[i][1..], |h| h.value.len());
    });
    let delete = per_op(n, |i| {
        store.delete(&keys[i]);
    });
    println!("ns per op over {n} keys (64-char tokens, 410-byte values):");
    println!("insert {insert:.0}, overwrite {overwrite:.0}, get hit {hit:.0}, get miss {miss:.0}, delete {delete:.0}");
}

fn now_s() -> f64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0.0, |d| d.as_secs_f64())
}
