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

/**
 * Bounded by two generations rather than oldest-first deletion: V8's Map keeps deleted entries as
 * tombstones until it rehashes, so evicting with `keys().next()` walks ever more of them (about 10 us
 * per insert at 10,000 entries). Here new entries go to `young`; when it holds `capacity` entries it
 * becomes `old` and the previous `old` is dropped whole, in O(1). So the `capacity` most recently used
 * sessions are always kept, and at most twice as many are held. A hit in `old` moves the entry back
 * to `young`, so sessions in use survive rotations (an approximated LRU, as in quick-lru).
 */
class NearCache {
  #young = new Map()
  #old = new Map()
  #capacity
  #table
  /** With Redis: `[lease end]` in the addon's monotonic ms (see src/redis/lease.rs), else null. */
  #lease = null
  /** Added to performance.now() to read the addon's monotonic clock. */
  #clockOffset = 0

  /** @param {Int32Array} table the store's slot table: word 0 the epoch, then one word per slot */
  constructor(capacity, table) {
    this.#capacity = capacity
    this.#table = table
  }

  /** Entries held (an entry promoted from `old` may be counted twice until `old` is dropped). */
  get size() {
    return this.#young.size + this.#old.size
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
    let entry = this.#young.get(token)
    let promote = false
    if (entry === undefined) {
      entry = this.#old.get(token)
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
      if (promote) this.#keep(token, entry)
      return entry.session
    }
    this.forget(token)
    return undefined
  }

  /** Remembers a session just decoded from a store hit whose metadata is in `meta`. */
  remember(token, session, meta) {
    this.#keep(token, new NearEntry(session, meta[0], meta[1], meta[2], meta[3]))
  }

  #keep(token, entry) {
    if (this.#young.size >= this.#capacity) {
      this.#old = this.#young
      this.#young = new Map()
    }
    this.#young.set(token, entry)
  }

  forget(token) {
    this.#young.delete(token)
    this.#old.delete(token)
  }

  reset() {
    this.#young = new Map()
    this.#old = new Map()
  }
}

module.exports = { NearCache }
