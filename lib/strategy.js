'use strict'

const { NativeStore, SetResult, monotonicNowMs, storeGet, storeSet, storeDelete, ENTRY_OVERHEAD_BYTES } =
  require('./native.js').native()
const { parseOptions, redactOptions } = require('./options.js')
const { encodeExactSession, decodeSession, TOO_LARGE } = require('./encoding.js')
const log = require('./logger.js')
const { NearCache } = require('./near-cache.js')
const { Presence } = require('./presence.js')
const { peerProcessEvidence } = require('./deployment.js')

/** Hits the near cache answered, and misses the presence counts answered, are counted here and added
 * to the store's counters in batches of this many. */
const COUNT_FLUSH_BATCH = 1024
const EMPTY_STATS = Object.freeze({
  hits: 0, misses: 0, sets: 0, deletes: 0, rejected: 0, evictions: 0, expirations: 0, clears: 0,
  replaced: 0, reclaimed: 0, dropped: 0, entries: 0, bytes: 0,
})

/** Whether this process already warned that it is one of several without the redis option. */
let warnedAlonePerProcess = false

/**
 * Warns once per process when this process is evidently one of several (cluster, PM2) but caches
 * alone: the others would accept a session logged out here until its cacheExpiry.
 */
function warnIfOneOfSeveral() {
  if (warnedAlonePerProcess) return
  let evidence
  try {
    evidence = peerProcessEvidence()
  } catch {
    return
  }
  if (evidence === undefined) return
  warnedAlonePerProcess = true
  log.warn(
    `the session cache runs without the redis option, but ${evidence}: each process caches sessions on its own, ` +
      'so a session logged out or revoked through one process is still accepted by the others until its cacheExpiry ' +
      "(Vendure's authOptions.sessionCacheTTL, 300 s by default). Give every process the same redis option " +
      '(README, "Several servers"), or run one process per cache.',
  )
}

/**
 * The secret that keys token hashes in Redis, when the `redis` option gives none: Vendure's
 * `authOptions.cookieOptions.secret`, unless that is Vendure's default, a random value per process
 * (instances would then never find each other's sessions).
 */
function secretFromVendure(injector) {
  let secret
  let randomDefault = false
  try {
    const { ConfigService, defaultConfig } = require('@vendure/core')
    secret = injector?.get(ConfigService)?.authOptions?.cookieOptions?.secret
    randomDefault = secret !== undefined && secret === defaultConfig?.authOptions?.cookieOptions?.secret
  } catch {
    secret = undefined
  }
  if (typeof secret === 'string' && secret.length > 0 && !randomDefault) return secret
  throw new Error(
    'NativeSessionCacheStrategy: the redis option needs a secret shared by every instance (it keys the hash of tokens in Redis): ' +
      (randomDefault
        ? "Vendure's authOptions.cookieOptions.secret is its random per-process default; set it, or redis.secret, to the same value on every instance"
        : 'set redis.secret, or authOptions.cookieOptions.secret in the Vendure config'),
  )
}

/** What to add to performance.now() to read the addon's monotonic clock (leases are in it). */
function clockOffset() {
  const before = performance.now()
  const native = monotonicNowMs()
  const after = performance.now()
  return native - (before + after) / 2
}

/**
 * Vendure's SessionCacheStrategy over a native store shared by every worker_thread of the process.
 * Without the `redis` option every method is synchronous. With it, a get that misses locally, and
 * every set, delete and clear, return a Promise (Vendure awaits it) that never rejects. Nothing
 * throws into Vendure, except on a call that names no token at all, a programming error Vendure
 * never makes.
 */
class NativeSessionCacheStrategy {
  #options
  #store
  /** The number storeGet/storeSet/storeDelete name #store by (this thread's; -1 when closed). */
  #storeId = -1
  /** @type {NearCache | null} */
  #near = null
  /** @type {Float64Array | null} where the store leaves a hit's slot, generation, epoch and deadline */
  #hitMeta = null
  #pendingHits = 0
  #pendingMisses = 0
  /** @type {Presence | null} the store's key counts, without Redis (its keys are then the tokens) */
  #presence = null
  /** Whether init() connected the store's Redis tier. */
  #redisOn = false
  /** The tier's trust as this thread last logged it. */
  #redisTrusted = true
  /** When this thread last warned that a write did not reach Redis (ms). */
  #lastWriteWarning = -Infinity

  constructor(options) {
    this.#options = parseOptions(options)
    this.#store = this.#open()
  }

