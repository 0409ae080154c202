'use strict'

const { parseTtl } = require('../binding.js')

const DEFAULTS = Object.freeze({
  name: 'vendure-session-cache',
  maxEntries: 100_000,
  maxBytes: 256 * 2 ** 20,
  maxEntryBytes: 2 ** 20,
  ttl: undefined,
  nearCacheSize: 10_000,
})

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
    nearCacheSize: nonNegativeInteger(merged.nearCacheSize, 'nearCacheSize'),
  })
}

function stripUndefined(object) {
  return Object.fromEntries(Object.entries(object).filter(([, value]) => value !== undefined))
}

module.exports = { parseOptions, DEFAULTS }
