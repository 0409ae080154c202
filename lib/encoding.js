'use strict'

// Exact encoding of a CachedSession: JSON with `expires` as epoch milliseconds, revived as a Date.
// (A number instead of the Date's ISO string saves its toJSON on every set and the ISO parse on every
// decode.) One walk reads every value once, checks that JSON carries it exactly, and writes its JSON:
// a getter that answers differently on a second read cannot slip an unchecked value past the check.
// A session is either stored exactly or refused with a reason and a path.

const MAX_DEPTH = 1000
const TOO_LARGE = 'too large'
/** What JSON.stringify would escape in a string: quotes, backslashes, control characters, surrogates. */
const NEEDS_ESCAPE = /["\\\x00-\x1f\ud800-\udfff]/

class Inexact {
  constructor(problem, path) {
    this.problem = problem
    this.path = path
  }
}

/**
 * One walk over a session. `keys` is the path to the value being written, pushed and popped as the
 * walk descends; it becomes a string only when something is wrong, so a good session costs no path
 * building. `ancestors` are the objects on that path (a cycle returns to one of them). `json` grows as
 * the walk goes, and the walk stops as soon as it is longer than `maxChars`.
 */
class Walk {
  constructor(maxChars) {
    this.keys = ['session']
    this.ancestors = []
    this.maxChars = maxChars
    this.json = ''
  }

  fail(problem) {
    let path = ''
    for (const key of this.keys) path += typeof key === 'number' ? `[${key}]` : path === '' ? key : `.${key}`
    return new Inexact(problem, path)
  }

  append(text) {
    this.json += text
    return this.json.length > this.maxChars ? new Inexact(TOO_LARGE, 'session') : null
  }
}

/** A string's JSON. Most need no escaping: quoting them directly saves a call into JSON.stringify. */
const quoteAfresh = (text) => (NEEDS_ESCAPE.test(text) ? JSON.stringify(text) : `"${text}"`)

/**
 * The JSON of short strings seen before: keys and values such as permission names recur in every
 * session, and a Map lookup costs a third of the escape check and the quoting (a superadmin holds
 * ~190 permission strings). Emptied when full, so it follows what sessions hold now.
 */
const QUOTED_MAX_ENTRIES = 4096
const QUOTED_MAX_LENGTH = 64

/** Recently seen short strings' JSON, decorated by `decorate`; emptied when full. */
function quoteCache(decorate) {
  const cache = new Map()
  return (text) => {
    let json = cache.get(text)
    if (json === undefined) {
      json = decorate(quoteAfresh(text))
      if (text.length <= QUOTED_MAX_LENGTH) {
        if (cache.size >= QUOTED_MAX_ENTRIES) cache.clear()
        cache.set(text, json)
      }
    }
    return json
  }
}

// Each piece appended is one more node in the string being built, which V8 must walk again when it
// is handed to the store: separators travel with the string they precede or follow.
const quote = quoteCache((json) => json)
const quoteAfterComma = quoteCache((json) => ',' + json)
const quoteAsKey = quoteCache((json) => json + ':')
const quoteAsLaterKey = quoteCache((json) => ',' + json + ':')

/** Writes `value`'s JSON; returns why it cannot round-trip exactly, or null. */
function writeValue(value, walk) {
  switch (typeof value) {
    case 'string':
      return walk.append(quote(value))
    case 'boolean':
      return walk.append(value ? 'true' : 'false')
    case 'number':
      if (!Number.isFinite(value)) return walk.fail(`${value} is not a finite number`)
      if (Object.is(value, -0)) return walk.fail('-0 cannot be stored exactly (JSON would give back 0)')
      return walk.append(String(value))
    case 'bigint':
      return walk.fail('a BigInt cannot be stored as JSON')
    case 'function':
      return walk.fail('a function cannot be stored')
    case 'symbol':
      return walk.fail('a symbol cannot be stored')
    case 'undefined':
      return walk.fail('undefined inside an array cannot be stored')
  }
  if (value === null) return walk.append('null')
  const { ancestors } = walk
  if (ancestors.length >= MAX_DEPTH) return walk.fail(`nested deeper than ${MAX_DEPTH} levels`)
  if (ancestors.includes(value)) return walk.fail('a circular reference cannot be stored')
  ancestors.push(value)
  const found = Array.isArray(value) ? writeArray(value, walk) : writeObject(value, walk)
  ancestors.pop()
  return found
}

/** What JSON would lose of an object's own shape: a toJSON (own, hidden or inherited), symbol keys. */
function shapeProblem(value, walk) {
  if (typeof value.toJSON === 'function') return walk.fail('a value with a toJSON method cannot be stored exactly')
  if (Object.getOwnPropertySymbols(value).length > 0) return walk.fail('a symbol-keyed property cannot be stored')
  return null
}

function writeArray(array, walk) {
  if (Object.getPrototypeOf(array) !== Array.prototype) {
    return walk.fail(`a ${Object.getPrototypeOf(array)?.constructor?.name ?? 'non-plain'} array cannot be stored exactly (only plain arrays)`)
  }
  const problem = shapeProblem(array, walk)
  if (problem) return problem
  const length = array.length
  // Its enumerable own keys must be its indices, all of them: a named property would vanish in JSON,
  // a hole come back as null. (Object.keys is V8's fast path; non-enumerable ones JSON ignores too.)
  if (Object.keys(array).length !== length) {
    const extra = Object.keys(array).find((name) => !(String(Number(name)) === name && Number(name) < length))
    if (extra !== undefined) return walk.fail(`an array's property '${extra}' cannot be stored (JSON keeps only its elements)`)
    return walk.fail('an array with holes cannot be stored exactly (JSON gives back null for them)')
  }
  let found = walk.append('[')
  const { keys } = walk
  for (let i = 0; i < length && found === null; i++) {
    const element = array[i]
    // Strings (permission names) need no path: the common case, written straight away.
    if (typeof element === 'string') {
      walk.json += i > 0 ? quoteAfterComma(element) : quote(element)
      continue
    }
    if (i > 0) walk.json += ','
    keys.push(i)
    found = writeValue(element, walk)
    keys.pop()
  }
  return found ?? walk.append(']')
}

function writeObject(object, walk) {
  const proto = Object.getPrototypeOf(object)
  if (proto !== Object.prototype && proto !== null) {
    const kind = object instanceof Date ? 'a Date' : `a ${proto?.constructor?.name ?? 'non-plain'} object`
    return walk.fail(`${kind} cannot be stored exactly (only plain objects, arrays and JSON primitives)`)
  }
  const problem = shapeProblem(object, walk)
  if (problem) return problem
  return writeProperties(object, walk, undefined)
}

/**
 * Writes `{...}` of an object's own properties, each read once. For the session itself
 * (`expiresJson` given), `token` is written as the placeholder 0 and `expires` as `expiresJson`, each
 * in its place; if either is not an own property (inherited), it goes last, as a spread would put it.
 */
function writeProperties(object, walk, expiresJson) {
  const names = Object.keys(object)
  walk.json += '{'
  const { keys } = walk
  let first = true
  let wroteToken = false
  let wroteExpires = false
  for (let n = 0; n < names.length; n++) {
    const key = names[n]
    if (expiresJson !== undefined && (key === 'token' || key === 'expires')) {
      const isToken = key === 'token'
      walk.json += (first ? quoteAsKey(key) : quoteAsLaterKey(key)) + (isToken ? '0' : expiresJson)
      if (isToken) wroteToken = true
      else wroteExpires = true
      first = false
      continue
    }
    const child = object[key]
    // An undefined property is dropped by JSON, which is what absent means: allowed.
    if (child === undefined) continue
    walk.json += first ? quoteAsKey(key) : quoteAsLaterKey(key)
    first = false
    keys.push(key)
    const found = writeValue(child, walk)
    keys.pop()
    if (found) return found
  }
  if (expiresJson !== undefined) {
    if (!wroteToken) walk.json += (first ? '' : ',') + '"token":0'
    if (!wroteExpires) walk.json += ',"expires":' + expiresJson
  }
  return walk.append('}')
}

/** One walk, reused by every set (a set allocates as little as it can); a nested set gets its own. */
let idleWalk = new Walk(0)

/**
 * The session as stored, or why it cannot be: `{ json }`, or `{ problem, path }` (never containing the
 * token's value), `problem` being TOO_LARGE for a session whose JSON is over `maxChars`. The JSON has
 * `expires` as epoch milliseconds and `token` as 0, a placeholder that keeps its place among the keys:
 * the token never leaves the process (it is not in Redis), and `decodeSession` puts back the one it
 * was looked up by.
 */
function encodeExactSession(session, maxChars) {
  const { expires, cacheExpiry } = session
  if (!(expires instanceof Date)) {
    return { problem: `expires must be a Date, got ${describe(expires)}`, path: 'session.expires' }
  }
  const expiresMs = expires.getTime()
  if (Number.isNaN(expiresMs)) {
    return { problem: 'expires is an Invalid Date', path: 'session.expires' }
  }
  if (typeof cacheExpiry !== 'number' || !Number.isFinite(cacheExpiry)) {
    return {
      problem: `cacheExpiry must be a finite number of seconds, got ${describe(cacheExpiry)}`,
      path: 'session.cacheExpiry',
    }
  }
  // A getter in the session may itself set a session: that walk must not share this one.
  const walk = idleWalk ?? new Walk(0)
  idleWalk = null
  walk.maxChars = maxChars
  walk.json = ''
  walk.keys.length = 1
  walk.ancestors.length = 0
  walk.ancestors.push(session)
  let problem
  try {
    problem = shapeProblem(session, walk) ?? writeProperties(session, walk, String(expiresMs))
  } finally {
    walk.ancestors.length = 0 // holds no session once done
    idleWalk = walk
  }
  const json = walk.json
  walk.json = ''
  if (problem !== null) return problem.problem === TOO_LARGE ? { problem: TOO_LARGE, path: 'session' } : { problem: problem.problem, path: problem.path }
  return { json }
}

function describe(value) {
  if (value === null) return 'null'
  if (typeof value === 'object') return `a ${value.constructor?.name ?? 'plain'} object`
  if (typeof value === 'number') return String(value)
  return `a ${typeof value}`
}

/** The session as returned: a fresh plain object, `token` the one asked for, `expires` a Date again. */
function decodeSession(encoded, token) {
  const session = JSON.parse(encoded)
  session.token = token
  session.expires = new Date(session.expires)
  return session
}

module.exports = { encodeExactSession, decodeSession, TOO_LARGE }
