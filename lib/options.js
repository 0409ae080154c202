'use strict'

const { parseTtl, VENDURE_CALL_LIMIT_MS } = require('./native.js').native()

const DEFAULTS = Object.freeze({
  name: 'vendure-session-cache',
  maxEntries: 100_000,
  maxBytes: 256 * 2 ** 20,
  maxEntryBytes: 2 ** 20,
  ttl: undefined,
  nearCacheSize: undefined, // maxEntries, up to DEFAULT_NEAR_CACHE_MAX
  redis: undefined,
})

const DEFAULT_NEAR_CACHE_MAX = 100_000

const REDIS_DEFAULTS = Object.freeze({ keyPrefix: 'vsc:', timeoutMs: 20 })
const REDIS_KNOWN = new Set(['url', 'keyPrefix', 'secret', 'timeoutMs'])

const KNOWN = new Set(Object.keys(DEFAULTS))
// The slot table reserves 4 bytes of address space per possible entry (touched only when used).
const MAX_ENTRIES_LIMIT = 2 ** 27

function fail(message) {
  throw new TypeError(`NativeSessionCacheStrategy: ${message}`)
}

function positiveInteger(value, option, max) {
  if (!Number.isSafeInteger(value) || value < 1 || value > max) {
    fail(`${option} must be a whole number from 1 to ${max}, got ${JSON.stringify(value) ?? String(value)}`)
  }
  return value
}

function nonNegativeInteger(value, option) {
  if (!Number.isSafeInteger(value) || value < 0) {
    fail(`${option} must be a whole number, 0 or more, got ${JSON.stringify(value) ?? String(value)}`)
  }
  return value
}

function ttlMs(ttl) {
  if (ttl === undefined) return undefined
  if (typeof ttl === 'number') {
    if (!Number.isFinite(ttl) || ttl < 1) fail(`ttl must be at least 1 millisecond, got ${ttl}`)
    return Math.round(ttl)
  }
  if (typeof ttl === 'string') {
    try {
      return parseTtl(ttl)
    } catch (error) {
      fail(`ttl ${error.message}`)
    }
  }
  fail(`ttl must be milliseconds or a string such as '1h', got a ${typeof ttl}`)
}

/**
 * The `redis` option: undefined (no shared tier) or `{ url, keyPrefix, secret, timeoutMs }` with the
 * defaults filled in. `secret` may stay undefined here: init() derives it from Vendure's config.
 */
function redisOptions(redis) {
  if (redis === undefined) return undefined
  if (redis === null || typeof redis !== 'object' || Array.isArray(redis)) {
    fail("redis must be an object such as { url: 'redis://127.0.0.1:6379' }")
  }
  for (const key of Object.keys(redis)) {
    if (!REDIS_KNOWN.has(key)) fail(`unknown option 'redis.${key}' (known: ${[...REDIS_KNOWN].join(', ')})`)
  }
  const merged = { ...REDIS_DEFAULTS, ...stripUndefined(redis) }
  const { url, keyPrefix, secret, timeoutMs } = merged
  // The URL may hold a password: never shown in these messages.
  if (typeof url !== 'string' || !/^(rediss?|redis\+sentinel):\/\/./.test(url)) {
    fail(
      `redis.url must be a string such as 'redis://[:password@]host[:port][/db]', 'rediss://...' (TLS) or 'redis+sentinel://[:password@]host:26379[,host:26379...]/<master name>[/db]', got ${typeof url === 'string' ? 'another string' : typeof url}`,
    )
  }
  if (typeof keyPrefix !== 'string') fail(`redis.keyPrefix must be a string, got ${typeof keyPrefix}`)
  if (secret !== undefined && (typeof secret !== 'string' || secret.length === 0)) {
    fail(`redis.secret must be a non-empty string, got ${typeof secret === 'string' ? 'an empty string' : typeof secret}`)
  }
  if (!Number.isSafeInteger(timeoutMs) || timeoutMs < 1 || timeoutMs >= VENDURE_CALL_LIMIT_MS) {
    fail(`redis.timeoutMs must be a whole number of milliseconds from 1 to ${VENDURE_CALL_LIMIT_MS - 1} (under Vendure's ${VENDURE_CALL_LIMIT_MS} ms call limit), got ${JSON.stringify(timeoutMs) ?? String(timeoutMs)}`)
  }
  return Object.freeze({ url, keyPrefix, secret, timeoutMs })
}

/** Validated options with defaults filled in; throws a TypeError naming the first problem. */
function parseOptions(options) {
  if (options === undefined) options = {}
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    fail('options must be an object such as { maxEntries: 100000 }')
  }
  for (const key of Object.keys(options)) {
    if (!KNOWN.has(key)) fail(`unknown option '${key}' (known: ${[...KNOWN].join(', ')})`)
  }
  const merged = { ...DEFAULTS, ...stripUndefined(options) }
  if (typeof merged.name !== 'string' || merged.name.length === 0) {
    fail(`name must be a non-empty string, got ${typeof merged.name}`)
  }
  return Object.freeze({
    name: merged.name,
    maxEntries: positiveInteger(merged.maxEntries, 'maxEntries', MAX_ENTRIES_LIMIT),
    maxBytes: positiveInteger(merged.maxBytes, 'maxBytes', Number.MAX_SAFE_INTEGER),
    maxEntryBytes: positiveInteger(merged.maxEntryBytes, 'maxEntryBytes', Number.MAX_SAFE_INTEGER),
    ttlMs: ttlMs(merged.ttl),
    // By default as many as the store holds, up to 100,000: a default server keeps every cached session
    // decoded (about 760 B of V8 heap per customer session, 7.7 KB per superadmin; see the README's
    // options), and a store raised to millions does not silently cost gigabytes of heap per thread.
    nearCacheSize:
      merged.nearCacheSize === undefined
        ? Math.min(merged.maxEntries, DEFAULT_NEAR_CACHE_MAX)
        : nonNegativeInteger(merged.nearCacheSize, 'nearCacheSize'),
    redis: redisOptions(merged.redis),
  })
}

function stripUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined))
}

/** A URL with its password (if any) shown as `***`. */
function redactUrl(url) {
  // Not `new URL()`: a Sentinel URL lists several hosts, which WHATWG URLs cannot hold.
  return url.replace(/^([a-z+]+:\/\/)([^:@/]*):([^@/]*)@/i, '$1$2:***@')
}

/** The options as they may be shown: the Redis URL without its password. */
function redactOptions(options) {
  if (options.redis === undefined) return options
  return Object.freeze({ ...options, redis: Object.freeze({ ...options.redis, url: redactUrl(options.redis.url) }) })
}

module.exports = { parseOptions, redactOptions, DEFAULTS }
