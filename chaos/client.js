'use strict'

// One process of the checker: a NativeSessionCacheStrategy on the shared Redis (through this
// process's fault proxy), running several concurrent loops of random get/set/delete/clear on a few
// shared tokens, and recording every operation with its start and end (ms on a clock all processes
// share: performance.timeOrigin + performance.now()). Forked by chaos/run.js, driven over IPC.

const { performance } = require('node:perf_hooks')
const { NativeSessionCacheStrategy } = require('..')

const now = () => performance.timeOrigin + performance.now()
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The PRNG the benchmarks use (mulberry32): a seed replays a run's choices. */
const { random } = require('../bench/population')

let cache
let history = []
let seq = 0
let stopped = false

function session(token, value) {
  return {
    token,
    id: 7,
    cacheExpiry: Date.now() / 1000 + 300,
    expires: new Date(Date.now() + 86_400_000),
    activeOrderId: value,
    activeChannelId: 1,
    authenticationStrategy: 'native',
    user: { id: 1, identifier: 'chaos@example.com', verified: true, channelPermissions: [] },
  }
}

async function record(op, token, value, call) {
  const entry = { p: process.env.CHAOS_PROCESS, op, token, value, start: now(), end: 0, threw: null }
  try {
    const result = await call()
    if (op === 'get') entry.value = result === undefined ? null : result.activeOrderId
  } catch (error) {
    entry.threw = String(error?.message ?? error)
  }
  entry.end = now()
  history.push(entry)
}

async function loop(id, { tokens, until, mix, seed, pauseMs }) {
  const rand = random(seed + id * 7919)
  const p = process.env.CHAOS_PROCESS
  while (Date.now() < until && !stopped) {
    const token = tokens[Math.floor(rand() * tokens.length)]
    const roll = rand()
    if (roll < mix.get) await record('get', token, null, () => cache.get(token))
    else if (roll < mix.get + mix.set) {
      const value = `${p}-${++seq}`
      await record('set', token, value, () => cache.set(session(token, value)))
    } else if (roll < mix.get + mix.set + mix.delete) await record('delete', token, null, () => cache.delete(token))
    else await record('clear', null, null, () => cache.clear())
    if (pauseMs > 0) await sleep(rand() * pauseMs)
  }
}

const handlers = {
  async init({ options }) {
    cache = new NativeSessionCacheStrategy(options)
    await cache.init()
    return true
  },
  async run({ durationMs, loops, ...rest }) {
    const until = Date.now() + durationMs
    await Promise.all(Array.from({ length: loops }, (_, id) => loop(id, { ...rest, until })))
    return history.length
  },
  /** Ends the loops early (the process is about to be replaced). */
  stop() {
    stopped = true
    return true
  },
  /** Hands over what was recorded so far (in batches: IPC messages must stay small). */
  take({ max }) {
    const batch = history.slice(0, max)
    history = history.slice(max)
    return batch
  },
  stats() {
    return cache.stats()
  },
  destroy() {
    cache.destroy()
    return true
  },
}

process.on('message', async ({ id, op, args }) => {
  try {
    process.send({ id, result: await handlers[op](args ?? {}) })
  } catch (error) {
    process.send({ id, error: String(error?.stack ?? error) })
  }
})
