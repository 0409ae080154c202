'use strict'

// Two worker_threads and the main thread share one store by name: what one writes, the others see at once.

const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { NativeSessionCacheStrategy } = require('..')
const f = require('./fixtures')

const WORKER = path.join(__dirname, 'helpers', 'cache-worker.js')

// Dates cloned from a worker belong to another realm than Jest's, so compare expires as a number;
// the worker reports whether its own copy was a Date. Objects from another realm fail toStrictEqual's
// type check, so across threads toEqual compares; the single-thread tests check strict equality.
const comparable = (s) => s && { ...s, expires: s.expires.getTime() }

/** A worker holding a strategy on store `name`, answering `{ op, arg }` requests one at a time. */
function startWorker(name, maxEntries) {
  const worker = new Worker(WORKER, { workerData: { name, maxEntries } })
  let next = 0
  const pending = new Map()
  worker.on('message', ({ id, result, error }) => {
    const { resolve, reject } = pending.get(id)
    pending.delete(id)
    error ? reject(new Error(error)) : resolve(result)
  })
  const call = (op, arg) =>
    new Promise((resolve, reject) => {
      const id = next++
      pending.set(id, { resolve, reject })
      worker.postMessage({ id, op, arg })
    })
  return { call, stop: () => worker.terminate(), worker }
}

describe('worker_threads share one store', () => {
  let name, main, a, b
  beforeAll(async () => {
    name = f.storeName('threads')
    main = new NativeSessionCacheStrategy({ name, maxEntries: 1000 })
    a = startWorker(name)
    b = startWorker(name)
    await Promise.all([a.call('ping'), b.call('ping')])
  })
  afterAll(async () => {
    await a.stop()
    await b.stop()
  })

  test('a set in one worker is seen by a get in the other, exactly', async () => {
    const session = f.superadminSession()
    await a.call('set', session)
    const seen = await b.call('get', session.token)
    expect(seen.expiresIsDate).toBe(true)
    expect(comparable(seen.session)).toEqual(comparable(session))
    expect(main.get(session.token)).toStrictEqual(session)
  })

  test('a delete in one worker is seen by the other at once', async () => {
    const session = f.customerSession()
    main.set(session)
    expect(comparable((await b.call('get', session.token)).session)).toEqual(comparable(session))
    await a.call('delete', session.token)
    expect((await b.call('get', session.token)).session).toBeUndefined()
    expect(main.get(session.token)).toBeUndefined()
  })

  test('a clear in one worker is seen by the other and the main thread at once', async () => {
    const sessions = [f.customerSession(), f.anonymousSession(), f.superadminSession()]
    for (const s of sessions) await b.call('set', s)
    await a.call('clear')
    for (const s of sessions) {
      expect((await b.call('get', s.token)).session).toBeUndefined()
      expect(main.get(s.token)).toBeUndefined()
    }
  })

  test('concurrent writers in three threads keep the bound and never answer with another token', async () => {
    const rounds = 3000
    const [ra, rb] = await Promise.all([a.call('churn', { rounds, seed: 1 }), b.call('churn', { rounds, seed: 2 })])
    for (const r of [ra, rb]) expect(r.wrongAnswers).toBe(0)
    expect(main.stats().entries).toBeLessThanOrEqual(1000)
  })

  test('a get never misses a session whose set returned in another thread before it, nor serves one deleted before it', async () => {
    // The history check for answers made without a call into the store: a miss answered from the
    // presence counts, a hit from the near cache. One thread sets then deletes thousands of fresh
    // sessions in order and publishes how far it got; the other gets them meanwhile.
    // A store of its own, large enough that no eviction explains a miss.
    const n = 20_000
    const own = f.storeName('sequence')
    const [writer, reader] = [startWorker(own, 50_000), startWorker(own, 50_000)]
    const buffer = new SharedArrayBuffer(8)
    const prefix = `seq-${Date.now()}`
    let result
    try {
      await Promise.all([writer.call('ping'), reader.call('ping')])
      const checking = reader.call('checkSequence', { buffer, n, prefix })
      await writer.call('publishSequence', { buffer, n, prefix })
      result = await checking
    } finally {
      await writer.stop()
      await reader.stop()
    }
    const { checks, violations, violationCount } = result
    expect(violations).toEqual([])
    expect(violationCount).toBe(0)
    expect(checks).toBeGreaterThan(1000)
  })

  test('a worker that loads the addon and exits leaves the others working', async () => {
    for (let i = 0; i < 5; i++) {
      const w = startWorker(name)
      const s = f.customerSession()
      await w.call('set', s)
      await w.stop()
      expect(main.get(s.token)).toStrictEqual(s)
    }
  })
})

describe("the near cache never outlives another thread's write", () => {
  let name, main, worker
  beforeAll(async () => {
    name = f.storeName('near')
    main = new NativeSessionCacheStrategy({ name, maxEntries: 1000 })
    worker = startWorker(name)
    await worker.call('ping')
  })
  afterAll(() => worker.stop())

  /** A session the main thread has read, so its near cache holds it. */
  function nearCached() {
    const session = f.customerSession()
    main.set(session)
    const first = main.get(session.token)
    expect(main.get(session.token)).toBe(first)
    return session
  }

  test('a set in another thread: the next get sees the new value', async () => {
    const session = nearCached()
    await worker.call('set', { ...session, activeOrderId: 4711 })
    expect(main.get(session.token).activeOrderId).toBe(4711)
  })

  test('a delete in another thread: the next get misses', async () => {
    const session = nearCached()
    await worker.call('delete', session.token)
    expect(main.get(session.token)).toBeUndefined()
  })

  test('a clear in another thread: the next get misses', async () => {
    const session = nearCached()
    await worker.call('clear')
    expect(main.get(session.token)).toBeUndefined()
  })

  test('a rejected set in another thread: the next get misses', async () => {
    const session = nearCached()
    await worker.call('set', { ...session, expires: 'not a date' })
    expect(main.get(session.token)).toBeUndefined()
  })

  test('an eviction caused by another thread: the next get misses', async () => {
    const session = nearCached()
    await worker.call('fill', 3000)
    expect(main.get(session.token)).toBeUndefined()
  })

  test('near hits count as uses, so the store keeps the sessions this thread reads', async () => {
    const hot = nearCached()
    for (let round = 0; round < 20; round++) {
      expect(main.get(hot.token)).toBeDefined()
      await worker.call('fill', 100)
    }
    expect(main.get(hot.token)).toBeDefined()
  })

  test('an expiry: the next get misses', async () => {
    const session = { ...f.customerSession(), cacheExpiry: Date.now() / 1000 + 0.1 }
    main.set(session)
    expect(main.get(session.token)).toBeDefined()
    await new Promise((r) => setTimeout(r, 150))
    expect(main.get(session.token)).toBeUndefined()
  })
})

