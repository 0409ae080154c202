'use strict'

// Loading a strategy with sessions, untimed: one by one when it is synchronous, 256 calls in flight
// when it returns Promises (a Redis round-trip per set would otherwise dominate the run).

const IN_FLIGHT = 256

/** Calls `strategy.set(makeSession(i))` for i in [0, count). */
async function fill(strategy, isAsync, count, makeSession) {
  if (!isAsync) {
    for (let i = 0; i < count; i++) strategy.set(makeSession(i))
    return
  }
  for (let start = 0; start < count; start += IN_FLIGHT) {
    const pending = []
    for (let i = start; i < Math.min(count, start + IN_FLIGHT); i++) pending.push(strategy.set(makeSession(i)))
    await Promise.all(pending)
  }
}

module.exports = { fill }
