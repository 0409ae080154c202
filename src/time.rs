//! The store's clock, injectable so tests drive time instead of sleeping (as moka's `Clock::mock()`).

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

/// Wall-clock milliseconds since the Unix epoch: Vendure's `cacheExpiry` and `expires` are wall-clock instants.
pub trait TimeSource: Send + Sync {
    fn now_ms(&self) -> u64;
}

#[derive(Debug, Default)]
pub struct WallClock;

impl TimeSource for WallClock {
    fn now_ms(&self) -> u64 {
        SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map(|d| d.as_millis() as u64)
            .unwrap_or(0)
    }
}

/// A clock that only moves when told to.
#[derive(Debug, Default)]
pub struct MockTime {
    now: AtomicU64,
}

impl MockTime {
    pub fn new(start_ms: u64) -> Self {
        Self {
            now: AtomicU64::new(start_ms),
        }
    }

    pub fn advance(&self, ms: u64) {
        self.now.fetch_add(ms, Ordering::SeqCst);
    }
}

impl TimeSource for MockTime {
    fn now_ms(&self) -> u64 {
        self.now.load(Ordering::SeqCst)
    }
}

/// Milliseconds on the process's monotonic clock (since its first use): what liveness leases are
/// measured in. Never goes back, whatever the wall clock does.
pub fn monotonic_ms() -> f64 {
    static BASE: std::sync::LazyLock<std::time::Instant> =
        std::sync::LazyLock::new(std::time::Instant::now);
    BASE.elapsed().as_secs_f64() * 1000.0
}
