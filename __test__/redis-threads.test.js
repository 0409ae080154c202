'use strict'

// Threads are processes too: worker_threads sharing one store (one `name`), the Redis tier on. Vendure
// calls clear() when a Role or a Channel changes, so that a revoked permission leaves every cached
// session: reads of Redis in flight on another thread of the same process, sent while the clear is on
// its way, must not put cleared sessions back in the store both threads serve from.

const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { TestRedis } = require('./helpers/redis-server')

jest.setTimeout(180_000)

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const INVALIDATION_BOUND_MS = 100

/** A worker_thread with a strategy (helpers/redis-thread.js); `call(op, args)` resolves with its answer. */
function thread(options) {
  const worker = new Worker(path.join(__dirname, 'helpers', 'redis-thread.js'), { workerData: { options } })
  let next = 0
  const pending = new Map()
  worker.on('message', ({ id, result, error }) => {
    const waiting = pending.get(id)
    if (waiting === undefined) return
    pending.delete(id)
    if (error !== undefined) waiting.reject(new Error(error))
    else waiting.resolve(result)
  })
  const expect = (id) => new Promise((resolve, reject) => pending.set(id, { resolve, reject }))
  return {
    call(op, args) {
      const id = ++next
      const answer = expect(id)
      worker.postMessage({ id, op, args })
      return answer
    },
    /** Gets every token at once: `sent` once all are on their way, `hits` when all answered. */
    getAll(tokens) {
      const sentId = ++next
      const id = ++next
      const sent = expect(sentId)
      const hits = expect(id)
      worker.postMessage({ id, op: 'getAll', args: { tokens, sentId } })
      return { sent, hits }
    },
    terminate: () => worker.terminate(),
  }
}

let redis
let threads = []
afterAll(async () => {
  await Promise.all(threads.map((t) => t.call('destroy').catch(() => {})))
  await Promise.all(threads.map((t) => t.terminate()))
  await redis?.stop()
})

test('a clear() on one thread while another reads 3,000 sessions from Redis: none is served after it, over 30 rounds', async () => {
  redis = await TestRedis.start()
  const redisOptions = { url: redis.url, secret: 'redis-threads-test-secret' }
  // Another process's instance (a store of its own) writes the sessions: only Redis holds them for A and B.
  const writer = thread({ name: 'another-instance', maxEntries: 10_000, redis: redisOptions })
  const a = thread({ name: 'shared-by-threads', maxEntries: 10_000, redis: redisOptions })
  const b = thread({ name: 'shared-by-threads', maxEntries: 10_000, redis: redisOptions })
  threads = [writer, a, b]
  await Promise.all(threads.map((t) => t.call('init')))

  let servedAfterClear = 0
  let hitsDuringClear = 0
  for (let round = 0; round < 30; round++) {
    const tokens = Array.from({ length: 3000 }, (_, i) => `round-${round}-session-${i}-`.padEnd(64, 'x'))
    await writer.call('setAll', tokens)
    // B's reads (each a local miss, then one Redis GET) and A's clear, at the same time.
    const reads = b.getAll(tokens)
    await Promise.all([a.call('clear'), reads.hits]).then(([, hits]) => (hitsDuringClear += hits))
    await sleep(INVALIDATION_BOUND_MS + 50)
    // Every one of them was cleared: a session served now comes from a stale local entry.
    const after = b.getAll(tokens)
    servedAfterClear += await after.hits
  }
  // The race happened: reads overlapping the clear got values from Redis (they may answer them).
  expect(hitsDuringClear).toBeGreaterThan(0)
  expect(servedAfterClear).toBe(0)
})
