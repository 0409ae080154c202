//! The napi-rs surface: converts arguments, maps errors to JS errors, and keeps panics out of JS.
//! No cache logic lives here.

use crate::duration::parse_duration_ms;
use crate::generation::SlotTable;
use crate::registry;
use crate::store::{SetOutcome, Stats, Store, StoreConfig};
use napi::bindgen_prelude::ArrayBuffer;
use napi::{Env, Error, Result, Status};
use napi_derive::napi;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

/// Bounds of a store, as validated by the JS class.
#[napi(object)]
pub struct StoreOptions {
    pub max_entries: u32,
    pub max_bytes: f64,
    pub max_entry_bytes: f64,
    pub ttl_ms: Option<f64>,
}

/// Store-wide counters and sizes.
#[napi(object)]
pub struct StoreStats {
    pub hits: f64,
    pub misses: f64,
    pub sets: f64,
    pub deletes: f64,
    pub rejected: f64,
    pub evictions: f64,
    pub expirations: f64,
    pub clears: f64,
    pub replaced: f64,
    pub reclaimed: f64,
    pub dropped: f64,
    pub entries: f64,
    pub bytes: f64,
}

impl From<Stats> for StoreStats {
    fn from(s: Stats) -> Self {
        Self {
            hits: s.hits as f64,
            misses: s.misses as f64,
            sets: s.sets as f64,
            deletes: s.deletes as f64,
            rejected: s.rejected as f64,
            evictions: s.evictions as f64,
            expirations: s.expirations as f64,
            clears: s.clears as f64,
            replaced: s.replaced as f64,
            reclaimed: s.reclaimed as f64,
            dropped: s.dropped as f64,
            entries: s.entries as f64,
            bytes: s.bytes as f64,
        }
    }
}

/// Outcomes of `set`, as numbers the JS class switches on.
#[napi]
pub enum SetResult {
    Stored,
    AlreadyExpired,
    TooLarge,
}

impl From<SetOutcome> for SetResult {
    fn from(outcome: SetOutcome) -> Self {
        match outcome {
            SetOutcome::Stored => SetResult::Stored,
            SetOutcome::AlreadyExpired => SetResult::AlreadyExpired,
            SetOutcome::TooLarge => SetResult::TooLarge,
        }
    }
}

/// Milliseconds in a `ttl` string such as `'1h'`; throws a TypeError naming the problem.
#[napi(catch_unwind)]
pub fn parse_ttl(text: String) -> Result<f64> {
    parse_duration_ms(&text)
        .map(|ms| ms as f64)
        .map_err(|message| Error::new(Status::InvalidArg, message))
}

/// Where `get` leaves a hit's metadata for the near cache, as f64 bits: the slot's index in the slot
/// table, its generation, the epoch and the deadline (ms). A return object would cost more than the get.
type HitMeta = [AtomicU64; 4];

/// How many stores are alive in the process: lets tests prove that released stores are freed.
#[napi]
pub fn live_store_count() -> u32 {
    registry::live_stores().len() as u32
}

/// A handle on a process-wide store. Holding one keeps the store alive; `close` lets go of it.
#[napi]
pub struct NativeStore {
    store: Option<Arc<Store>>,
    hit_meta: Arc<HitMeta>,
}

#[napi]
impl NativeStore {
    #[napi(constructor, catch_unwind)]
    pub fn new(name: String, options: StoreOptions) -> Result<Self> {
        let config = StoreConfig {
            max_entries: options.max_entries as usize,
            max_bytes: options.max_bytes as usize,
            max_entry_bytes: options.max_entry_bytes as usize,
            ttl_ms: options.ttl_ms.map(|ms| ms as u64),
        };
        let store = registry::open(&name, config)
            .map_err(|mismatch| Error::new(Status::InvalidArg, mismatch.to_string()))?;
        Ok(Self {
            store: Some(store),
            hit_meta: Arc::new(Default::default()),
        })
    }

