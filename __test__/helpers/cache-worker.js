'use strict'

const { parentPort, workerData } = require('node:worker_threads')
const { NativeSessionCacheStrategy } = require('../..')
const f = require('../fixtures')

const cache = new NativeSessionCacheStrategy({ name: workerData.name, maxEntries: workerData.maxEntries ?? 1000 })

/** Random sets, gets and deletes over a shared token range; counts answers that belong to another token. */
function churn({ rounds, seed }) {
  const tokens = Array.from({ length: 200 }, (_, i) => `churn-${i}`.padEnd(64, '0'))
  let x = seed
  let wrongAnswers = 0
  for (let i = 0; i < rounds; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    const token = tokens[x % tokens.length]
    const op = x % 7
    if (op < 3) cache.set(f.customerSession(token))
    else if (op === 3) cache.delete(token)
    else {
      const got = cache.get(token)
      if (got !== undefined && got.token !== token) wrongAnswers++
    }
  }
  return { wrongAnswers }
}

/** The token of step `i` of a sequence: 64 characters, the tail varying (the presence fingerprint). */
const sequenceToken = (prefix, i) => `${prefix}-${i}-`.padEnd(58, 'x') + String(i * 7919).padStart(6, '0').slice(-6)

/**
 * Sets sessions 0..n-1 one after the other, publishing in `done[0]` how many have returned; then
 * deletes them in order, publishing in `done[1]` how many deletes have returned.
 */
function publishSequence({ buffer, n, prefix }) {
  const done = new Int32Array(buffer)
  for (let i = 0; i < n; i++) {
    cache.set(f.anonymousSession(sequenceToken(prefix, i)))
    Atomics.store(done, 0, i + 1)
  }
  for (let i = 0; i < n; i++) {
    cache.delete(sequenceToken(prefix, i))
    Atomics.store(done, 1, i + 1)
  }
}

/**
 * While publishSequence runs in another thread: reads what has returned there, then gets a token
 * whose set returned before this get started (and whose delete had not started when it ended): it must hit; or a
 * token whose delete returned: it must miss. Returns the checks made and the violations.
 */
function checkSequence({ buffer, n, prefix }) {
  const done = new Int32Array(buffer)
  let checks = 0
  const violations = []
  let x = 12345
  while (Atomics.load(done, 1) < n) {
    const set = Atomics.load(done, 0)
    const deleted = Atomics.load(done, 1)
    x = (x * 1103515245 + 12345) % 2 ** 31
    // Set and not yet being deleted: deleted + 1 .. set - 1 (the writer may be deleting `deleted` now).
    if (set > deleted + 1 && x % 2 === 0) {
      const i = deleted + 1 + (x % (set - deleted - 1))
      const session = cache.get(sequenceToken(prefix, i))
      // Counts only if the delete of i had not started when the get ended: the writer starts it only
      // after publishing that the delete of i - 1 returned.
      if (Atomics.load(done, 1) < i) {
        checks++
        if (session === undefined) violations.push(`missed ${i} (set ${set}, deleted ${deleted})`)
      }
    } else if (deleted > 0) {
      const i = x % deleted
      checks++
      if (cache.get(sequenceToken(prefix, i)) !== undefined) violations.push(`served deleted ${i} (deleted ${deleted})`)
    }
  }
  return { checks, violations: violations.slice(0, 10), violationCount: violations.length }
}

const ops = {
  ping: () => 'pong',
  publishSequence,
  checkSequence,
  set: (session) => cache.set(session),
  get: (token) => {
    const session = cache.get(token)
    return { session, expiresIsDate: session?.expires instanceof Date }
  },
  delete: (token) => cache.delete(token),
  clear: () => cache.clear(),
  churn,
  /** Sets `n` new sessions. */
  fill: (n) => {
    for (let i = 0; i < n; i++) cache.set(f.anonymousSession())
  },
}

parentPort.on('message', ({ id, op, arg }) => {
  try {
    parentPort.postMessage({ id, result: ops[op](arg) })
  } catch (error) {
    parentPort.postMessage({ id, error: String(error?.stack ?? error) })
  }
})
