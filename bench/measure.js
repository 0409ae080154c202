'use strict'

// Timing of one operation on one strategy: warm up (which also sizes the batches), then many batches
// timed with process.hrtime.bigint() whose median (and mean) per call is reported, and individually
// timed calls for the p99. Inputs are made before each timed stretch, never inside it.

const AsyncFunction = (async () => {}).constructor

// Each measurement compiles its own loops, so their call sites only ever see one strategy: a loop shared
// by all strategies turns megamorphic and penalizes whichever strategy runs after the first.
function compile(method, isAsync, body) {
  const call = `${isAsync ? 'await ' : ''}s.${method}(inputs[i])`
  const source = body.replaceAll('CALL', call)
  return isAsync ? new AsyncFunction('s', 'inputs', 'out', source) : new Function('s', 'inputs', 'out', source)
}

// `out.answered` counts the calls that returned something other than undefined (hits, for `get`).
const BATCH = `
  let answered = 0
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < inputs.length; i++) {
    if ((CALL) !== undefined) answered++
  }
  const t1 = process.hrtime.bigint()
  out.ns = Number(t1 - t0)
  out.answered = answered
`
const EACH = `
  let answered = 0
  for (let i = 0; i < inputs.length; i++) {
    const t0 = process.hrtime.bigint()
    const r = CALL
    const t1 = process.hrtime.bigint()
    out.samples[out.next++] = Number(t1 - t0)
    if (r !== undefined) answered++
  }
  out.answered = answered
`

const clamp = (x, lo, hi) => Math.min(hi, Math.max(lo, x))

/** The value below which a fraction `q` of the sorted `values` lie. */
function quantile(sorted, q) {
  if (sorted.length === 0) return NaN
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}
const sortedCopy = (values) => Float64Array.from(values).sort()

/** The median cost of one back-to-back pair of process.hrtime.bigint() calls, in ns. */
function timerOverheadNs() {
  const samples = new Float64Array(200_000)
  for (let i = 0; i < samples.length; i++) {
    const t0 = process.hrtime.bigint()
    const t1 = process.hrtime.bigint()
    samples[i] = Number(t1 - t0)
  }
  return quantile(samples.sort(), 0.5)
}

/**
 * A measurement of `target[method](input)` that can be run in several rounds, so that the strategies
 * compared can take turns and a shared machine's passing load falls on all of them alike.
 * - `prepare(n)` makes the inputs of n calls (may be async); `cleanup(inputs)`, if given, runs after each
 *   stretch; neither is timed.
 * - `isAsync`: the method returns a Promise, awaited call by call.
 * `warmUp()` first (it also sizes the batches), then `round(share)` any number of times (each runs `share`
 * of the batches and of the individually timed calls), then `result()`:
 * `{ medianNs, meanNs, p99Ns, answeredRatio, batches, batchSize, calls }`.
 */
function measurement({ target, method, isAsync, prepare, cleanup, profile, timerNs }) {
  const batch = compile(method, isAsync, BATCH)
  const each = compile(method, isAsync, EACH)
  const out = { ns: 0, answered: 0, samples: null, next: 0 }
  const perCall = []
  let totalNs = 0
  let answered = 0
  let batchSize = 0
  let batches = 0
  let calls = 0

  async function stretch(fn, n) {
    const inputs = await prepare(n)
    await fn(target, inputs, out)
    if (cleanup) await cleanup(inputs)
  }

  return {
    async warmUp() {
      // Double the stretch until a call's cost is known; it sizes the batches.
      let n = 16
      let estimateNs = 0
      const warmEnd = performance.now() + profile.warmupMs
      for (let round = 0; round < 4 || performance.now() < warmEnd; round++) {
        await stretch(batch, n)
        estimateNs = Math.max(out.ns / n, 1)
        if (out.ns < 2e6) n = Math.min(n * 2, 50_000)
      }
      batchSize = clamp(Math.round((profile.batchTargetUs * 1e3) / estimateNs), 1, 50_000)
      const wanted = Math.round((profile.measureMs * 1e6) / (batchSize * estimateNs))
      batches = clamp(wanted, profile.minBatches, profile.maxBatches)
      calls = clamp(Math.round((profile.p99Ms * 1e6) / estimateNs), 1000, profile.maxP99Calls)
      out.samples = new Float64Array(calls)
      await stretch(each, Math.min(calls, batchSize * 2)) // warms the per-call loop; discarded
      out.next = 0
    },

    async round(share) {
      global.gc?.()
      const roundBatches = Math.ceil(batches * share)
      for (let b = 0; b < roundBatches; b++) {
        await stretch(batch, batchSize)
        perCall.push(out.ns / batchSize)
        totalNs += out.ns
        answered += out.answered
      }
      const until = Math.min(calls, out.next + Math.ceil(calls * share))
      while (out.next < until) await stretch(each, Math.min(batchSize, until - out.next))
    },

    result() {
      const samples = out.samples.subarray(0, out.next).map((ns) => Math.max(0, ns - timerNs))
      const timedCalls = perCall.length * batchSize
      return {
        medianNs: quantile(sortedCopy(perCall), 0.5),
        meanNs: totalNs / timedCalls,
        p99Ns: quantile(samples.sort(), 0.99),
        answeredRatio: answered / timedCalls,
        batches: perCall.length,
        batchSize,
        calls: out.next,
      }
    },
  }
}

/** A measurement in one go (see `measurement`); resolves to its result. */
async function measure(spec) {
  const m = measurement(spec)
  await m.warmUp()
  await m.round(1)
  return m.result()
}

module.exports = { measurement, measure, timerOverheadNs, quantile }
