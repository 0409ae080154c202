//! Property tests: random operation sequences against a model of what the store may answer.
//!
//! Eviction is approximate (CLOCK), so under pressure the model cannot say *whether* a key is still
//! cached, only what it may be: a `get` returns either nothing or exactly the value last set for that
//! key, never a value from before a delete, a clear or an expiry, never another key's value. Without
//! pressure the model is exact. After every operation the bounds hold.

use proptest::prelude::*;
use std::collections::HashMap;
use std::sync::Arc;
use vendure_native_session_cache::duration::parse_duration_ms;
use vendure_native_session_cache::store::{SetOutcome, Store, StoreConfig, ENTRY_OVERHEAD_BYTES};
use vendure_native_session_cache::time::MockTime;

const START_MS: u64 = 1_700_000_000_000;

#[derive(Debug, Clone)]
enum Op {
    Set { key: u8, len: u16, life_ms: u32 },
    Get { key: u8 },
    Delete { key: u8 },
    Clear,
    Advance { ms: u32 },
    Sweep,
}

fn op() -> impl Strategy<Value = Op> {
    prop_oneof![
        6 => (0u8..40, 0u16..300, 1u32..20_000).prop_map(|(key, len, life_ms)| Op::Set { key, len, life_ms }),
        6 => (0u8..40).prop_map(|key| Op::Get { key }),
        2 => (0u8..40).prop_map(|key| Op::Delete { key }),
        1 => Just(Op::Clear),
        2 => (0u32..5_000).prop_map(|ms| Op::Advance { ms }),
        1 => Just(Op::Sweep),
    ]
}

/// The value stored for `key` by the `serial`-th set: self-describing, so a wrong answer is visible.
fn value(key: u8, serial: usize, len: u16) -> Vec<u8> {
    let mut v = format!("{key}:{serial}:").into_bytes();
    v.resize(v.len() + len as usize, b'.');
    v
}

fn run(
    ops: Vec<Op>,
    max_entries: usize,
    max_bytes: usize,
    exact: bool,
) -> Result<(), TestCaseError> {
    let time = Arc::new(MockTime::new(START_MS));
    let config = StoreConfig {
        max_entries,
        max_bytes,
        max_entry_bytes: max_bytes,
        ttl_ms: None,
    };
    let store = Store::new(config, time.clone());
    // key -> (value, deadline) of the last set that the store accepted and nothing has undone since
    let mut model: HashMap<u8, (Vec<u8>, u64)> = HashMap::new();
    let mut cursor = 0;
    for (serial, op) in ops.into_iter().enumerate() {
        let now = time.now();
        match op {
            Op::Set { key, len, life_ms } => {
                let v = value(key, serial, len);
                let deadline = now + u64::from(life_ms);
                let outcome = store.set(&key.to_string(), v.clone().into(), 1e10, deadline as f64);
                model.remove(&key);
                if outcome == SetOutcome::Stored {
                    model.insert(key, (v, deadline));
                }
            }
            Op::Get { key } => {
                let got = store.get_with(&key.to_string(), |hit| hit.value.to_vec());
                let expected = model.get(&key).filter(|(_, deadline)| now < *deadline);
                match (&got, expected) {
                    (Some(g), Some((v, _))) => {
                        prop_assert_eq!(g, v, "key {} answered another value", key)
                    }
                    (Some(g), None) => prop_assert!(
                        false,
                        "key {} answered {:?} after it was undone",
                        key,
                        String::from_utf8_lossy(g)
                    ),
                    (None, Some(_)) => {
                        prop_assert!(!exact, "key {} missed without eviction pressure", key)
                    }
                    (None, None) => {}
                }
                if got.is_none() && !exact {
                    model.remove(&key); // evicted: it may not come back
                }
            }
            Op::Delete { key } => {
                store.delete(&key.to_string());
                model.remove(&key);
            }
            Op::Clear => {
                store.clear();
                model.clear();
            }
            Op::Advance { ms } => time.advance(u64::from(ms)),
            Op::Sweep => {
                while store.expire_due(7).1 {}
                while !store.reclaim(&mut cursor, 7) {}
                if store.needs_deadline_compaction() {
                    while !store.compact_deadlines(7) {}
                }
            }
        }
        let stats = store.stats();
        prop_assert!(
            stats.entries as usize <= max_entries,
            "{} entries",
            stats.entries
        );
        prop_assert!(stats.bytes as usize <= max_bytes, "{} bytes", stats.bytes);
    }
    Ok(())
}

trait Now {
    fn now(&self) -> u64;
}
impl Now for MockTime {
    fn now(&self) -> u64 {
        use vendure_native_session_cache::time::TimeSource;
        self.now_ms()
    }
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 300, ..ProptestConfig::default() })]

    #[test]
    fn under_eviction_pressure_answers_are_never_stale_or_foreign(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, 8, 8 * (ENTRY_OVERHEAD_BYTES + 100), false)?;
    }

    #[test]
    fn without_pressure_the_store_is_exactly_the_model(ops in prop::collection::vec(op(), 1..400)) {
        run(ops, 1000, 1 << 24, true)?;
    }

    #[test]
    fn the_ttl_parser_never_panics(text in "\\PC{0,12}") {
        let _ = parse_duration_ms(&text);
    }

    #[test]
    fn the_ttl_parser_reads_what_it_documents(n in 1u32..100_000, unit in prop::sample::select(vec![("ms", 1u64), ("s", 1000), ("m", 60_000), ("h", 3_600_000), ("d", 86_400_000)])) {
        prop_assert_eq!(parse_duration_ms(&format!("{n}{}", unit.0)), Ok(u64::from(n) * unit.1));
    }
}