    /// The encoded session for `token`, or null; on a hit, its metadata is in `hitMeta()`.
    #[napi(catch_unwind)]
    pub fn get(&self, token: String) -> Option<String> {
        self.store.as_ref()?.get_with(&token, |hit| {
            let meta = [
                f64::from(SlotTable::index_of(hit.slot)),
                f64::from(hit.generation),
                f64::from(hit.epoch),
                hit.deadline_ms as f64,
            ];
            for (cell, value) in self.hit_meta.iter().zip(meta) {
                cell.store(value.to_bits(), Ordering::Relaxed);
            }
            // The JS class only ever stores strings, so the bytes are UTF-8.
            String::from_utf8_lossy(hit.value).into_owned()
        })
    }

    /// A Float64Array's memory: `[slot index, generation, epoch, deadline ms]` of the last hit.
    #[napi]
    pub fn hit_meta<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let meta = Arc::clone(&self.hit_meta);
        let ptr = meta.as_ptr() as *mut u8;
        let len = std::mem::size_of::<HitMeta>();
        // SAFETY: the buffer's finalizer holds `meta`, so the memory outlives the ArrayBuffer.
        unsafe { ArrayBuffer::from_external(env, ptr, len, meta, |_, meta| drop(meta)) }
    }

    /// An Int32Array's memory: the store's slot table (see generation.rs), shared by every thread.
    #[napi]
    pub fn slot_table<'env>(&self, env: &'env Env) -> Result<ArrayBuffer<'env>> {
        let table = self
            .store
            .as_ref()
            .map(|store| Arc::clone(store.slot_table()))
            .ok_or_else(|| Error::new(Status::GenericFailure, "the store is closed"))?;
        let (ptr, len) = table.as_bytes_ptr();
        // SAFETY: the buffer's finalizer holds the table (not the store, which `close` may free at once).
        unsafe { ArrayBuffer::from_external(env, ptr, len, table, |_, table| drop(table)) }
    }

    /// The first value of `hitMeta()` as Rust sees it: proves JS writes reach the same memory.
    #[napi]
    pub fn probe_hit_meta(&self) -> f64 {
        f64::from_bits(self.hit_meta[0].load(Ordering::Relaxed))
    }

    /// Counts hits the near cache answered without calling the store.
    #[napi(catch_unwind)]
    pub fn add_hits(&self, hits: u32) {
        if let Some(store) = &self.store {
            store.add_hits(u64::from(hits));
        }
    }

    #[napi(catch_unwind)]
    pub fn set(
        &self,
        token: String,
        encoded: String,
        cache_expiry_s: f64,
        expires_ms: f64,
    ) -> SetResult {
        match &self.store {
            Some(store) => store
                .set(
                    &token,
                    encoded.into_bytes().into_boxed_slice(),
                    cache_expiry_s,
                    expires_ms,
                )
                .into(),
            None => SetResult::AlreadyExpired,
        }
    }

    #[napi(catch_unwind)]
    pub fn delete(&self, token: String) -> bool {
        self.store
            .as_ref()
            .is_some_and(|store| store.delete(&token))
    }

    #[napi(catch_unwind)]
    pub fn reject(&self, token: String) {
        if let Some(store) = &self.store {
            store.reject(&token);
        }
    }

    /// Counts a session refused before it could name a store key.
    #[napi(catch_unwind)]
    pub fn count_rejection(&self) {
        if let Some(store) = &self.store {
            store.count_rejection();
        }
    }

    #[napi(catch_unwind)]
    pub fn clear(&self) {
        if let Some(store) = &self.store {
            store.clear();
        }
    }

    #[napi(catch_unwind)]
    pub fn stats(&self) -> StoreStats {
        self.store
            .as_ref()
            .map_or_else(Stats::default, |store| store.stats())
            .into()
    }

    /// Lets go of the store; its memory is freed when no other handle in the process holds it.
    #[napi(catch_unwind)]
    pub fn close(&mut self) {
        self.store = None;
    }
}
