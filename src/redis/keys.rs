//! The key scheme: what the tier names in Redis, and how a token becomes a key.
//!
//! | what | Redis name |
//! |---|---|
//! | a session | `{prefix}{namespace}:{key hash}` |
//! | the namespace (a generation number, `INCR`'d by `clear`) | `{prefix}ns` |
//! | the invalidation channel | `{prefix}invalidate` |
//! | the server incarnation the data belongs to (a `run_id`) | `{prefix}srv` |
//!
//! The key hash is `hex(BLAKE3-keyed(token))`, 64 lowercase hex digits, with a 32-byte key derived
//! from the configured secret by BLAKE3's `derive_key`. Without the secret, a Redis dump or `MONITOR`
//! gives no way back to a bearer token, nor a way to test a guessed token. A second key, derived
//! from the same secret under another context, authenticates stored values (see `value.rs`).
//!
//! The namespace is a decimal number and can never be `ns`, `srv` or `invalidate`, so the kinds of
//! names never collide under one prefix.

/// The prefix used when the configuration gives none.
pub const DEFAULT_KEY_PREFIX: &str = "vsc:";

/// `derive_key` contexts: globally unique, fixed forever (changing one changes every key).
const KEY_HASH_CONTEXT: &str = "vendure-native-session-cache 2026-11-24 redis key hash v1";
const VALUE_MAC_CONTEXT: &str = "vendure-native-session-cache 2026-11-24 redis value mac v1";

/// The number of hex digits in a key hash.
pub const KEY_HASH_HEX_LEN: usize = 64;

/// Names in Redis for one prefix and secret.
#[derive(Clone)]
pub struct KeyScheme {
    prefix: String,
    hash_key: [u8; 32],
    mac_key: [u8; 32],
}

impl std::fmt::Debug for KeyScheme {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // The derived keys are as secret as the secret itself.
        f.debug_struct("KeyScheme")
            .field("prefix", &self.prefix)
            .finish_non_exhaustive()
    }
}

impl KeyScheme {
    pub fn new(prefix: &str, secret: &str) -> Self {
        Self {
            prefix: prefix.to_string(),
            hash_key: blake3::derive_key(KEY_HASH_CONTEXT, secret.as_bytes()),
            mac_key: blake3::derive_key(VALUE_MAC_CONTEXT, secret.as_bytes()),
        }
    }

    pub fn prefix(&self) -> &str {
        &self.prefix
    }

    /// `hex(BLAKE3-keyed(token))`: the token's name in Redis, in invalidation messages, and the key a
    /// local store can use so that both layers name a session alike.
    pub fn key_hash(&self, token: &str) -> String {
        blake3::keyed_hash(&self.hash_key, token.as_bytes())
            .to_hex()
            .to_string()
    }

    /// `{prefix}{namespace}:{key_hash}`. The tier's Lua scripts build the same name on the server
    /// from the live namespace; this is its Rust twin, for tests and tools.
    pub fn data_key(&self, namespace: u64, key_hash: &str) -> String {
        format!("{}{namespace}:{key_hash}", self.prefix)
    }

    /// `{prefix}ns`: the namespace counter.
    pub fn namespace_key(&self) -> String {
        format!("{}ns", self.prefix)
    }

    /// `{prefix}srv`: the `run_id` of the server incarnation the data was last validated on.
    pub fn incarnation_key(&self) -> String {
        format!("{}srv", self.prefix)
    }

    /// `{prefix}invalidate`: the pub/sub channel of invalidations.
    pub fn channel(&self) -> String {
        format!("{}invalidate", self.prefix)
    }

    /// The key of the values' MAC (see `value.rs`).
    pub(crate) fn mac_key(&self) -> &[u8; 32] {
        &self.mac_key
    }
}

/// Whether `text` has the shape of a key hash: 64 lowercase hex digits.
pub fn is_key_hash(text: &str) -> bool {
    text.len() == KEY_HASH_HEX_LEN
        && text
            .bytes()
            .all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    const TOKEN: &str = "8f2a0c4e6b1d3f5a7c9e0b2d4f6a8c1e3b5d7f9a0c2e4b6d8f1a3c5e7b9d0f2a";

    #[test]
    fn a_key_hash_is_64_lowercase_hex_digits_and_stable() {
        let keys = KeyScheme::new("vsc:", "s3cret");
        let hash = keys.key_hash(TOKEN);
        assert!(is_key_hash(&hash), "{hash}");
        assert_eq!(hash, KeyScheme::new("other:", "s3cret").key_hash(TOKEN));
    }

    #[test]
    fn the_hash_is_blake3_keyed_with_a_key_derived_from_the_secret() {
        let keys = KeyScheme::new("vsc:", "s3cret");
        let key = blake3::derive_key(KEY_HASH_CONTEXT, b"s3cret");
        assert_eq!(
            keys.key_hash(TOKEN),
            blake3::keyed_hash(&key, TOKEN.as_bytes()).to_hex().as_str()
        );
        // Not the plain hash, nor the secret used directly as a key.
        assert_ne!(
            keys.key_hash(TOKEN),
            blake3::hash(TOKEN.as_bytes()).to_hex().as_str()
        );
    }

    #[test]
    fn another_secret_or_token_gives_another_hash() {
        let a = KeyScheme::new("vsc:", "one");
        let b = KeyScheme::new("vsc:", "two");
        assert_ne!(a.key_hash(TOKEN), b.key_hash(TOKEN));
        assert_ne!(a.key_hash(TOKEN), a.key_hash(&TOKEN[1..]));
        assert_ne!(a.mac_key(), b.mac_key());
        assert_ne!(
            a.mac_key(),
            &a.hash_key,
            "the two derived keys are independent"
        );
    }

    #[test]
    fn names_in_redis() {
        let keys = KeyScheme::new("shop1:", "s");
        let hash = keys.key_hash(TOKEN);
        assert_eq!(keys.data_key(7, &hash), format!("shop1:7:{hash}"));
        assert_eq!(keys.namespace_key(), "shop1:ns");
        assert_eq!(keys.channel(), "shop1:invalidate");
        assert_eq!(keys.incarnation_key(), "shop1:srv");
        assert!(!keys.data_key(0, &hash).contains(TOKEN));
    }

    #[test]
    fn key_hash_shape() {
        assert!(is_key_hash(&"a1".repeat(32)));
        assert!(!is_key_hash(&"A1".repeat(32)));
        assert!(!is_key_hash(&"a1".repeat(31)));
        assert!(!is_key_hash(&"g1".repeat(32)));
    }

    #[test]
    fn debug_output_hides_the_derived_keys() {
        let text = format!("{:?}", KeyScheme::new("vsc:", "s3cret"));
        assert!(
            text.contains("vsc:") && !text.contains("hash_key"),
            "{text}"
        );
    }
}
