'use strict'

// Single-call latency of every operation, on every strategy holding the same 10,000 sessions (Vendure's
// default cache holds at most 10,000): 9,000 customers and 1,000 superadmins. Lookups pick uniformly at
// random among them, by the same seeded sequence for every strategy.

const { fill } = require('./fill.js')
const { measurement } = require('./measure.js')
const pop = require('./population.js')

const CUSTOMERS = 9_000
const SUPERADMINS = 1_000
const CAPACITY = 100_000 // what a bounded strategy is sized for (this project's default maxEntries)

/** The operations in table order. Each makes its inputs per stretch; `expect` is what `get` must find. */
function operations({ customers, superadmins, missTokens }) {
  const lookups = (tokens) => ({ rand }) => (n) => pop.pickFresh(tokens, n, rand)
  const setEach = async (strategy, isAsync, sessions) => {
    for (const session of sessions) isAsync ? await strategy.set(session) : strategy.set(session)
  }
  const deleteEach = async (strategy, isAsync, tokens) => {
    for (const token of tokens) isAsync ? await strategy.delete(token) : strategy.delete(token)
  }
  return [
    { id: 'get-hit-customer', label: 'get hit (customer)', method: 'get', expect: 'hit', prepare: lookups(customers) },
    { id: 'get-hit-superadmin', label: 'get hit (superadmin)', method: 'get', expect: 'hit', prepare: lookups(superadmins) },
    { id: 'get-miss', label: 'get miss', method: 'get', expect: 'miss', prepare: lookups(missTokens) },
    {
      id: 'set-overwrite',
      label: 'set (overwrite, customer)',
      method: 'set',
      // A new object for a cached token, as Vendure's reload after cacheExpiry makes.
      prepare: ({ rand }) => (n) => pop.pickFresh(customers, n, rand).map((token) => pop.customer(token)),
    },
    {
      id: 'set-overwrite-superadmin',
      label: 'set (overwrite, superadmin)',
      method: 'set',
      prepare: ({ rand }) => (n) => pop.pickFresh(superadmins, n, rand).map((token) => pop.superadmin(token)),
    },
    {
      id: 'set-new',
      label: 'set (new key, customer)',
      method: 'set',
      prepare: () => (n) => pop.newTokens(n).map((token) => pop.customer(token)),
      // Removed again after each stretch, so the cache keeps its size.
      cleanup: ({ strategy, isAsync }) => (sessions) =>
        deleteEach(strategy, isAsync, sessions.map((session) => pop.freshCopy(session.token))),
    },
    {
      id: 'delete',
      label: 'delete (cached key)',
      method: 'delete',
      // Each stretch first caches n new sessions (untimed), then deletes them by fresh token copies.
      prepare: ({ strategy, isAsync }) => async (n) => {
        const tokens = pop.newTokens(n)
        await setEach(strategy, isAsync, tokens.map((token) => pop.customer(token)))
        return tokens.map(pop.freshCopy)
      },
    },
  ]
}

/** A new instance of `entry` holding the population; warns if it does not hold all of it. */
async function loaded(entry, population, warnings) {
  const instance = await entry.create({ capacity: CAPACITY })
  await fill(instance.strategy, entry.async, CUSTOMERS, (i) => pop.customer(population.customers[i]))
  await fill(instance.strategy, entry.async, SUPERADMINS, (i) => pop.superadmin(population.superadmins[i]))
  const held = await instance.size()
  if (held !== CUSTOMERS + SUPERADMINS) warnings.push(`${entry.label} holds ${held} of ${CUSTOMERS + SUPERADMINS} sessions`)
  return instance
}

/**
 * Resolves to `{ population, operations: [{ id, label, results: { [strategyId]: figures } }], warnings }`.
 * Every strategy holds its sessions at once; for each operation they take turns, `profile.rounds` times,
 * so that a passing load on the shared machine does not land on one strategy only.
 */
async function runOperations({ strategies, profile, timerNs, progress }) {
  const population = {
    customers: pop.newTokens(CUSTOMERS),
    superadmins: pop.newTokens(SUPERADMINS),
    missTokens: pop.newTokens(10_000),
  }
  const warnings = []
  const instances = []
  for (const entry of strategies) instances.push(await loaded(entry, population, warnings))

  const results = []
  for (const [index, op] of operations(population).entries()) {
    const measurements = strategies.map((entry, s) => {
      const context = { strategy: instances[s].strategy, isAsync: entry.async, rand: pop.random(1000 + index) }
      return measurement({
        target: context.strategy,
        method: op.method,
        isAsync: entry.async,
        prepare: op.prepare(context),
        cleanup: op.cleanup?.(context),
        profile,
        timerNs,
      })
    })
    for (const [s, m] of measurements.entries()) {
      progress(`operations: ${op.label}: warming up ${strategies[s].label}`)
      await m.warmUp()
    }
    for (let round = 0; round < profile.rounds; round++) {
      for (const [s, m] of measurements.entries()) {
        progress(`operations: ${op.label}: ${strategies[s].label}, round ${round + 1}/${profile.rounds}`)
        await m.round(1 / profile.rounds)
      }
    }
    const figures = Object.fromEntries(measurements.map((m, s) => [strategies[s].id, m.result()]))
    const expected = op.expect === 'hit' ? 1 : op.expect === 'miss' ? 0 : undefined
    for (const entry of strategies) {
      const found = figures[entry.id].answeredRatio
      if (expected !== undefined && found !== expected) {
        const percent = (ratio) => `${(ratio * 100).toFixed(1)} %`
        warnings.push(`${entry.label}: ${op.label} found ${percent(found)} of the tokens (expected ${percent(expected)})`)
      }
    }
    results.push({ id: op.id, label: op.label, results: figures })
  }
  for (const instance of instances) await instance.destroy()
  const sizes = { customers: CUSTOMERS, superadmins: SUPERADMINS, capacity: CAPACITY }
  return { population: sizes, operations: results, warnings }
}

module.exports = { runOperations }
