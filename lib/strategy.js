'use strict'

const { NativeStore, SetResult } = require('../binding.js')
const { parseOptions } = require('./options.js')
const { findInexactSession, encodeSession, decodeSession } = require('./encoding.js')
const log = require('./logger.js')

/**
 * Vendure's SessionCacheStrategy over a native store shared by every worker_thread of the process.
 * Every method is synchronous and never throws into Vendure, except on a call that names no token
 * at all, a programming error Vendure never makes.
 */
class NativeSessionCacheStrategy {
  #options
  #store

  constructor(options) {
    this.#options = parseOptions(options)
    this.#store = this.#open()
  }

  /** The validated options, defaults filled in. */
  get options() {
    return this.#options
  }

  #open() {
    const { name, maxEntries, maxBytes, ttlMs } = this.#options
    try {
      return new NativeStore(name, { maxEntries, maxBytes, ttlMs })
    } catch (error) {
      throw new TypeError(`NativeSessionCacheStrategy: ${error.message}`)
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
    this.#store?.close()
    this.#store = undefined
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
    let encoded
    let inexact
    try {
      inexact = findInexactSession(session)
      if (inexact === null) encoded = encodeSession(session)
    } catch (error) {
      inexact = { problem: `reading it threw ${error?.name ?? 'an error'}: ${error?.message ?? error}`, path: 'session' }
    }
    if (inexact !== null) {
      store.reject(token)
      log.warn(`session not cached: ${inexact.path}: ${inexact.problem}`)
      return
    }
    const result = store.set(token, encoded, session.cacheExpiry, session.expires.getTime())
    if (result === SetResult.TooLarge) {
      log.warn(
        `session not cached: its ${encoded.length} bytes exceed maxBytes (${this.#options.maxBytes}); raise maxBytes`,
      )
    }
  }

  get(sessionToken) {
    if (typeof sessionToken !== 'string') return undefined
    const encoded = this.#store?.get(sessionToken)
    return encoded == null ? undefined : decodeSession(encoded)
  }

  delete(sessionToken) {
    if (typeof sessionToken !== 'string') return
    this.#storeOrReopen()?.delete(sessionToken)
  }

  clear() {
    this.#storeOrReopen()?.clear()
  }

  /** Counters and sizes of the store, shared by every strategy with the same name in this process. */
  stats() {
    const stats = (this.#store ?? this.#storeOrReopen())?.stats()
    return stats ?? { hits: 0, misses: 0, sets: 0, deletes: 0, rejected: 0, evictions: 0, expirations: 0, clears: 0, entries: 0, bytes: 0 }
  }
}

module.exports = { NativeSessionCacheStrategy }
