'use strict'

// No call waits on housekeeping: the longest single get, set and delete made from JS while the
// background sweeper works on a big store, in the three cases that give it the most to do:
//   expiry   – `size` sessions whose cacheExpiry falls in the same second, served through that second;
//   clear    – `size` sessions, then clear(): its reclaim pass frees them all while calls go on;
//   overwrite – `size` sessions overwritten again and again with deadlines in ever later seconds,
//               leaving stale deadline records for the sweeper to compact.
// Each call is timed on its own (performance.now() around one synchronous call); the table reports
// the longest of each kind and how many calls took 5 ms or more. Only this project's store has a
// background sweeper, so only it is measured.

const { PerformanceObserver } = require('node:perf_hooks')
const { NativeSessionCacheStrategy } = require('..')
const pop = require('./population.js')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const SLOW_MS = 5

/**
 * Serves get/set/delete on `tokens` for `ms`, timing each call; yields to the loop every 64 calls.
 * A call that a V8 garbage collection overlapped is counted apart: that pause is the JS heap's, not
 * the store's.
 */
async function serve(strategy, tokens, ms, session) {
  global.gc?.()
  const gcs = []
  const observer = new PerformanceObserver((list) => gcs.push(...list.getEntries().map((e) => [e.startTime, e.startTime + e.duration])))
  observer.observe({ entryTypes: ['gc'] })
  const longest = { get: 0, set: 0, delete: 0 }
  const timed = []
  let slow = 0
  let calls = 0
  const end = performance.now() + ms
  let i = 0
  while (performance.now() < end) {
    for (let k = 0; k < 64; k++, i++) {
      const token = tokens[i % tokens.length]
      const op = i % 3 === 0 ? 'set' : i % 3 === 1 ? 'get' : 'delete'
      const t0 = performance.now()
      if (op === 'set') strategy.set(session(token))
      else if (op === 'get') strategy.get(pop.freshCopy(token))
      else strategy.delete(token)
      const took = performance.now() - t0
      if (took >= 1) timed.push([op, t0, took])
      else if (took > longest[op]) longest[op] = took
      calls++
    }
    await new Promise((resolve) => setImmediate(resolve))
  }
  // GC entries arrive asynchronously: let them come before sorting the slow calls out.
  await sleep(50)
  observer.disconnect()
  let slowInGc = 0
  for (const [op, t0, took] of timed) {
    const inGc = gcs.some(([start, end]) => start < t0 + took && end > t0)
    if (inGc) {
      if (took >= SLOW_MS) slowInGc++
      continue
    }
    if (took > longest[op]) longest[op] = took
    if (took >= SLOW_MS) slow++
  }
  return { longest, slow, slowInGc, calls }
}

function fillWith(strategy, tokens, session) {
  for (const token of tokens) strategy.set(session(token))
}

async function scenario(kind, size, serveTokens) {
  const strategy = new NativeSessionCacheStrategy({ name: `bench-housekeeping-${kind}-${process.pid}`, maxEntries: size + 100_000, maxBytes: 2 ** 40 })
  try {
    let tokens = pop.newTokens(size)
    const farSession = (token) => pop.customer(token)
    if (kind === 'expiry') {
      // Every session expires in the same second, chosen to come just after the fill ends (its
      // length estimated from the first 1%); calls go on across it.
      const started = Date.now()
      const sample = tokens.slice(0, Math.ceil(size / 100))
      fillWith(strategy, sample, farSession)
      const fillMs = (Date.now() - started) * 100 * 1.5
      const second = Math.floor((Date.now() + fillMs) / 1000) + 3
      const expiring = (token) => ({ ...pop.customer(token), cacheExpiry: second + 0.5 })
      fillWith(strategy, tokens, expiring)
      tokens = null // the store holds them now; a million strings on the JS heap would slow every GC
      const wait = (second + 1) * 1000 - Date.now() - 1500
      if (wait > 0) await sleep(wait)
      return { ...(await serve(strategy, serveTokens, 3000, farSession)), freed: strategy.stats().expirations }
    }
    fillWith(strategy, tokens, farSession)
    if (kind === 'clear') {
      tokens = null
      strategy.clear()
      return { ...(await serve(strategy, serveTokens, 2000, farSession)), freed: strategy.stats().reclaimed }
    }
    // overwrite: each round moves every session's deadline one second later.
    const base = Math.floor(Date.now() / 1000) + 3600
    for (let round = 1; round <= 3; round++) {
      fillWith(strategy, tokens, (token) => ({ ...pop.customer(token), cacheExpiry: base + round }))
    }
    tokens = null
    return { ...(await serve(strategy, serveTokens, 2000, farSession)), freed: 0 }
  } finally {
    strategy.destroy()
  }
}

/**
 * Resolves to rows `{ kind, size, freed, calls, longestGetMs, longestSetMs, longestDeleteMs, slow, slowInGc }`:
 * the longest of each call kind and the count of calls of 5 ms or more, both outside V8 garbage
 * collections; `slowInGc`, those a collection overlapped.
 */
async function runHousekeeping({ profile, progress }) {
  const rows = []
  const serveTokens = pop.newTokens(10_000)
  for (const kind of profile.housekeepingKinds ?? ['expiry', 'clear', 'overwrite']) {
    for (const size of profile.housekeepingSizes) {
      progress(`housekeeping: ${kind}, ${size.toLocaleString('en-US')} sessions`)
      const r = await scenario(kind, size, serveTokens)
      global.gc?.()
      rows.push({ kind, size, freed: r.freed, calls: r.calls, longestGetMs: r.longest.get, longestSetMs: r.longest.set, longestDeleteMs: r.longest.delete, slow: r.slow, slowInGc: r.slowInGc })
    }
  }
  return rows
}

module.exports = { runHousekeeping, SLOW_MS }

if (require.main === module) {
  const sizes = (process.argv.find((a) => a.startsWith('--sizes='))?.slice(8) ?? '1000000').split(',').map(Number)
  const kinds = process.argv.find((a) => a.startsWith('--kinds='))?.slice(8).split(',')
  runHousekeeping({ profile: { housekeepingSizes: sizes, housekeepingKinds: kinds }, progress: (m) => console.error(m) }).then((rows) => console.table(rows))
}