  /** The validated options, defaults filled in; a password in `redis.url` shows as `***`. */
  get options() {
    return redactOptions(this.#options)
  }

  #open() {
    const { name, maxEntries, maxBytes, maxEntryBytes, ttlMs, nearCacheSize } = this.#options
    let store
    try {
      store = new NativeStore(name, { maxEntries, maxBytes, maxEntryBytes, ttlMs, withRedis: this.#options.redis !== undefined })
    } catch (error) {
      // Jest runs many test files in one process; the store (native memory) outlives its module registry.
      const hint =
        process.env.JEST_WORKER_ID !== undefined && /already exists/.test(error.message)
          ? ". Under Jest: a test file that ended without destroy() (@vendure/testing's server.destroy() in afterAll calls it) leaves its store to the next file in this worker; destroy it, or give each file's strategy its own name"
          : ''
      throw new TypeError(`NativeSessionCacheStrategy: ${error.message}${hint}`)
    }
    this.#storeId = store.id
    this.#hitMeta = new Float64Array(store.hitMeta())
    const shared = this.#sharesMemoryWith(store)
    this.#near = nearCacheSize > 0 && shared ? new NearCache(nearCacheSize, new Int32Array(store.slotTable())) : null
    // With Redis the store's keys are keyed hashes of the tokens, not the tokens.
    this.#presence = shared && this.#options.redis === undefined ? new Presence(new Uint8Array(store.presence())) : null
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

  #flushCounts() {
    if (this.#pendingHits > 0) {
      this.#store?.addHits(this.#pendingHits)
      this.#pendingHits = 0
    }
    if (this.#pendingMisses > 0) {
      this.#store?.addMisses(this.#pendingMisses)
      this.#pendingMisses = 0
    }
  }

  init(injector) {
    // After destroy() (as @vendure/testing does between its populate and test apps), open again.
    this.#store ??= this.#open()
    const { name, maxEntries, maxBytes, ttlMs, redis } = this.#options
    const ready = () =>
      log.info(
        `session cache '${name}' ready: at most ${maxEntries} entries and ${maxBytes} bytes` +
          (ttlMs === undefined ? '' : `, ttl ${ttlMs} ms`) +
          (redis === undefined ? '' : `, shared through Redis (key prefix '${redis.keyPrefix}')`),
      )
    if (redis === undefined) {
      warnIfOneOfSeveral()
      return ready()
    }
    return this.#connectRedis(injector).then(ready)
  }

  async #connectRedis(injector) {
    const { url, keyPrefix, timeoutMs } = this.#options.redis
    const secret = this.#options.redis.secret ?? secretFromVendure(injector)
    const store = this.#store
    try {
      await store.connectRedis({ url, keyPrefix, secret, timeoutMs })
    } catch (error) {
      // The native message names the URL without its password.
      throw new Error(`NativeSessionCacheStrategy: ${error.message}`)
    }
    // destroy() may have come meanwhile: the tier went with the store.
    if (this.#store === store) {
      this.#redisOn = true
      this.#redisTrusted = true
      const lease = store.redisLease()
      if (lease != null) this.#near?.useLease(new Float64Array(lease), clockOffset())
    }
  }

  /**
   * Logs the tier's trouble through Vendure's Logger (the counts are in stats().redis): a change of
   * trust when this thread notices it (on a get that missed locally: while the tier is not trusted,
   * every get does), and writes that did not reach Redis, at most once per 10 s.
   */
  #noteRedis(store) {
    try {
      const trusted = store.redisTrustworthy()
      if (trusted === this.#redisTrusted) return
      this.#redisTrusted = trusted
      if (trusted) log.info('Redis is back: local layers were flushed and serve sessions again')
      else
        log.warn(
          'the Redis invalidation channel is down (or a namespace bump is owed): nothing is served from local layers ' +
            'until it is back; sessions are read from the database meanwhile (see stats().redis)',
        )
    } catch {
      // A logger that throws must not turn a miss into a rejection.
    }
  }

  /** Resolves set/delete/clear's Promise with undefined, warning first if Redis did not take the write. */
  #noteWrite = (reached) => {
    if (reached) return
    const now = Date.now()
    if (now - this.#lastWriteWarning < 10_000) return
    this.#lastWriteWarning = now
    try {
      log.warn(
        `a session write did not reach Redis within ${this.#options.redis?.timeoutMs} ms (counted in stats().redis); ` +
          'a lost delete or clear is covered by a namespace bump when Redis is back',
      )
    } catch {
      // As above.
    }
  }

  destroy() {
    this.#flushCounts()
    // Lets go of the Redis tier too; the last strategy using it stops its thread here.
    this.#store?.close()
    this.#store = undefined
    this.#storeId = -1
    this.#near = null
    this.#presence = null
    this.#redisOn = false
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
    let inexact = null
    try {
      const result = encodeExactSession(session, limit - ENTRY_OVERHEAD_BYTES - token.length)
      if (result.json === undefined) inexact = result
      else encoded = result.json
    } catch (error) {
      inexact = { problem: `reading it threw ${error?.name ?? 'an error'}: ${error?.message ?? error}`, path: 'session' }
    }
    const tooLarge = () =>
      log.warn(
        `session not cached: it is larger than ${limitName} (${limit} B, counting ${ENTRY_OVERHEAD_BYTES} B of overhead); raise ${limitName} if sessions this large are expected`,
      )
    if (inexact !== null) {
      this.#near?.forget(token)
      if (inexact.problem === TOO_LARGE) tooLarge()
      else log.warn(`session not cached: ${inexact.path}: ${inexact.problem}`)
      // An older value in Redis must not outlive this one: dropped there too, in one native call.
      if (this.#redisOn) return store.rejectThrough(token).then(this.#noteWrite)
      store.reject(token)
      return
    }
    const expiresMs = session.expires.getTime()
    // With Redis, the store marks the write pending in the same step; redisSet / redisDelete settle it.
    const result = storeSet(this.#storeId, token, encoded, session.cacheExpiry, expiresMs, this.#redisOn)
    if (result === SetResult.Stored) {
      // This thread's next get of it returns this very object, as InMemorySessionCacheStrategy does
      // (replacing what the near cache held for it).
      this.#near?.remember(token, session, this.#hitMeta)
    } else {
      // Whatever the near cache held for it is no longer current (the store's generation moved too).
      this.#near?.forget(token)
      if (result === SetResult.TooLarge) {
        tooLarge()
        return this.#redisOn ? store.redisDelete(token).then(this.#noteWrite) : undefined
      }
    }
    if (this.#redisOn) return store.redisSet(token, encoded, session.cacheExpiry, expiresMs).then(this.#noteWrite)
  }

  get(sessionToken) {
    if (typeof sessionToken !== 'string') return undefined
    // The hot path, kept small so that V8 inlines it whole: a near hit returns without a call.
    const session = this.#near?.lookup(sessionToken)
    if (session !== undefined) {
      if (++this.#pendingHits >= COUNT_FLUSH_BATCH) this.#flushCounts()
      return session
    }
    return this.#getBeyondNearCache(sessionToken)
  }

  /** A get the near cache could not answer: the presence counts, the store, then Redis. */
  #getBeyondNearCache(sessionToken) {
    const presence = this.#presence
    if (presence !== null && !presence.mayHold(sessionToken)) {
      // No stored key has its fingerprint: a miss, without a call into the store.
      if (++this.#pendingMisses >= COUNT_FLUSH_BATCH) this.#flushCounts()
      return undefined
    }
    // storeGet finds nothing for a token with a lone surrogate (see set()); neither may Redis.
    const encoded = storeGet(this.#storeId, sessionToken)
    if (encoded === null) {
      return this.#redisOn && sessionToken.isWellFormed() ? this.#getFromRedis(this.#store, sessionToken) : undefined
    }
    const session = decodeSession(encoded, sessionToken)
    this.#near?.remember(sessionToken, session, this.#hitMeta)
    return session
  }


  /** A local miss: one Redis GET (the binding fills the local store on a hit). Never rejects. */
  #getFromRedis(store, sessionToken) {
    return store.redisGet(sessionToken).then(
      (encoded) => {
        if (encoded != null) return decodeSession(encoded, sessionToken)
        this.#noteRedis(store)
        return undefined
      },
      () => undefined,
    )
  }

  delete(sessionToken) {
    if (typeof sessionToken !== 'string') return
    this.#near?.forget(sessionToken)
    const store = this.#storeOrReopen()
    if (store === undefined) return
    // One native call deletes here and in Redis (fenced against every thread's reads in flight).
    if (this.#redisOn && sessionToken.isWellFormed()) return store.deleteThrough(sessionToken).then(this.#noteWrite)
    // Deletes nothing for a token with a lone surrogate (nothing is stored under one).
    storeDelete(this.#storeId, sessionToken)
  }

  clear() {
    this.#near?.reset()
    const store = this.#storeOrReopen()
    // One native call clears here and in Redis (fenced against every thread's reads in flight).
    if (this.#redisOn) return store.clearThrough().then(this.#noteWrite)
    store?.clear()
  }

  /** Counters and sizes of the store, shared by every strategy with the same name in this process. */
  stats() {
    this.#flushCounts()
    // Never reopens: reading figures after destroy() must not create a store nobody closes.
    const stats = this.#store?.stats() ?? EMPTY_STATS
    const result = { ...stats, nearCacheEntries: this.#near?.size ?? 0 }
    // The Redis tier's counters (shared by every strategy with this name in the process); null
    // until init() connected it.
    if (this.#options.redis !== undefined) result.redis = (this.#redisOn && this.#store?.redisStats()) || null
    return result
  }

}

module.exports = { NativeSessionCacheStrategy }
