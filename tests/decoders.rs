//! Property tests ("fuzzing" with proptest: cargo-fuzz needs a nightly toolchain, which cannot be
//! installed here) for what decodes bytes this process did not just write itself: values read back
//! from Redis. Arbitrary and mutated bytes never panic and never decode as another key's payload.

use proptest::prelude::*;
use vendure_native_session_cache::redis::keys::KeyScheme;
use vendure_native_session_cache::redis::value::{decode, encode};

proptest! {
    #![proptest_config(ProptestConfig { cases: 2000, ..ProptestConfig::default() })]

    #[test]
    fn arbitrary_bytes_never_panic_and_almost_never_decode(bytes in prop::collection::vec(any::<u8>(), 0..300)) {
        let keys = KeyScheme::new("vsc:", "secret");
        let hash = keys.key_hash("token");
        prop_assert!(decode(&keys, &hash, 7, &bytes).is_err());
    }

    #[test]
    fn a_value_round_trips_and_any_flipped_byte_is_refused(
        payload in prop::collection::vec(any::<u8>(), 0..200),
        flip in any::<prop::sample::Index>(),
        bit in 0u8..8,
    ) {
        let keys = KeyScheme::new("vsc:", "secret");
        let hash = keys.key_hash("token");
        let stored = encode(&keys, &hash, 7, &payload);
        prop_assert_eq!(decode(&keys, &hash, 7, &stored), Ok(payload.as_slice()));
        let mut damaged = stored.clone();
        let at = flip.index(damaged.len());
        damaged[at] ^= 1 << bit;
        prop_assert!(decode(&keys, &hash, 7, &damaged).is_err());
        // Moved under another token's key, or read with another secret: refused too.
        prop_assert!(decode(&keys, &keys.key_hash("other"), 7, &stored).is_err());
        let other_secret = KeyScheme::new("vsc:", "another secret");
        prop_assert!(decode(&other_secret, &hash, 7, &stored).is_err());
        // Written back into another namespace (after a clear): refused.
        prop_assert!(decode(&keys, &hash, 8, &stored).is_err());
    }

    #[test]
    fn truncations_never_panic(payload in prop::collection::vec(any::<u8>(), 0..100), cut in any::<prop::sample::Index>()) {
        let keys = KeyScheme::new("vsc:", "secret");
        let hash = keys.key_hash("token");
        let stored = encode(&keys, &hash, 7, &payload);
        let cut = cut.index(stored.len());
        let _ = decode(&keys, &hash, 7, &stored[..cut]);
    }
}
