'use strict'

// The per-thread near cache: session objects this thread decoded, returned again without a call into
// Rust or a JSON.parse, for as long as the store's slot table proves them current (see
// src/generation.rs). A hit costs one Map lookup, two typed-array loads and a clock read.

const GENERATION_MASK = 0x7fffffff
const REFERENCED = 1 << 31 // the sign bit of an Int32Array element

class NearEntry {
  constructor(session, index, generation, epoch, deadline) {
    this.session = session
    this.index = index
    this.generation = generation
    this.epoch = epoch
    this.deadline = deadline
  }
}

class NearCache {
  #entries = new Map()
  #capacity
  #table

  /** @param {Int32Array} table the store's slot table: word 0 the epoch, then one word per slot */
  constructor(capacity, table) {
    this.#capacity = capacity
    this.#table = table
  }

  get size() {
    return this.#entries.size
  }

  /** The session remembered for `token` if the store still holds exactly it, else undefined. */
  lookup(token) {
    const entry = this.#entries.get(token)
    if (entry === undefined) return undefined
    const table = this.#table
    const word = Atomics.load(table, entry.index)
    if ((word & GENERATION_MASK) === entry.generation && Atomics.load(table, 0) === entry.epoch && Date.now() < entry.deadline) {
      // A near hit is a use: tell the store's CLOCK, or it would evict exactly the hottest sessions.
      if (word >= 0) Atomics.or(table, entry.index, REFERENCED)
      return entry.session
    }
    this.#entries.delete(token)
    return undefined
  }

  /** Remembers a session just decoded from a store hit whose metadata is in `meta`. */
  remember(token, session, meta) {
    const entries = this.#entries
    if (entries.size >= this.#capacity && !entries.has(token)) {
      // Oldest first: Map iterates in insertion order.
      entries.delete(entries.keys().next().value)
    }
    entries.set(token, new NearEntry(session, meta[0], meta[1], meta[2], meta[3]))
  }

  forget(token) {
    this.#entries.delete(token)
  }

  reset() {
    this.#entries = new Map()
  }
}

module.exports = { NearCache }
