//! The format of a value stored in Redis.
//!
//! ```text
//! "vsc" | version (1 byte, now 1) | MAC (16 bytes) | payload
//! ```
//!
//! The payload is what the caller gave `set` (the session without its token: the caller strips it
//! and puts it back from the `get` argument). The MAC is the first 16 bytes of
//! `BLAKE3-keyed(mac key, key hash || namespace || payload)`, with a key derived from the secret
//! (`keys.rs`): it binds the payload to its key and to the namespace it was written in (so a value
//! copied back after a `clear()` is refused too), so a value that was truncated, damaged, copied from another
//! session's key or written by something without the secret is refused, never handed to the caller.
//! A value from another version of this format, or not of this format at all, is refused alike.
//! Refusals are "corrupt" misses, counted, never errors.

use super::keys::KeyScheme;

const MAGIC: &[u8; 3] = b"vsc";
/// The format version written now.
pub const FORMAT_VERSION: u8 = 2;
const MAC_LEN: usize = 16;
/// Bytes before the payload.
pub const HEADER_LEN: usize = MAGIC.len() + 1 + MAC_LEN;

/// Why a stored value was refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Corruption {
    /// Too short to hold the header.
    Truncated,
    /// Does not start with this format's marker.
    Foreign,
    /// This format, another version.
    OtherVersion(u8),
    /// The MAC does not match: damaged, moved from another key, or forged.
    BadMac,
}

fn mac(keys: &KeyScheme, key_hash: &str, namespace: u64, payload: &[u8]) -> [u8; MAC_LEN] {
    let mut hasher = blake3::Hasher::new_keyed(keys.mac_key());
    // The key hash (64) and the namespace (8) have fixed lengths: the concatenation is unambiguous.
    hasher.update(key_hash.as_bytes());
    hasher.update(&namespace.to_le_bytes());
    hasher.update(payload);
    let mut out = [0u8; MAC_LEN];
    out.copy_from_slice(&hasher.finalize().as_bytes()[..MAC_LEN]);
    out
}

/// The bytes to store for `payload` under `key_hash`.
pub fn encode(keys: &KeyScheme, key_hash: &str, namespace: u64, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(HEADER_LEN + payload.len());
    out.extend_from_slice(MAGIC);
    out.push(FORMAT_VERSION);
    out.extend_from_slice(&mac(keys, key_hash, namespace, payload));
    out.extend_from_slice(payload);
    out
}

/// The payload of a stored value, if it is this version's and its MAC matches.
pub fn decode<'a>(
    keys: &KeyScheme,
    key_hash: &str,
    namespace: u64,
    stored: &'a [u8],
) -> Result<&'a [u8], Corruption> {
    if stored.len() < MAGIC.len() + 1 {
        return Err(if stored.starts_with(&MAGIC[..stored.len().min(3)]) {
            Corruption::Truncated
        } else {
            Corruption::Foreign
        });
    }
    if &stored[..MAGIC.len()] != MAGIC {
        return Err(Corruption::Foreign);
    }
    let version = stored[MAGIC.len()];
    if version != FORMAT_VERSION {
        return Err(Corruption::OtherVersion(version));
    }
    if stored.len() < HEADER_LEN {
        return Err(Corruption::Truncated);
    }
    let (header, payload) = stored.split_at(HEADER_LEN);
    let expected = mac(keys, key_hash, namespace, payload);
    // Compare without an early exit.
    let difference = header[MAGIC.len() + 1..]
        .iter()
        .zip(expected.iter())
        .fold(0u8, |acc, (a, b)| acc | (a ^ b));
    if difference != 0 {
        return Err(Corruption::BadMac);
    }
    Ok(payload)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn keys() -> KeyScheme {
        KeyScheme::new("vsc:", "s3cret")
    }

    const PAYLOAD: &[u8] =
        br#"{"cacheExpiry":1800000000.5,"id":3,"expires":"2027-01-01T00:00:00.000Z"}"#;

    #[test]
    fn round_trips_any_bytes() {
        let keys = keys();
        let hash = keys.key_hash("tok");
        for payload in [PAYLOAD, b"", b"\0\xff\x00 not utf-8"] {
            let stored = encode(&keys, &hash, 7, payload);
            assert_eq!(stored.len(), HEADER_LEN + payload.len());
            assert!(stored.starts_with(b"vsc\x02"));
            assert_eq!(decode(&keys, &hash, 7, &stored), Ok(payload));
        }
    }

    #[test]
    fn another_version_is_refused() {
        let keys = keys();
        let hash = keys.key_hash("tok");
        let mut stored = encode(&keys, &hash, 7, PAYLOAD);
        stored[3] = 1;
        assert_eq!(
            decode(&keys, &hash, 7, &stored),
            Err(Corruption::OtherVersion(1))
        );
    }

    #[test]
    fn foreign_and_short_values_are_refused() {
        let keys = keys();
        let hash = keys.key_hash("tok");
        assert_eq!(decode(&keys, &hash, 7, b""), Err(Corruption::Truncated));
        assert_eq!(decode(&keys, &hash, 7, b"vs"), Err(Corruption::Truncated));
        assert_eq!(decode(&keys, &hash, 7, b"{}"), Err(Corruption::Foreign));
        assert_eq!(decode(&keys, &hash, 7, PAYLOAD), Err(Corruption::Foreign));
        assert_eq!(
            decode(&keys, &hash, 7, b"vsc\x02short"),
            Err(Corruption::Truncated)
        );
    }

    #[test]
    fn damage_anywhere_is_detected() {
        let keys = keys();
        let hash = keys.key_hash("tok");
        let stored = encode(&keys, &hash, 7, PAYLOAD);
        for i in 4..stored.len() {
            let mut damaged = stored.clone();
            damaged[i] ^= 0x20;
            assert_eq!(
                decode(&keys, &hash, 7, &damaged),
                Err(Corruption::BadMac),
                "byte {i}"
            );
        }
        let truncated = &stored[..stored.len() - 1];
        assert_eq!(decode(&keys, &hash, 7, truncated), Err(Corruption::BadMac));
    }

    #[test]
    fn a_value_moved_to_another_key_or_written_without_the_secret_is_refused() {
        let keys = keys();
        let (a, b) = (keys.key_hash("a"), keys.key_hash("b"));
        let stored = encode(&keys, &a, 7, PAYLOAD);
        assert_eq!(decode(&keys, &b, 7, &stored), Err(Corruption::BadMac));
        let forger = KeyScheme::new("vsc:", "guess");
        let forged = encode(&forger, &a, 7, PAYLOAD);
        assert_eq!(decode(&keys, &a, 7, &forged), Err(Corruption::BadMac));
    }

    #[test]
    fn a_value_from_another_namespace_is_refused() {
        // Written back after a clear() by someone with write access to Redis: refused.
        let keys = keys();
        let hash = keys.key_hash("tok");
        let stored = encode(&keys, &hash, 7, PAYLOAD);
        assert_eq!(decode(&keys, &hash, 8, &stored), Err(Corruption::BadMac));
        assert_eq!(decode(&keys, &hash, 7, &stored), Ok(PAYLOAD));
    }
}
