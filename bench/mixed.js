'use strict'

// Get hits while sessions are being overwritten, as a server sees them: Vendure sets a session again
// when its cacheExpiry passes, an order or channel changes, or a customer logs in. Only the gets are
// timed: each timed stretch is the gets between two sets; the sets (awaited for async strategies) run
// between stretches, untimed. Workloads:
//   - 10,000 sessions (9,000 customers + 1,000 superadmins) read uniformly, one overwriting set per
//     three gets;
//   - 100,000 sessions (90,000 customers + 10,000 superadmins) read with a Zipf(1.0) skew (a few sessions
//     are very hot, as on a real shop), 1 overwriting set per 99 gets.
// Gets and sets pick among the customers, or among the superadmins; a set overwrites a session of the
// same kind with a new object, as Vendure's reload does. Every strategy sees the same seeded sequence.

const { fill } = require('./fill.js')
const pop = require('./population.js')

const WORKLOADS = [
  { id: 'uniform-10k-sets', label: '10,000 sessions, uniform, 1 set per 3 gets', customers: 9_000, superadmins: 1_000, getsPerSet: 3, zipf: false },
  { id: 'zipf-100k-sets', label: '100,000 sessions, Zipf(1.0), 1 set per 99 gets', customers: 90_000, superadmins: 10_000, getsPerSet: 99, zipf: true },
]
const CAPACITY = 100_000

/** Draws indices in [0, n) with P(rank k) ∝ 1/(k+1); rank k is a fixed random index (hot ≠ first set). */
function zipfSampler(n, rand) {
  const cdf = new Float64Array(n)
  let sum = 0
  for (let k = 0; k < n; k++) cdf[k] = sum += 1 / (k + 1)
  const order = Uint32Array.from({ length: n }, (_, i) => i)
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1))
    ;[order[i], order[j]] = [order[j], order[i]]
  }
  return () => {
    const target = rand() * sum
    let lo = 0
    let hi = n - 1
    while (lo < hi) {
      const mid = (lo + hi) >>> 1
      if (cdf[mid] < target) lo = mid + 1
      else hi = mid
    }
    return order[lo]
  }
}

// Compiled per strategy, so that each loop's call sites only ever see one strategy (see measure.js).
function compileStretches(isAsync) {
  const get = `${isAsync ? 'await ' : ''}s.get(gets[i])`
  const set = `${isAsync ? 'await ' : ''}s.set(sets[k])`
  const source = `
    let answered = 0
    let i = 0
    let stretch = 0
    for (let k = 0; i < gets.length; k++) {
      const end = Math.min(gets.length, i + perSet)
      const t0 = process.hrtime.bigint()
      for (; i < end; i++) if ((${get}) !== undefined) answered++
      const t1 = process.hrtime.bigint()
      out.ns[stretch++] = Number(t1 - t0)
      if (k < sets.length) ${set}
    }
    out.stretches = stretch
    out.answered = answered
  `
  const AsyncFunction = (async () => {}).constructor
  return isAsync ? new AsyncFunction('s', 'gets', 'sets', 'perSet', 'out', source) : new Function('s', 'gets', 'sets', 'perSet', 'out', source)
}

/** Inputs of one batch: fresh copies of the tokens to get, new session objects to set. */
function batchInputs(tokens, make, pick, getsPerBatch, getsPerSet) {
  const gets = new Array(getsPerBatch)
  for (let i = 0; i < getsPerBatch; i++) gets[i] = pop.freshCopy(tokens[pick()])
  const sets = new Array(Math.ceil(getsPerBatch / getsPerSet))
  for (let k = 0; k < sets.length; k++) sets[k] = make(tokens[pick()])
  return { gets, sets }
}

/**
 * Resolves to rows `{ workload, kind, results: { [strategyId]: { medianNs, answeredRatio } } }`: the
 * median over batches of (timed ns − timer overhead per stretch) ÷ gets.
 */
async function runMixed({ strategies, profile, timerNs, progress }) {
  const rows = []
  const local = strategies.filter((s) => !s.remote)
  for (const workload of WORKLOADS) {
    const population = { customer: pop.newTokens(workload.customers), superadmin: pop.newTokens(workload.superadmins) }
    for (const kind of ['customer', 'superadmin']) {
      const tokens = population[kind]
      const make = kind === 'customer' ? pop.customer : pop.superadmin
      // Which sessions are hot is the same for every strategy; each strategy replays the same draws.
      const perStrategy = []
      for (const entry of local) {
        progress(`mixed: ${workload.label}, ${kind}s: loading ${entry.label}`)
        const instance = await entry.create({ capacity: CAPACITY })
        await fill(instance.strategy, entry.async, workload.customers, (i) => pop.customer(population.customer[i]))
        await fill(instance.strategy, entry.async, workload.superadmins, (i) => pop.superadmin(population.superadmin[i]))
        const rand = pop.random(4242)
        const pick = workload.zipf ? zipfSampler(tokens.length, rand) : () => Math.floor(rand() * tokens.length)
        perStrategy.push({ entry, instance, pick, run: compileStretches(entry.async), samples: [], gets: 0, answered: 0 })
      }
      const getsPerBatch = Math.max(workload.getsPerSet * 30, 3_000)
      const out = { ns: new Float64Array(getsPerBatch), stretches: 0, answered: 0 }
      const batchesPerRound = Math.max(3, Math.round((profile.measureMs * 1e6) / (getsPerBatch * 1_000) / profile.rounds))
      for (let round = -1; round < profile.rounds; round++) {
        for (const m of perStrategy) {
          progress(`mixed: ${workload.label}, ${kind}s: ${m.entry.label}, ${round < 0 ? 'warming up' : `round ${round + 1}/${profile.rounds}`}`)
          global.gc?.()
          for (let b = 0; b < batchesPerRound; b++) {
            const { gets, sets } = batchInputs(tokens, make, m.pick, getsPerBatch, workload.getsPerSet)
            await m.run(m.instance.strategy, gets, sets, workload.getsPerSet, out)
            if (round < 0) continue // the warm-up round is not counted
            let ns = 0
            for (let s = 0; s < out.stretches; s++) ns += Math.max(0, out.ns[s] - timerNs)
            m.samples.push(ns / gets.length)
            m.gets += gets.length
            m.answered += out.answered
          }
        }
      }
      const results = {}
      for (const m of perStrategy) {
        const sorted = Float64Array.from(m.samples).sort()
        results[m.entry.id] = { medianNs: sorted[sorted.length >> 1], answeredRatio: m.answered / m.gets, batches: sorted.length }
        await m.instance.destroy()
      }
      rows.push({ workload: workload.id, label: workload.label, kind, results })
    }
  }
  return rows
}

module.exports = { runMixed, zipfSampler, WORKLOADS }
