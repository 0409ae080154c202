'use strict'

// Many cached customer sessions: get-hit latency (in this process, like every other latency), and what
// holding them costs (measured in a fresh process per strategy and size, see memory.js). Strategies whose
// sessions live in another process (Redis) are left out.

const { fill } = require('./fill.js')
const { measure } = require('./measure.js')
const { measureMemory } = require('./memory.js')
const pop = require('./population.js')

// One strategy at one size; its sessions are unreachable once this returns (a suspended async frame
// would otherwise keep them alive while the next strategy is measured).
async function getHitAt(entry, size, tokens, { profile, timerNs }) {
  const instance = await entry.create({ capacity: size })
  await fill(instance.strategy, entry.async, size, (i) => pop.customer(tokens[i]))
  const held = await instance.size()
  // A bounded cache keeps the last `held` sessions loaded: look those up.
  const rand = pop.random(7)
  const getHit = await measure({
    target: instance.strategy,
    method: 'get',
    isAsync: entry.async,
    prepare: (n) => pop.pickFresh(tokens, n, rand, size - held, size),
    profile,
    timerNs,
  })
  await instance.destroy()
  return { held, getHit }
}

/** Resolves to rows `{ size, strategy, held, tagged, getHit, rssBytes, heapBytes, bytesPerSession }`. */
async function runScale({ strategies, profile, timerNs, progress }) {
  const rows = []
  for (const size of profile.scaleSizes) {
    const tokens = pop.newTokens(size)
    for (const entry of strategies.filter((s) => !s.remote)) {
      progress(`scale: ${entry.label}, ${size.toLocaleString('en-US')} sessions`)
      const { held, getHit } = await getHitAt(entry, size, tokens, { profile, timerNs })
      progress(`scale: ${entry.label}, ${size.toLocaleString('en-US')} sessions, memory (child process)`)
      const memory = measureMemory(entry.id, size)
      rows.push({ size, strategy: entry.id, held, getHit, ...memory })
    }
  }
  return rows
}

module.exports = { runScale }
