'use strict'

// One soak thread: hammers the shared store with a random mix of operations and checks every answer.
// Runs as a worker_thread, or in the main thread through `hammer()`.
//
// Own keys (this thread alone writes them) are checked exactly against a sequential model: a get
// returns nothing or the value of this thread's last set, never one from before its last delete,
// never one past its deadline, never one older than a clear() that finished before the get began.
// Shared keys (every thread writes them) are written under a per-key lock in shared memory that also
// publishes each completed write's version (odd for a delete): a get must return nothing or a value
// at least as new as the last write that completed before it began, set for that very token, whole,
// and never past its deadline. A near cache that missed another thread's write fails this at once.

const { NativeSessionCacheStrategy } = require('..')

/** clearsStarted and clearsFinished live in a SharedArrayBuffer every thread sees. */
const CLEARS_STARTED = 0
const CLEARS_FINISHED = 1

function random(seed) {
  let x = seed >>> 0 || 1
  return () => {
    x ^= x << 13
    x ^= x >>> 17
    x ^= x << 5
    return (x >>> 0) / 4294967296
  }
}

/** Per shared key, in a SharedArrayBuffer: a lock word, the last version taken, the last completed write. */
const LOCK = 0
const TAKEN = 1
const COMPLETED = 2
const WORDS_PER_KEY = 3

function hammer({ name, options, thread, seconds, counters, sharedState, ownKeys, sharedKeys, seed }) {
  const cache = new NativeSessionCacheStrategy({ name, ...options })
  const clears = new Int32Array(counters)
  const keyState = new Int32Array(sharedState)
  /** Runs one write of shared key `k` alone; `write(version)` returns whether it was a delete. */
  function writeShared(k, write) {
    const at = k * WORDS_PER_KEY
    // Sleep rather than spin: three threads on two cores would otherwise spin out the lock holder.
    while (Atomics.compareExchange(keyState, at + LOCK, 0, 1) !== 0) Atomics.wait(keyState, at + LOCK, 1, 1)
    const version = Atomics.add(keyState, at + TAKEN, 1) + 1
    const deleted = write(version)
    Atomics.store(keyState, at + COMPLETED, version * 2 + (deleted ? 1 : 0))
    Atomics.store(keyState, at + LOCK, 0)
    Atomics.notify(keyState, at + LOCK, 1)
  }
  const rand = random(seed)
  // The ':' keeps padding from merging names: 'shared-5' and 'shared-50' padded with zeros are equal.
  const own = Array.from({ length: ownKeys }, (_, i) => `own-${thread}-${i}:`.padEnd(64, '0'))
  const shared = Array.from({ length: sharedKeys }, (_, i) => `shared-${i}:`.padEnd(64, '0'))
  /** own token -> { serial, deadline, clearsStartedAfterSet } of the last set, or null after a delete */
  const model = new Map()
  const violations = {}
  const violate = (kind) => (violations[kind] = (violations[kind] ?? 0) + 1)
  const ops = { get: 0, set: 0, delete: 0, clear: 0, hits: 0 }
  let serial = 0

  function session(token, life, version = 0) {
    const now = Date.now()
    const deadline = now + life
    serial++
    return {
      cacheExpiry: deadline / 1000,
      id: serial,
      token,
      expires: new Date(now + 3600_000),
      activeOrderId: null,
      user: { id: thread, identifier: `soak-${thread}`, verified: true, channelPermissions: [] },
      soak: { thread, serial, version, deadline, check: `${token}:${serial}`, padding: 'x'.repeat(Math.floor(rand() * 400)) },
    }
  }

  function checkShape(token, got, nowBefore) {
    if (got.token !== token) return violate('answered another token')
    if (got.soak?.check !== `${token}:${got.soak?.serial}`) return violate('torn value')
    if (!(got.expires instanceof Date)) return violate('expires not a Date')
    if (nowBefore >= got.soak.deadline) violate('served past its deadline')
  }

  const end = Date.now() + seconds * 1000
  while (Date.now() < end) {
    for (let burst = 0; burst < 200; burst++) {
      const r = rand()
      const ownToken = own[Math.floor(rand() * own.length)]
      const sharedKey = Math.floor(rand() * shared.length)
      const sharedToken = shared[sharedKey]
      if (r < 0.35) {
        const finishedBefore = Atomics.load(clears, CLEARS_FINISHED)
        const nowBefore = Date.now()
        const got = cache.get(ownToken)
        ops.get++
        if (got === undefined) continue
        ops.hits++
        checkShape(ownToken, got, nowBefore)
        const last = model.get(ownToken)
        if (last === undefined) violate('answered a token never set')
        else if (last === null) violate('served after delete')
        else if (got.soak.serial !== last.serial) violate('served a stale value')
        else if (finishedBefore > last.clearsStartedAfterSet) violate('served after clear')
      } else if (r < 0.55) {
        const completedBefore = Atomics.load(keyState, sharedKey * WORDS_PER_KEY + COMPLETED)
        const nowBefore = Date.now()
        const got = cache.get(sharedToken)
        ops.get++
        if (got !== undefined) {
          ops.hits++
          checkShape(sharedToken, got, nowBefore)
          if (got.soak.version * 2 < completedBefore) violate('served a value older than a completed write')
        }
      } else if (r < 0.75) {
        const value = session(ownToken, 1 + Math.floor(rand() * rand() * 3000))
        cache.set(value)
        ops.set++
        const clearsStartedAfterSet = Atomics.load(clears, CLEARS_STARTED)
        model.set(ownToken, { serial: value.soak.serial, deadline: value.soak.deadline, clearsStartedAfterSet })
      } else if (r < 0.83) {
        writeShared(sharedKey, (version) => cache.set(session(sharedToken, 1 + Math.floor(rand() * rand() * 3000), version)))
        ops.set++
      } else if (r < 0.91) {
        cache.delete(ownToken)
        ops.delete++
        model.set(ownToken, null)
      } else if (r < 0.94) {
        writeShared(sharedKey, () => {
          cache.delete(sharedToken)
          return true
        })
        ops.delete++
      } else if (r < 0.9402) {
        Atomics.add(clears, CLEARS_STARTED, 1)
        cache.clear()
        Atomics.add(clears, CLEARS_FINISHED, 1)
        ops.clear++
      } else {
        const got = cache.get(`never-set-${thread}-${Math.floor(rand() * 1e9)}`)
        ops.get++
        if (got !== undefined) violate('answered a token never set')
      }
    }
  }
  const stats = cache.stats()
  cache.destroy()
  return { thread, ops, violations, stats }
}

module.exports = { hammer, WORDS_PER_KEY }

const { isMainThread, parentPort, workerData } = require('node:worker_threads')
if (!isMainThread && workerData?.soak) parentPort.postMessage(hammer(workerData))
