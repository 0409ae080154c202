'use strict'

// One worker_thread of the throughput test. `kind: 'native'` opens this project's shared store by name;
// `kind: 'map'` (the control) fills a plain Map of its own, which shares nothing, so its scaling is the
// machine's. Then it waits for the start signal and, until the stop signal, runs rounds of `get` hits,
// each over fresh token copies made (untimed) before the round, and reports the gets done and the time
// spent in them.

const { parentPort, workerData } = require('node:worker_threads')
const pop = require('./population.js')

const { kind, options, tokens, signals, seed, round } = workerData
const START = 0
const STOP = 1
const flags = new Int32Array(signals)

function open() {
  if (kind === 'native') {
    const { NativeSessionCacheStrategy } = require('..')
    return new NativeSessionCacheStrategy(options)
  }
  const map = new Map(tokens.map((token) => [token, pop.customer(token)]))
  return { get: (token) => map.get(token), destroy() {} }
}

const strategy = open()
const rand = pop.random(seed)
parentPort.postMessage({ ready: true })
Atomics.wait(flags, START, 0)

let gets = 0
let hits = 0
let ns = 0
while (Atomics.load(flags, STOP) === 0) {
  const inputs = pop.pickFresh(tokens, round, rand)
  const t0 = process.hrtime.bigint()
  for (let i = 0; i < inputs.length; i++) if (strategy.get(inputs[i]) !== undefined) hits++
  ns += Number(process.hrtime.bigint() - t0)
  gets += inputs.length
}
strategy.destroy()
parentPort.postMessage({ gets, hits, ns })
