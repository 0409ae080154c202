'use strict'

// Exact encoding of a CachedSession: JSON, with `expires` revived as a Date. What JSON cannot carry
// exactly is found first, so a session is either stored exactly or refused with a reason and a path.

const MAX_DEPTH = 1000

/**
 * State of one walk: objects on the current path (to find cycles) and how many characters of JSON
 * may still come, roughly, before the session is too large to cache. Counting as it goes stops the
 * walk of a 10 MB session after the first megabyte, instead of blocking the event loop for all of it.
 */
class Walk {
  constructor(maxChars) {
    this.ancestors = new Set()
    this.budget = maxChars
  }
}

const TOO_LARGE = 'too large'

/** Why `value` (at `path`) cannot round-trip through JSON exactly, or null if it can. */
function findInexactValue(value, path, depth, walk) {
  switch (typeof value) {
    case 'string':
      walk.budget -= value.length + 3
      return walk.budget < 0 ? { problem: TOO_LARGE, path } : null
    case 'boolean':
      walk.budget -= 5
      return null
    case 'number':
      walk.budget -= 8
      return Number.isFinite(value) ? null : { problem: `${value} is not a finite number`, path }
    case 'bigint':
      return { problem: 'a BigInt cannot be stored as JSON', path }
    case 'function':
      return { problem: 'a function cannot be stored', path }
    case 'symbol':
      return { problem: 'a symbol cannot be stored', path }
    case 'undefined':
      return { problem: 'undefined inside an array cannot be stored', path }
  }
  if (value === null) return null
  if (depth >= MAX_DEPTH) return { problem: `nested deeper than ${MAX_DEPTH} levels`, path }
  const { ancestors } = walk
  if (ancestors.has(value)) return { problem: 'a circular reference cannot be stored', path }
  ancestors.add(value)
  walk.budget -= 2
  const found = Array.isArray(value) ? findInexactInArray(value, path, depth, walk) : findInexactInObject(value, path, depth, walk)
  ancestors.delete(value)
  return found
}

function findInexactInArray(array, path, depth, walk) {
  for (let i = 0; i < array.length; i++) {
    const found = findInexactValue(array[i], `${path}[${i}]`, depth + 1, walk)
    if (found) return found
  }
  return null
}

function findInexactInObject(object, path, depth, walk) {
  const proto = Object.getPrototypeOf(object)
  if (proto !== Object.prototype && proto !== null) {
    const kind = object instanceof Date ? 'a Date' : `a ${proto?.constructor?.name ?? 'non-plain'} object`
    return { problem: `${kind} cannot be stored exactly (only plain objects, arrays and JSON primitives)`, path }
  }
  if (Object.getOwnPropertySymbols(object).length > 0) {
    return { problem: 'a symbol-keyed property cannot be stored', path }
  }
  for (const key of Object.keys(object)) {
    const child = object[key]
    // An undefined property is dropped by JSON, which is what absent means: allowed.
    if (child === undefined) continue
    walk.budget -= key.length + 3
    const found = findInexactValue(child, `${path}.${key}`, depth + 1, walk)
    if (found) return found
  }
  return null
}

/**
 * Checks a session that names its token. Returns null if it can be stored exactly and its JSON is
 * at most about `maxChars` long, else `{ problem, path }` (never containing the token's value);
 * `problem` is TOO_LARGE for a session over the size.
 */
function findInexactSession(session, maxChars) {
  const { expires, cacheExpiry } = session
  if (!(expires instanceof Date)) {
    return { problem: `expires must be a Date, got ${describe(expires)}`, path: 'session.expires' }
  }
  if (Number.isNaN(expires.getTime())) {
    return { problem: 'expires is an Invalid Date', path: 'session.expires' }
  }
  if (typeof cacheExpiry !== 'number' || !Number.isFinite(cacheExpiry)) {
    return {
      problem: `cacheExpiry must be a finite number of seconds, got ${describe(cacheExpiry)}`,
      path: 'session.cacheExpiry',
    }
  }
  const walk = new Walk(maxChars - session.token.length - 40)
  walk.ancestors.add(session)
  for (const key of Object.keys(session)) {
    if (key === 'expires' || key === 'token') continue
    const child = session[key]
    if (child === undefined) continue
    walk.budget -= key.length + 3
    const found = findInexactValue(child, `session.${key}`, 1, walk)
    if (found) return found.problem === TOO_LARGE ? { problem: TOO_LARGE, path: 'session' } : found
  }
  if (walk.budget < 0) return { problem: TOO_LARGE, path: 'session' }
  if (Object.getOwnPropertySymbols(session).length > 0) {
    return { problem: 'a symbol-keyed property cannot be stored', path: 'session' }
  }
  return null
}

function describe(value) {
  if (value === null) return 'null'
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'plain'} object`
  if (typeof value === 'number') return String(value)
  return `a ${typeof value}`
}

/** The session as stored: JSON text. */
function encodeSession(session) {
  return JSON.stringify(session)
}

/** The session as returned: a fresh plain object, `expires` a Date again. */
function decodeSession(encoded) {
  const session = JSON.parse(encoded)
  session.expires = new Date(session.expires)
  return session
}

module.exports = { findInexactSession, encodeSession, decodeSession, TOO_LARGE }
