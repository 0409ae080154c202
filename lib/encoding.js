'use strict'

// Exact encoding of a CachedSession: JSON, with `expires` revived as a Date. What JSON cannot carry
// exactly is found first, so a session is either stored exactly or refused with a reason and a path.

const MAX_DEPTH = 1000

/** Why `value` (at `path`) cannot round-trip through JSON exactly, or null if it can. */
function findInexactValue(value, path, depth, ancestors) {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return null
    case 'number':
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
  if (ancestors.has(value)) return { problem: 'a circular reference cannot be stored', path }
  ancestors.add(value)
  const found = Array.isArray(value)
    ? findInexactInArray(value, path, depth, ancestors)
    : findInexactInObject(value, path, depth, ancestors)
  ancestors.delete(value)
  return found
}

function findInexactInArray(array, path, depth, ancestors) {
  for (let i = 0; i < array.length; i++) {
    const found = findInexactValue(array[i], `${path}[${i}]`, depth + 1, ancestors)
    if (found) return found
  }
  return null
}

function findInexactInObject(object, path, depth, ancestors) {
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
    const found = findInexactValue(child, `${path}.${key}`, depth + 1, ancestors)
    if (found) return found
  }
  return null
}

/**
 * Checks a session that names its token. Returns null if it can be stored exactly, else
 * `{ problem, path }` (the path never contains the token's value).
 */
function findInexactSession(session) {
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
  const ancestors = new Set([session])
  for (const key of Object.keys(session)) {
    if (key === 'expires' || key === 'token') continue
    const child = session[key]
    if (child === undefined) continue
    const found = findInexactValue(child, `session.${key}`, 1, ancestors)
    if (found) return found
  }
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

module.exports = { findInexactSession, encodeSession, decodeSession }
