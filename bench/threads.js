'use strict'

// Throughput of this project's `get` from 1 and then 2 worker_threads sharing one store (same name),
// which the main thread loaded with customer sessions. Each worker sums the gets it did and the time
// spent in them; the workers run over the same wall-clock window, released together by Atomics. A
// control runs the same with a plain Map per worker (nothing shared): how well 2 workers can scale on
// this machine at this moment (2 shared cores rarely give 2x).

const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { fill } = require('./fill.js')
const pop = require('./population.js')

const WORKER = path.join(__dirname, 'thread-worker.js')
const ROUND = 20_000 // gets per round; fresh token copies for a round are made between rounds

async function throughput({ kind, options, tokens, workers, seconds }) {
  const signals = new SharedArrayBuffer(8)
  const flags = new Int32Array(signals)
  const started = []
  const reports = []
  for (let w = 0; w < workers; w++) {
    const worker = new Worker(WORKER, { workerData: { kind, options, tokens, signals, seed: 100 + w, round: ROUND } })
    let ready
    started.push(new Promise((resolve) => (ready = resolve)))
    reports.push(
      new Promise((resolve, reject) => {
        worker.on('message', (message) => (message.ready ? ready() : resolve(message)))
        worker.on('error', reject)
        worker.on('exit', (code) => code === 0 || reject(new Error(`bench worker exited with ${code}`)))
      }),
    )
  }
  await Promise.all(started)
  Atomics.store(flags, 0, 1)
  Atomics.notify(flags, 0)
  await new Promise((resolve) => setTimeout(resolve, seconds * 1000))
  Atomics.store(flags, 1, 1)
  const done = await Promise.all(reports)
  const gets = done.reduce((sum, r) => sum + r.gets, 0)
  const hits = done.reduce((sum, r) => sum + r.hits, 0)
  return { getsPerSecond: done.reduce((sum, r) => sum + (r.gets / r.ns) * 1e9, 0), gets, hitRatio: hits / gets }
}

const median = (values) => [...values].sort((a, b) => a - b)[Math.floor(values.length / 2)]

/**
 * Resolves to rows `{ entries, one, two, ratio, control }`: runs with 1 and 2 workers alternate
 * `threadReps` times (a shared machine's load drifts), each figure the median gets per second summed over
 * the workers; `control` is the same for a plain Map per worker.
 */
async function runThreads({ strategies, profile, progress }) {
  const native = strategies.find((s) => s.id === 'native')
  const rows = []
  for (const entries of profile.threadEntries) {
    const tokens = pop.newTokens(entries)
    const instance = await native.create({ capacity: entries })
    await fill(instance.strategy, false, entries, (i) => pop.customer(tokens[i]))
    const { options } = instance // same name and bounds: the same store
    const runs = { native: { 1: [], 2: [] }, map: { 1: [], 2: [] } }
    for (let rep = 0; rep < profile.threadReps; rep++) {
      for (const kind of ['native', 'map']) {
        for (const workers of [1, 2]) {
          const sessions = entries.toLocaleString('en-US')
          progress(`threads: ${kind}, ${workers} worker(s), ${sessions} sessions, ${rep + 1}/${profile.threadReps}`)
          runs[kind][workers].push(await throughput({ kind, options, tokens, workers, seconds: profile.threadSeconds }))
        }
      }
    }
    await instance.destroy()
    const summary = (list) => ({
      getsPerSecond: median(list.map((r) => r.getsPerSecond)),
      runs: list.map((r) => r.getsPerSecond),
      hitRatio: Math.min(...list.map((r) => r.hitRatio)),
    })
    const one = summary(runs.native[1])
    const two = summary(runs.native[2])
    const control = { one: summary(runs.map[1]), two: summary(runs.map[2]) }
    control.ratio = control.two.getsPerSecond / control.one.getsPerSecond
    rows.push({ entries, one, two, ratio: two.getsPerSecond / one.getsPerSecond, control })
  }
  return rows
}

module.exports = { runThreads }
