'use strict'

// clear() with many entries: Vendure calls it on every Role or Channel change, inside a 50 ms timeout.
// Measured: the time until clear() returns (or its Promise resolves) on the caller, and the longest
// event-loop stall over the following window, while the loop keeps serving what Vendure does after a
// clear (a get that misses, then a set), so deferred work (GC of the dropped sessions, a background
// sweep contending for locks) shows up if it blocks the thread.

const { monitorEventLoopDelay } = require('node:perf_hooks')
const { fill } = require('./fill.js')
const { quantile } = require('./measure.js')
const pop = require('./population.js')

const nextTurn = () => new Promise((resolve) => setImmediate(resolve))

/** Serves get-miss + set pairs for `ms`; resolves to the longest event-loop delay seen (ms) and the pairs served. */
async function longestStallWhileServing(strategy, ms) {
  const histogram = monitorEventLoopDelay({ resolution: 1 })
  histogram.enable()
  const end = performance.now() + ms
  let served = 0
  while (performance.now() < end) {
    const token = pop.newTokens(1)[0]
    await strategy.get(pop.freshCopy(token)) // awaited as Vendure awaits it, whether or not a Promise
    await strategy.set(pop.customer(token))
    served++
    await nextTurn()
  }
  histogram.disable()
  return { stallMs: histogram.max / 1e6, served }
}

// Loads a new instance with `size` sessions and clears it; nothing of it is reachable once this returns.
async function clearOnce(entry, size, tokens, profile) {
  const instance = await entry.create({ capacity: size })
  await fill(instance.strategy, entry.async, size, (i) => pop.customer(tokens[i]))
  const held = await instance.size()
  const tagged = await instance.tagged?.()
  global.gc?.()
  const t0 = process.hrtime.bigint()
  const result = instance.strategy.clear()
  if (entry.async) await result
  const t1 = process.hrtime.bigint()
  const { stallMs, served } = await longestStallWhileServing(instance.strategy, profile.stallWindowMs)
  await instance.destroy()
  return { held, tagged, callerMs: Number(t1 - t0) / 1e6, stallMs, served }
}

/** Resolves to rows `{ size, strategy, held, tagged, callerMs, callerMaxMs, stallMs, servedInWindow, reps }`. */
async function runClear({ strategies, profile, progress }) {
  const rows = []
  for (const size of profile.clearSizes) {
    const tokens = pop.newTokens(size)
    for (const entry of strategies) {
      const reps = profile.clearReps[size]
      const runs = []
      for (let rep = 0; rep < reps; rep++) {
        progress(`clear: ${entry.label}, ${size.toLocaleString('en-US')} sessions, ${rep + 1}/${reps}`)
        runs.push(await clearOnce(entry, size, tokens, profile))
      }
      const callerMs = runs.map((r) => r.callerMs)
      rows.push({
        size,
        strategy: entry.id,
        held: runs[0].held,
        tagged: runs[0].tagged,
        callerMs: quantile(Float64Array.from(callerMs).sort(), 0.5),
        callerMaxMs: Math.max(...callerMs),
        stallMs: Math.max(...runs.map((r) => r.stallMs)),
        servedInWindow: runs.map((r) => r.served),
        reps,
      })
    }
  }
  return rows
}

module.exports = { runClear }
