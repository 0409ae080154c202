'use strict'

// One "Vendure instance" for the Redis tests: a process of its own (forked with IPC) holding a
// NativeSessionCacheStrategy on the shared Redis. The parent sends { id, op, args }; the answer is
// { id, result } or { id, error }. Sessions travel with `expires` as epoch ms.

const { NativeSessionCacheStrategy } = require('../..')
const { performance } = require('node:perf_hooks')

let cache

const revive = (session) => ({ ...session, expires: new Date(session.expires) })
const plain = (session) => (session === undefined ? null : { ...session, expires: session.expires.getTime() })

/** Awaits a call and measures it; a throw is reported, not raised. */
async function timed(call) {
  const started = performance.now()
  try {
    const value = await call()
    return { value, ms: performance.now() - started, threw: null }
  } catch (error) {
    return { value: undefined, ms: performance.now() - started, threw: String(error?.message ?? error) }
  }
}

const ops = {
  async init(options) {
    cache = new NativeSessionCacheStrategy(options)
    await cache.init()
    return true
  },
  async set(session) {
    return (await timed(() => cache.set(revive(session)))).ms
  },
  async get(token) {
    const { value, ms, threw } = await timed(() => cache.get(token))
    return { session: plain(value), ms, threw }
  },
  /** Gets until the session is gone (or `withinMs` passed); resolves with how long it took. */
  async waitForMiss({ token, withinMs }) {
    const started = performance.now()
    while (performance.now() - started < withinMs) {
      if ((await cache.get(token)) === undefined) return performance.now() - started
      await new Promise((resolve) => setImmediate(resolve))
    }
    return null
  },
  /** Gets until the session is there; resolves with how long it took, or null. */
  async waitForHit({ token, withinMs }) {
    const started = performance.now()
    while (performance.now() - started < withinMs) {
      if ((await cache.get(token)) !== undefined) return performance.now() - started
      await new Promise((resolve) => setTimeout(resolve, 2))
    }
    return null
  },
  /**
   * Gets `tokens` round-robin for `durationMs` (Vendure-like traffic), recording the slowest call,
   * any throw, and every token served after the parent said (by `deleted`) it was deleted.
   */
  async getLoop({ tokens, durationMs }) {
    const started = performance.now()
    let calls = 0
    let slowest = 0
    const threw = []
    const servedDeleted = []
    while (performance.now() - started < durationMs) {
      const token = tokens[calls % tokens.length]
      const { value, ms, threw: error } = await timed(() => cache.get(token))
      calls++
      slowest = Math.max(slowest, ms)
      if (error !== null) threw.push(error)
      if (value !== undefined && deleted.has(token)) servedDeleted.push(token)
      await new Promise((resolve) => setTimeout(resolve, 1))
    }
    return { calls, slowest, threw, servedDeleted }
  },
  markDeleted(token) {
    deleted.add(token)
    return true
  },
  async delete(token) {
    return (await timed(() => cache.delete(token))).ms
  },
  async clear() {
    return (await timed(() => cache.clear())).ms
  },
  stats() {
    return cache.stats()
  },
  destroy() {
    cache.destroy()
    return true
  },
}
const deleted = new Set()

process.on('message', async ({ id, op, args }) => {
  try {
    process.send({ id, result: await ops[op](args) })
  } catch (error) {
    process.send({ id, error: String(error?.message ?? error) })
  }
})
