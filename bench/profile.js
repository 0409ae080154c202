'use strict'

// How much work each section does: `--quick` (under 2 minutes on 2 shared cores, no 1M) or the full run.

const QUICK = Object.freeze({
  name: 'quick',
  warmupMs: 40, // per strategy and operation, also used to size batches
  measureMs: 120, // timed time per strategy and operation, over all rounds
  rounds: 3, // operations: strategies take turns this many times
  batchTargetUs: 200, // each timed batch lasts about this long
  minBatches: 15,
  maxBatches: 201,
  p99Ms: 50, // individually timed calls per strategy and operation, for the p99
  maxP99Calls: 20_000,
  clearSizes: [10_000],
  clearReps: { 10_000: 3 },
  stallWindowMs: 200,
  scaleSizes: [10_000, 100_000],
  threadEntries: [10_000, 100_000],
  threadSeconds: 0.7,
  threadReps: 3, // 1 and 2 workers alternate this many times; medians are reported
  housekeepingSizes: [100_000], // sessions the sweeper expires / reclaims / compacts while calls are timed
})

const FULL = Object.freeze({
  ...QUICK,
  name: 'full',
  warmupMs: 150,
  measureMs: 600,
  rounds: 5,
  maxBatches: 501,
  p99Ms: 200,
  maxP99Calls: 100_000,
  clearSizes: [10_000, 1_000_000],
  clearReps: { 10_000: 5, 1_000_000: 1 },
  scaleSizes: [10_000, 100_000, 1_000_000],
  threadSeconds: 2,
  housekeepingSizes: [1_000_000],
})

/** The profile the command line asks for. */
function profileFromArgs(argv) {
  return argv.includes('--quick') ? QUICK : FULL
}

module.exports = { profileFromArgs }
