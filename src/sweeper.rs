//! The background thread that frees expired entries and the memory `clear()` left behind, so memory
//! goes back without waiting for a `get`. One thread per process serves every store; it exits when
//! no store is left, and Node never waits for it at exit (the addon image is pinned: see build.rs).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often expired entries are freed. Correctness never depends on it: a dead entry is never served.
const SWEEP_INTERVAL: Duration = Duration::from_millis(250);
/// Slots, or deadline records, worked per writer-lock hold, so that a writer waits for one chunk
/// (about half a millisecond: `cargo run --release --example housekeeping_latency`), never for a
/// whole pass over a store of millions.
const CHUNK: usize = 1024;
/// The lock is let go this long between two chunks. std's Mutex is not fair: a thread that unlocks
/// and locks again at once keeps it from a waiting `set` for chunk after chunk (measured: a set
/// waited 225 ms while a million cleared entries were reclaimed with only a yield in between).
const BETWEEN_CHUNKS: Duration = Duration::from_micros(50);

static RUNNING: AtomicBool = AtomicBool::new(false);

/// Starts the sweeper unless it already runs.
pub fn ensure_running() {
    if RUNNING.swap(true, Ordering::AcqRel) {
        return;
    }
    let spawned = std::thread::Builder::new()
        .name("session-cache-sweeper".into())
        .spawn(run);
    if spawned.is_err() {
        // No thread: entries still never outlive their deadline; memory is then freed by writes.
        RUNNING.store(false, Ordering::Release);
    }
}

fn run() {
    loop {
        std::thread::sleep(SWEEP_INTERVAL);
        // Weak references: a store whose last strategy let go during the pass is dropped at once,
        // and the sweeper never keeps one alive (or its name taken) longer than a chunk.
        let stores = crate::registry::live_stores();
        if stores.is_empty() {
            RUNNING.store(false, Ordering::Release);
            // A store opened between the check and the store above would find RUNNING still true
            // and not start a thread: look once more before leaving.
            if crate::registry::live_stores().is_empty() || RUNNING.swap(true, Ordering::AcqRel) {
                return;
            }
            continue;
        }
        for store in stores {
            sweep(&store);
        }
    }
}

/// One sweep of a store, every step a bounded chunk with the lock let go in between: expire what is
/// due, reclaim what `clear()` left, compact deadline records that overwrites left stale.
fn sweep(store: &std::sync::Weak<crate::store::Store>) {
    let step = |work: &dyn Fn(&crate::store::Store) -> bool| loop {
        // Upgraded per chunk, so a store closed meanwhile is let go of between two chunks.
        let Some(store) = store.upgrade() else { return };
        if work(&store) {
            return;
        }
        drop(store);
        std::thread::sleep(BETWEEN_CHUNKS);
    };
    step(&|s| !s.expire_due(CHUNK).1);
    if store.upgrade().is_some_and(|s| s.needs_reclaim()) {
        let cursor = std::cell::Cell::new(0);
        step(&|s| {
            let mut at = cursor.get();
            let done = s.reclaim(&mut at, CHUNK);
            cursor.set(at);
            done
        });
    }
    if store
        .upgrade()
        .is_some_and(|s| s.needs_deadline_compaction())
    {
        step(&|s| s.compact_deadlines(CHUNK));
    }
}
