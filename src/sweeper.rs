//! The background thread that frees expired entries and the memory `clear()` left behind, so memory
//! goes back without waiting for a `get`. One thread per process serves every store; it exits when
//! no store is left, and Node never waits for it at exit (the addon image is pinned: see build.rs).

use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

/// How often expired entries are freed. Correctness never depends on it: a dead entry is never served.
const SWEEP_INTERVAL: Duration = Duration::from_millis(250);
/// Slots reclaimed per writer-lock hold, so writers wait microseconds, not the whole pass.
const RECLAIM_CHUNK: usize = 4096;

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
            store.expire_due();
            if store.needs_reclaim() {
                let mut cursor = 0;
                while !store.reclaim(&mut cursor, RECLAIM_CHUNK) {
                    std::thread::yield_now();
                }
            }
        }
    }
}
