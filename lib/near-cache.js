'use strict'

// The per-thread near cache: session objects this thread decoded, returned again without a call into
// Rust or a JSON.parse, for as long as the store's slot table proves them current (see
// src/generation.rs). A hit costs one Map lookup, two typed-array loads and a clock read.

// The slot-table word's layout, from src/generation.rs itself.
const { SLOT_GENERATION_MASK: GENERATION_MASK, SLOT_REFERENCED_BIT: REFERENCED } = require('./native.js').native()

class NearEntry {
  constructor(session, index, generation, epoch, deadline) {
    this.session = session
    this.index = index
    this.generation = generation
    this.epoch = epoch
    this.deadline = deadline
  }
}

/** Most entries in one generation Map: growing a Map rehashes all of it in one go (a Map of a million
 * entries stalled a set for 130 ms), so large near caches are split into shards of at most this many. */
const SHARD_CAPACITY = 4096

/**
 * One shard. Bounded by two generations rather than oldest-first deletion: V8's Map keeps deleted
 * entries as tombstones until it rehashes, so evicting with `keys().next()` walks ever more of them
 * (about 10 us per insert at 10,000 entries). Here new entries go to `young`; when it holds `capacity`
 * entries it becomes `old` and the previous `old` is dropped whole, in O(1). So the `capacity` most
 * recently used sessions are always kept, and at most twice as many are held. A hit in `old` moves the
 * entry back to `young`, so sessions in use survive rotations (an approximated LRU, as in quick-lru).
 */
class Generations {
  young = new Map()
  old = new Map()

  constructor(capacity) {
    this.capacity = capacity
  }

  keep(token, entry) {
    if (this.young.size >= this.capacity) {
      this.old = this.young
      this.young = new Map()
    }
    this.young.set(token, entry)
  }

  forget(token) {
    this.young.delete(token)
    this.old.delete(token)
  }
}

/**
 * Sessions this thread decoded or set, in `ceil(capacity / 4096)` shards (rounded up to a power of
 * two) picked by the token's last two characters; each shard holds its share of the capacity in two
 * generations. So the most recently used `capacity` sessions are kept (per shard: tokens spread
 * evenly) and at most twice as many are held.
 */
class NearCache {
  #shards
  #mask
  #table
  /** With Redis: `[lease end]` in the addon's monotonic ms (see src/redis/lease.rs), else null. */
  #lease = null
  /** Added to performance.now() to read the addon's monotonic clock. */
  #clockOffset = 0

  /** @param {Int32Array} table the store's slot table: word 0 the epoch, then one word per slot */
  constructor(capacity, table) {
    let count = 1
    while (count * SHARD_CAPACITY < capacity && count < 1024) count *= 2
    this.#shards = Array.from({ length: count }, () => new Generations(Math.ceil(capacity / count)))
    this.#mask = count - 1
    this.#table = table
  }

  #shard(token) {
    const n = token.length
    // Tokens are random (hex, base64 or hashes): their last characters spread evenly.
    return this.#shards[n === 0 ? 0 : (token.charCodeAt(n - 1) * 31 + token.charCodeAt(n > 1 ? n - 2 : 0)) & this.#mask]
  }

  /** Entries held (an entry promoted from `old` may be counted twice until `old` is dropped). */
  get size() {
    let size = 0
    for (const shard of this.#shards) size += shard.young.size + shard.old.size
    return size
  }

  /**
   * From now on, serve only while the Redis tier's liveness lease is current: a near hit must be
   * no staler than a store hit. `lease` is a Float64Array over the lease's native memory;
   * `clockOffset` turns performance.now() into the addon's monotonic milliseconds.
   */
  useLease(lease, clockOffset) {
    this.#lease = lease
    this.#clockOffset = clockOffset
  }

  /** The session remembered for `token` if the store still holds exactly it, else undefined. */
  lookup(token) {
    const shard = this.#shard(token)
    let entry = shard.young.get(token)
    let promote = false
    if (entry === undefined) {
      entry = shard.old.get(token)
      if (entry === undefined) return undefined
      promote = true
    }
    const lease = this.#lease
    // Not forgotten: the entry is still exact, only unproven until the next proof of liveness.
    if (lease !== null && performance.now() + this.#clockOffset >= lease[0]) return undefined
    const table = this.#table
    const word = Atomics.load(table, entry.index)
    if ((word & GENERATION_MASK) === entry.generation && Atomics.load(table, 0) === entry.epoch && Date.now() < entry.deadline) {
      // A near hit is a use: tell the store's CLOCK, or it would evict exactly the hottest sessions.
      if (word >= 0) Atomics.or(table, entry.index, REFERENCED)
      if (promote) shard.keep(token, entry)
      return entry.session
    }
    shard.forget(token)
    return undefined
  }

  /** Remembers a session decoded from a store hit, or set, whose metadata is in `meta`. */
  remember(token, session, meta) {
    this.#shard(token).keep(token, new NearEntry(session, meta[0], meta[1], meta[2], meta[3]))
  }

  forget(token) {
    this.#shard(token).forget(token)
  }

  reset() {
    for (const shard of this.#shards) {
      shard.young = new Map()
      shard.old = new Map()
    }
  }
}

module.exports = { NearCache, SHARD_CAPACITY }
