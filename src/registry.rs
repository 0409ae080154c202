//! Process-wide stores by name, so every `NativeSessionCacheStrategy` with the same `name`, in any
//! worker_thread, shares one store. The registry holds weak references: a store lives while some
//! strategy holds it, and its memory goes back when the last one lets go.

use crate::store::{Store, StoreConfig};
use crate::time::WallClock;
use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex, Weak};

static STORES: LazyLock<Mutex<HashMap<String, Weak<Store>>>> = LazyLock::new(Default::default);

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigMismatch {
    pub name: String,
    pub existing: StoreConfig,
    pub requested: StoreConfig,
}

impl std::fmt::Display for ConfigMismatch {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let describe = |c: &StoreConfig| {
            format!(
                "maxEntries {}, maxBytes {}, maxEntryBytes {}, ttl {}",
                c.max_entries,
                c.max_bytes,
                c.max_entry_bytes,
                c.ttl_ms.map_or("none".to_string(), |t| format!("{t} ms"))
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

/// The store called `name`, created with `config` if no live one exists.
pub fn open(name: &str, config: StoreConfig) -> Result<Arc<Store>, ConfigMismatch> {
    let mut stores = STORES.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(store) = stores.get(name).and_then(Weak::upgrade) {
        return if store.config() == config {
            Ok(store)
        } else {
            Err(ConfigMismatch {
                name: name.to_string(),
                existing: store.config(),
                requested: config,
            })
        };
    }
    let store = Arc::new(Store::new(config, Arc::new(WallClock)));
    stores.retain(|_, weak| weak.strong_count() > 0);
    stores.insert(name.to_string(), Arc::downgrade(&store));
    crate::sweeper::ensure_running();
    Ok(store)
}

/// Every store some strategy still holds.
pub fn live_stores() -> Vec<Arc<Store>> {
    let stores = STORES.lock().unwrap_or_else(|p| p.into_inner());
    stores.values().filter_map(Weak::upgrade).collect()
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
        let a = open("registry-share", config(10)).unwrap();
        let b = open("registry-share", config(10)).unwrap();
        assert!(Arc::ptr_eq(&a, &b));
        let other = open("registry-other", config(10)).unwrap();
        assert!(!Arc::ptr_eq(&a, &other));
    }

    #[test]
    fn other_bounds_under_the_same_name_are_refused_clearly() {
        let _a = open("registry-mismatch", config(10)).unwrap();
        let err = open("registry-mismatch", config(20)).err().unwrap();
        let message = err.to_string();
        assert!(message.contains("'registry-mismatch'"), "{message}");
        assert!(
            message.contains("maxEntries 10") && message.contains("maxEntries 20"),
            "{message}"
        );
    }

    #[test]
    fn a_released_store_is_recreated_with_new_bounds() {
        let first = open("registry-release", config(10)).unwrap();
        drop(first);
        let second = open("registry-release", config(30)).unwrap();
        assert_eq!(second.config().max_entries, 30);
    }
}
