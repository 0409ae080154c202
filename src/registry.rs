//! Process-wide stores by name, so every `NativeSessionCacheStrategy` with the same `name`, in any
//! worker_thread, shares one store. A name is taken while some strategy holds a [`Handle`] on its
//! store, and only then: the sweeper, or a Redis reply in flight, may still hold the store itself for
//! a moment after the last strategy let go, but a new strategy with other bounds gets a new store at
//! once (the old one's memory goes back when the last of those lets go).

use crate::store::{Store, StoreConfig};
use crate::time::WallClock;
use std::collections::HashMap;
use std::ops::Deref;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, LazyLock, Mutex, Weak};

struct Registered {
    store: Weak<Store>,
    /// Handles held by strategies.
    handles: Arc<AtomicUsize>,
    keys: KeyScheme,
}

/// What a store's keys are. Strategies sharing a store must agree: with Redis the keys are keyed
/// hashes of the tokens (what invalidations name), without it the tokens themselves, so a delete made
/// in one scheme would miss an entry stored in the other.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum KeyScheme {
    Tokens,
    TierHashes,
}

static STORES: LazyLock<Mutex<HashMap<String, Registered>>> = LazyLock::new(Default::default);

/// A strategy's hold on a store: while one exists, the store keeps its name.
pub struct Handle {
    store: Arc<Store>,
    handles: Arc<AtomicUsize>,
}

impl Deref for Handle {
    type Target = Arc<Store>;
    fn deref(&self) -> &Arc<Store> {
        &self.store
    }
}

impl Drop for Handle {
    fn drop(&mut self) {
        self.handles.fetch_sub(1, Ordering::AcqRel);
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMismatch {
    pub name: String,
    pub existing: (StoreConfig, KeyScheme),
    pub requested: (StoreConfig, KeyScheme),
}

impl std::fmt::Display for ConfigMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let describe = |(c, keys): &(StoreConfig, KeyScheme)| {
            format!(
                "maxEntries {}, maxBytes {}, maxEntryBytes {}, ttl {}, {}",
                c.max_entries,
                c.max_bytes,
                c.max_entry_bytes,
                c.ttl_ms.map_or("none".to_string(), |t| format!("{t} ms")),
                match keys {
                    KeyScheme::Tokens => "without redis",
                    KeyScheme::TierHashes => "with redis",
                }
            )
        };
        write!(
            f,
            "a session cache named '{}' already exists in this process with {}; this one asks for {}. \
             Give it the same options, or another `name`",
            self.name,
            describe(&self.existing),
            describe(&self.requested)
        )
    }
}

/// A handle on the store called `name`, created with `config` unless a strategy holds one already.
pub fn open(name: &str, config: StoreConfig, keys: KeyScheme) -> Result<Handle, ConfigMismatch> {
    let mut stores = STORES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(registered) = stores.get(name) {
        // Handles are only taken under this lock, so a count of 0 stays 0 while we look.
        if registered.handles.load(Ordering::Acquire) > 0 {
            if let Some(store) = registered.store.upgrade() {
                if store.config() != config || registered.keys != keys {
                    return Err(ConfigMismatch {
                        name: name.to_string(),
                        existing: (store.config(), registered.keys),
                        requested: (config, keys),
                    });
                }
                registered.handles.fetch_add(1, Ordering::AcqRel);
                return Ok(Handle {
                    store,
                    handles: Arc::clone(&registered.handles),
                });
            }
        }
    }
    let store = Arc::new(Store::new(config, Arc::new(WallClock)));
    let handles = Arc::new(AtomicUsize::new(1));
    stores.retain(|_, r| r.store.strong_count() > 0 && r.handles.load(Ordering::Acquire) > 0);
    stores.insert(
        name.to_string(),
        Registered {
            store: Arc::downgrade(&store),
            handles: Arc::clone(&handles),
            keys,
        },
    );
    crate::sweeper::ensure_running();
    Ok(Handle { store, handles })
}

/// Every store some strategy still holds, weakly: the caller upgrades one only while it works on it.
pub fn live_stores() -> Vec<Weak<Store>> {
    let stores = STORES.lock().unwrap_or_else(|p| p.into_inner());
    stores
        .values()
        .filter(|r| r.store.strong_count() > 0)
        .map(|r| r.store.clone())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(max_entries: usize) -> StoreConfig {
        StoreConfig {
            max_entries,
            ..StoreConfig::default()
        }
    }

    #[test]
    fn the_same_name_shares_one_store() {
        let a = open("registry-share", config(10), KeyScheme::Tokens).unwrap();
        let b = open("registry-share", config(10), KeyScheme::Tokens).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = open("registry-other", config(10), KeyScheme::Tokens).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
    }

    #[test]
    fn the_same_name_with_and_without_redis_is_refused_clearly() {
        let _a = open("registry-keys", config(10), KeyScheme::Tokens).unwrap();
        let err = open("registry-keys", config(10), KeyScheme::TierHashes)
            .err()
            .unwrap();
        let message = err.to_string();
        assert!(
            message.contains("ttl none, without redis; this one asks for"),
            "{message}"
        );
        assert!(
            message.contains("ttl none, with redis. Give it the same options"),
            "{message}"
        );
    }

    #[test]
    fn other_bounds_under_the_same_name_are_refused_clearly() {
        let _a = open("registry-mismatch", config(10), KeyScheme::Tokens).unwrap();
        let err = open("registry-mismatch", config(20), KeyScheme::Tokens)
            .err()
            .unwrap();
        let message = err.to_string();
        assert!(message.contains("'registry-mismatch'"), "{message}");
        assert!(
            message.contains("maxEntries 10") && message.contains("maxEntries 20"),
            "{message}"
        );
    }

    #[test]
    fn a_released_store_is_recreated_with_new_bounds() {
        let first = open("registry-release", config(10), KeyScheme::Tokens).unwrap();
        drop(first);
        let second = open("registry-release", config(30), KeyScheme::Tokens).unwrap();
        assert_eq!(second.config().max_entries, 30);
    }

    #[test]
    fn a_store_still_held_by_the_sweeper_does_not_keep_its_name() {
        // The sweeper (or a Redis reply in flight) holds the store itself for a moment after the
        // last strategy let go: a new strategy with other bounds must not be refused meanwhile.
        let first = open("registry-sweeping", config(10), KeyScheme::Tokens).unwrap();
        let sweeper_hold: Arc<Store> = Arc::clone(&first);
        drop(first);
        let second = open("registry-sweeping", config(30), KeyScheme::Tokens).unwrap();
        assert_eq!(second.config().max_entries, 30);
        assert!(!Arc::ptr_eq(&second, &sweeper_hold));
        // The same name with the same bounds now shares the new store, not the old one.
        let third = open("registry-sweeping", config(30), KeyScheme::Tokens).unwrap();
        assert!(Arc::ptr_eq(&second, &third));
        drop(sweeper_hold);
    }
}
