'use strict'

// Exact encoding of a CachedSession: JSON with `expires` as epoch milliseconds, revived as a Date.
// (A number instead of the Date's ISO string saves its toJSON on every set and the ISO parse on every
// decode.) What JSON cannot carry exactly is found first, so a session is either stored exactly or
// refused with a reason and a path.

const MAX_DEPTH = 1000
const TOO_LARGE = 'too large'

/**
 * One walk over a session. `keys` is the path to the value being checked, pushed and popped as the
 * walk descends; it becomes a string only when something is wrong, so a good session costs no string
 * building. `ancestors` are the objects on that path (a cycle returns to one of them). `budget` is
 * roughly how many characters of JSON may still come before the session is too large: counting as it
 * goes stops the walk of a 10 MB session after the first megabyte.
 */
class Walk {
  constructor(maxChars) {
    this.keys = ['session']
    this.ancestors = []
    this.budget = maxChars
  }

  fail(problem) {
    let path = ''
    for (const key of this.keys) path += typeof key === 'number' ? `[${key}]` : path === '' ? key : `.${key}`
    return { problem, path }
  }
}

/** Why `value` cannot round-trip through JSON exactly, or null if it can. */
function findInexactValue(value, walk) {
  switch (typeof value) {
    case 'string':
      walk.budget -= value.length + 3
      return walk.budget < 0 ? walk.fail(TOO_LARGE) : null
    case 'boolean':
      walk.budget -= 5
      return null
    case 'number':
      walk.budget -= 8
      return Number.isFinite(value) ? null : walk.fail(`${value} is not a finite number`)
    case 'bigint':
      return walk.fail('a BigInt cannot be stored as JSON')
    case 'function':
      return walk.fail('a function cannot be stored')
    case 'symbol':
      return walk.fail('a symbol cannot be stored')
    case 'undefined':
      return walk.fail('undefined inside an array cannot be stored')
  }
  if (value === null) return null
  const { ancestors } = walk
  if (ancestors.length >= MAX_DEPTH) return walk.fail(`nested deeper than ${MAX_DEPTH} levels`)
  if (ancestors.includes(value)) return walk.fail('a circular reference cannot be stored')
  ancestors.push(value)
  walk.budget -= 2
  const found = Array.isArray(value) ? findInexactInArray(value, walk) : findInexactInObject(value, walk)
  ancestors.pop()
  return found
}

function findInexactInArray(array, walk) {
  const { keys } = walk
  for (let i = 0; i < array.length; i++) {
    keys.push(i)
    const found = findInexactValue(array[i], walk)
    keys.pop()
    if (found) return found
  }
  return null
}

function findInexactInObject(object, walk) {
  const proto = Object.getPrototypeOf(object)
  if (proto !== Object.prototype && proto !== null) {
    const kind = object instanceof Date ? 'a Date' : `a ${proto?.constructor?.name ?? 'non-plain'} object`
    return walk.fail(`${kind} cannot be stored exactly (only plain objects, arrays and JSON primitives)`)
  }
  return findInexactInProperties(object, walk, undefined)
}

/** Checks the own properties of a plain object, skipping `skip` (checked by the caller). */
function findInexactInProperties(object, walk, skip) {
  if (Object.getOwnPropertySymbols(object).length > 0) return walk.fail('a symbol-keyed property cannot be stored')
  const { keys } = walk
  for (const key in object) {
    if (!Object.hasOwn(object, key) || key === skip) continue
    const child = object[key]
    // An undefined property is dropped by JSON, which is what absent means: allowed.
    if (child === undefined) continue
    walk.budget -= key.length + 3
    keys.push(key)
    const found = findInexactValue(child, walk)
    keys.pop()
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
  const walk = new Walk(maxChars - 40)
  walk.ancestors.push(session)
  const found = findInexactInProperties(session, walk, 'expires')
  if (found !== null) return found.problem === TOO_LARGE ? { problem: TOO_LARGE, path: 'session' } : found
  return walk.budget < 0 ? { problem: TOO_LARGE, path: 'session' } : null
}

function describe(value) {
  if (value === null) return 'null'
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'plain'} object`
  if (typeof value === 'number') return String(value)
  return `a ${typeof value}`
}

/**
 * The session as stored: JSON text, `expires` as epoch milliseconds, and `token` as 0, a placeholder
 * that keeps its place among the keys: the token never leaves the process (it is not in Redis), and
 * `decodeSession` puts back the one it was looked up by.
 */
function encodeSession(session) {
  return JSON.stringify({ ...session, token: 0, expires: session.expires.getTime() })
}

/** The session as returned: a fresh plain object, `token` the one asked for, `expires` a Date again. */
function decodeSession(encoded, token) {
  const session = JSON.parse(encoded)
  session.token = token
  session.expires = new Date(session.expires)
  return session
}

module.exports = { findInexactSession, encodeSession, decodeSession, TOO_LARGE }
