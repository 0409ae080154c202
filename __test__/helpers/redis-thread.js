'use strict'

// A worker_thread holding a NativeSessionCacheStrategy with the Redis tier, sharing its store with
// every other thread of the process that uses the same `name` (Vendure's worker threads). Answers
// { id, op, args } messages with { id, result } or { id, error }.

const { parentPort, workerData } = require('node:worker_threads')
const { NativeSessionCacheStrategy } = require('../..')
const f = require('../fixtures')

const cache = new NativeSessionCacheStrategy(workerData.options)

const ops = {
  init: async () => {
    await cache.init()
    return true
  },
  setAll: async (tokens) => {
    await Promise.all(tokens.map((token) => cache.set(f.customerSession(token))))
    return tokens.length
  },
  /** Gets every token at once; tells the parent when all are on their way, then how many were hits. */
  getAll: async ({ tokens, sentId }) => {
    const answers = tokens.map((token) => cache.get(token))
    parentPort.postMessage({ id: sentId, result: true })
    const sessions = await Promise.all(answers)
    return sessions.filter((session) => session !== undefined).length
  },
  clear: async () => {
    await cache.clear()
    return true
  },
  destroy: async () => {
    await cache.destroy()
    return true
  },
}

parentPort.on('message', async ({ id, op, args }) => {
  try {
    parentPort.postMessage({ id, result: await ops[op](args) })
  } catch (error) {
    parentPort.postMessage({ id, error: String(error?.stack ?? error) })
  }
})
