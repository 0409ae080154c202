'use strict'

const { NativeStore, SetResult } = require('../binding.js')
const { parseOptions } = require('./options.js')
const { findInexactSession, encodeSession, decodeSession, TOO_LARGE } = require('./encoding.js')
const log = require('./logger.js')
const { NearCache } = require('./near-cache.js')

/** Near-cache hits are counted here and added to the store's `hits` in batches of this many. */
const HIT_FLUSH_BATCH = 1024
const EMPTY_STATS = Object.freeze({
  hits: 0, misses: 0, sets: 0, deletes: 0, rejected: 0, evictions: 0, expirations: 0, clears: 0,
  replaced: 0, reclaimed: 0, dropped: 0, entries: 0, bytes: 0,
})
/** Bytes charged per entry beyond token and JSON (src/store.rs, measured). */
const ENTRY_OVERHEAD_BYTES = 200

/**
 * Vendure's SessionCacheStrategy over a native store shared by every worker_thread of the process.
 * Every method is synchronous and never throws into Vendure, except on a call that names no token
 * at all, a programming error Vendure never makes.
 */
class NativeSessionCacheStrategy {
  #options
  #store
  /** @type {NearCache | null} */
  #near = null
  /** @type {Float64Array | null} where the store leaves a hit's slot, generation, epoch and deadline */
  #hitMeta = null
  #pendingHits = 0

  constructor(options) {
    this.#options = parseOptions(options)
    this.#store = this.#open()
  }

  /** The validated options, defaults filled in. */
  get options() {
    return this.#options
  }

  #open() {
    const { name, maxEntries, maxBytes, maxEntryBytes, ttlMs, nearCacheSize } = this.#options
    let store
    try {
      store = new NativeStore(name, { maxEntries, maxBytes, maxEntryBytes, ttlMs })
    } catch (error) {
      throw new TypeError(`NativeSessionCacheStrategy: ${error.message}`)
    }
    this.#hitMeta = new Float64Array(store.hitMeta())
    this.#near = nearCacheSize > 0 && this.#sharesMemoryWith(store) ? new NearCache(nearCacheSize, new Int32Array(store.slotTable())) : null
    return store
  }

  /**
   * Whether ArrayBuffers over native memory really are (runtimes with a V8 sandbox, such as Electron,
   * copy them instead): a near cache checking a copy of the slot table would never see a write.
   */
  #sharesMemoryWith(store) {
    this.#hitMeta[0] = 12345.5
    const shared = store.probeHitMeta() === 12345.5
    if (!shared) log.warn('this runtime copies external ArrayBuffers: the near cache is off, every get reads the store')
    return shared
  }

  #flushHits() {
    if (this.#pendingHits > 0) {
      this.#store?.addHits(this.#pendingHits)
      this.#pendingHits = 0
    }
  }

  init(_injector) {
    // After destroy() (as @vendure/testing does between its populate and test apps), open again.
    this.#store ??= this.#open()
    const { name, maxEntries, maxBytes, ttlMs } = this.#options
    log.info(
      `session cache '${name}' ready: at most ${maxEntries} entries and ${maxBytes} bytes` +
        (ttlMs === undefined ? '' : `, ttl ${ttlMs} ms`),
    )
  }

  destroy() {
    this.#flushHits()
    this.#store?.close()
    this.#store = undefined
    this.#near = null
  }

  #storeOrReopen() {
    if (this.#store === undefined) {
      try {
        this.#store = this.#open()
      } catch (error) {
        log.warn(`cannot reopen the session cache: ${error.message}`)
      }
    }
    return this.#store
  }

  set(session) {
    if (session === null || typeof session !== 'object') {
      throw new TypeError(`NativeSessionCacheStrategy.set: expected a session object, got ${session === null ? 'null' : typeof session}`)
    }
    const token = session.token
    if (typeof token !== 'string' || token.length === 0) {
      throw new TypeError(
        `NativeSessionCacheStrategy.set: session.token must be a non-empty string, got ${typeof token === 'string' ? 'an empty string' : typeof token}`,
      )
    }
    const store = this.#storeOrReopen()
    if (store === undefined) return
    this.#near?.forget(token)
    if (!token.isWellFormed()) {
      // Rust strings are UTF-8: a lone surrogate would become U+FFFD and could collide with another
      // token, so such a token never reaches the store. Vendure's tokens are hex or bcrypt hashes.
      store.countRejection()
      log.warn('session not cached: session.token contains a lone UTF-16 surrogate')
      return
    }
    const { maxBytes, maxEntryBytes } = this.#options
    const [limit, limitName] = maxEntryBytes < maxBytes ? [maxEntryBytes, 'maxEntryBytes'] : [maxBytes, 'maxBytes']
    let encoded
    let inexact
    try {
      inexact = findInexactSession(session, limit - ENTRY_OVERHEAD_BYTES)
      if (inexact === null) encoded = encodeSession(session)
    } catch (error) {
      inexact = { problem: `reading it threw ${error?.name ?? 'an error'}: ${error?.message ?? error}`, path: 'session' }
    }
    const tooLarge = () =>
      log.warn(
        `session not cached: it is larger than ${limitName} (${limit} B, counting ${ENTRY_OVERHEAD_BYTES} B of overhead); raise ${limitName} if sessions this large are expected`,
      )
    if (inexact !== null) {
      store.reject(token)
      if (inexact.problem === TOO_LARGE) tooLarge()
      else log.warn(`session not cached: ${inexact.path}: ${inexact.problem}`)
      return
    }
    if (store.set(token, encoded, session.cacheExpiry, session.expires.getTime()) === SetResult.TooLarge) tooLarge()
  }

  get(sessionToken) {
    if (typeof sessionToken !== 'string') return undefined
    const near = this.#near
    if (near !== null) {
      const session = near.lookup(sessionToken)
      if (session !== undefined) {
        if (++this.#pendingHits >= HIT_FLUSH_BATCH) this.#flushHits()
        return session
      }
    }
    // See set(): a token with a lone surrogate cannot be in the store, and must not reach it.
    const encoded = sessionToken.isWellFormed() ? this.#store?.get(sessionToken) : undefined
    if (encoded == null) return undefined
    const session = decodeSession(encoded)
    near?.remember(sessionToken, session, this.#hitMeta)
    return session
  }

  delete(sessionToken) {
    if (typeof sessionToken !== 'string') return
    this.#near?.forget(sessionToken)
    if (sessionToken.isWellFormed()) this.#storeOrReopen()?.delete(sessionToken)
  }

  clear() {
    this.#near?.reset()
    this.#storeOrReopen()?.clear()
  }

  /** Counters and sizes of the store, shared by every strategy with the same name in this process. */
  stats() {
    this.#flushHits()
    // Never reopens: reading figures after destroy() must not create a store nobody closes.
    const stats = this.#store?.stats() ?? EMPTY_STATS
    return { ...stats, nearCacheEntries: this.#near?.size ?? 0 }
  }

}

module.exports = { NativeSessionCacheStrategy }
