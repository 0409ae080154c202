'use strict'

// The store's per-fingerprint key counts (src/presence.rs), read through an ArrayBuffer over native
// memory: a zero proves the store holds no session for a token, so a miss is answered without a call
// into Rust. The fingerprint is FNV-1a over the token's last PRESENCE_FINGERPRINT_CHARS characters,
// as Rust computes it over the key's last bytes: the same when those characters are ASCII, which this
// checks (for any other token it cannot tell, and the store is asked).

const { PRESENCE_FINGERPRINT_CHARS: TAIL } = require('./native.js').native()

const FNV_OFFSET = 0x811c9dc5
const FNV_PRIME = 0x01000193

/** The fingerprint of `token`'s tail, or -1 if that tail is not ASCII. */
function fingerprint(token) {
  const n = token.length
  let hash = FNV_OFFSET
  for (let i = n > TAIL ? n - TAIL : 0; i < n; i++) {
    const c = token.charCodeAt(i)
    if (c >= 0x80) return -1
    hash = Math.imul(hash ^ c, FNV_PRIME)
  }
  return (hash ^ (hash >>> 15)) >>> 0
}

class Presence {
  #counts
  #mask

  /** @param {Uint8Array} counts the store's counts: a power of two of them */
  constructor(counts) {
    this.#counts = counts
    this.#mask = counts.length - 1
  }

  /** False only if the store holds no session for `token` (a key with its fingerprint). */
  mayHold(token) {
    const print = fingerprint(token)
    return print < 0 || Atomics.load(this.#counts, print & this.#mask) !== 0
  }
}

module.exports = { Presence, fingerprint }
