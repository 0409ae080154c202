'use strict'

// The sessions every strategy is measured on: the project's own fixtures (customer ≈410 B, superadmin
// ≈3.5 KB of JSON, 64-hex tokens), and fresh copies of the tokens for lookups. V8 caches a string's hash
// inside the string, so a benchmark that re-uses one token string flatters every JS Map about 3x; in a
// server each request brings a new string. Copies are made before the timed loop.

const fixtures = require('../__test__/fixtures.js')

const HOUR_S = 3600

/** A deterministic uniform PRNG (mulberry32), so every strategy sees the same lookup sequence. */
function random(seed) {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let t = a
    t = Math.imul(t ^ (t >>> 15), t | 1)
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61)
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296
  }
}

/** `n` distinct new tokens. */
const newTokens = (n) => Array.from({ length: n }, fixtures.newToken)

/** A string equal to `token` that is a different object, its hash not yet computed. */
const freshCopy = (token) => Buffer.from(token, 'latin1').toString('latin1')

// The fixtures' cacheExpiry is 5 minutes ahead; a full run is longer than that, and a cache that
// honours cacheExpiry (this project does) would start missing. An hour ahead keeps every hit a hit.
function longLived(session) {
  session.cacheExpiry = Date.now() / 1000 + HOUR_S
  return session
}

/** A customer session for its own copy of `token` (each strategy keeps its own token string). */
const customer = (token) => longLived(fixtures.customerSession(freshCopy(token)))
const superadmin = (token) => longLived(fixtures.superadminSession(freshCopy(token)))

/** Fresh copies of `count` tokens picked uniformly at random from `tokens[from..to)`. */
function pickFresh(tokens, count, rand, from = 0, to = tokens.length) {
  const out = new Array(count)
  for (let i = 0; i < count; i++) out[i] = freshCopy(tokens[from + Math.floor(rand() * (to - from))])
  return out
}

module.exports = { random, newTokens, freshCopy, customer, superadmin, pickFresh }
