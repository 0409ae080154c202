//! Measures the heap bytes a store spends per entry beyond its token and encoded session, which
//! `ENTRY_OVERHEAD_BYTES` must cover: `cargo run --release --example entry_overhead`.

use std::alloc::{GlobalAlloc, Layout, System};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use vendure_native_session_cache::store::{Store, StoreConfig, ENTRY_OVERHEAD_BYTES};
use vendure_native_session_cache::time::WallClock;

struct Counting;
static LIVE: AtomicUsize = AtomicUsize::new(0);

unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        LIVE.fetch_add(layout.size(), Ordering::Relaxed);
        unsafe { System.alloc(layout) }
    }
    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        LIVE.fetch_sub(layout.size(), Ordering::Relaxed);
        unsafe { System.dealloc(ptr, layout) }
    }
}

#[global_allocator]
static ALLOCATOR: Counting = Counting;

/// glibc malloc rounds each allocation up to 16 bytes and adds an 8-byte header.
fn malloc_size(requested: usize) -> usize {
    (requested + 8).max(32).div_ceil(16) * 16
}

fn main() {
    println!("| entries | payload B/entry | heap B/entry (requested) | overhead B/entry (with malloc headers) | charged |");
    println!("|---|---|---|---|---|");
    for &n in &[10_000usize, 100_000, 1_000_000] {
        let value = vec![b'x'; 410];
        let before = LIVE.load(Ordering::Relaxed);
        let store = Store::new(
            StoreConfig {
                max_entries: n,
                max_bytes: usize::MAX,
                max_entry_bytes: usize::MAX,
                ttl_ms: None,
            },
            Arc::new(WallClock),
        );
        for i in 0..n {
            let key = format!("{i:064x}");
            store.set(&key, value.clone().into_boxed_slice(), 1e10, 1e13);
        }
        let heap = LIVE.load(Ordering::Relaxed) - before;
        let payload = 64 + value.len();
        let per_entry = heap as f64 / n as f64;
        // Two allocations per entry (the Arc'd key, the value) each pay malloc's header and rounding.
        let malloc_extra = (malloc_size(64 + 16) - (64 + 16) + malloc_size(410) - 410) as f64;
        println!(
            "| {n} | {payload} | {per_entry:.0} | {:.0} | {ENTRY_OVERHEAD_BYTES} |",
            per_entry - payload as f64 + malloc_extra
        );
        drop(store);
    }
}
