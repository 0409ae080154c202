'use strict'

// The Redis shared tier with real redis-servers and two real processes (two "Vendure instances").
// Each server is started on a free loopback port and stopped in afterAll.

const { fork } = require('node:child_process')
const path = require('node:path')
const { TestRedis } = require('./helpers/redis-server')
const { FaultProxy } = require('../chaos/proxy')
const { NativeSessionCacheStrategy } = require('..')
const { liveRedisTierCount } = require('../binding.js')
const f = require('./fixtures')

jest.setTimeout(20_000)

const SECRET = 'redis-test-secret'
const INVALIDATION_BOUND_MS = 100
const VENDURE_LIMIT_MS = 50
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const plain = (session) => ({ ...session, expires: session.expires.getTime() })

/** A forked instance; `call(op, args)` resolves with the op's result. */
function instance() {
  const child = fork(path.join(__dirname, 'helpers', 'redis-instance.js'), [], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let next = 0
  const pending = new Map()
  child.on('message', ({ id, result, error }) => {
    const { resolve, reject } = pending.get(id)
    pending.delete(id)
    if (error !== undefined) reject(new Error(error))
    else resolve(result)
  })
  child.on('exit', (code) => {
    for (const { reject } of pending.values()) reject(new Error(`instance exited with ${code}`))
    pending.clear()
  })
  return {
    call(op, args) {
      const id = ++next
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject })
        child.send({ id, op, args })
      })
    },
    stop() {
      child.kill('SIGKILL')
    },
  }
}

/**
 * Sets `session` in A and resolves with what B serves for it once B serves it twice in a row, or null
 * after 3 s. A miss is always allowed (a write that timed out under load is repaired by a delete; a
 * process whose liveness proof is over 60 ms old reads nothing): tests that need the session shared
 * wait for it rather than assume the first attempt got through.
 */
async function setInAUntilBServes(session) {
  const deadline = Date.now() + 3000
  while (Date.now() < deadline) {
    await a.call('set', plain(session))
    const first = await b.call('get', session.token)
    const second = await b.call('get', session.token)
    if (first.session !== null && second.session !== null) return second.session
    await sleep(50)
  }
  return null
}

/** How long both instances took to trust their local layers again after a restart (reported). */
const recoveryMs = []
let redis
let a
let b
const options = (extra = {}) => ({ name: 'redis-test', redis: { url: redis.url, secret: SECRET, keyPrefix: 'vsc-test:' }, ...extra })

beforeAll(async () => {
  redis = await TestRedis.start()
  a = instance()
  b = instance()
  await Promise.all([a.call('init', options()), b.call('init', options())])
})

afterAll(async () => {
  if (recoveryMs.length > 0) console.log(`trusted again ${recoveryMs.join(', ')} ms after Redis restarted`)
  a?.stop()
  b?.stop()
  await redis?.stop()
})

describe('two processes on one Redis', () => {
  test('a set in A is read by B, token and all, and B then serves it locally', async () => {
    const session = f.customerSession()
    expect(await setInAUntilBServes(session)).toEqual(plain(session))
    const stats = await b.call('stats')
    expect(stats.redis.hits).toBeGreaterThanOrEqual(1)
    expect(stats.hits).toBeGreaterThanOrEqual(1)
  })

  test('no token reaches Redis: keys are hashes, values hold a placeholder', async () => {
    const session = f.customerSession()
    await a.call('set', plain(session))
    const keys = redis.cli('--scan', '--pattern', 'vsc-test:*').trim().split('\n')
    expect(keys.length).toBeGreaterThan(0)
    for (const key of keys) {
      expect(key).not.toContain(session.token)
      if (key !== 'vsc-test:ns') expect(redis.cli('GET', key)).not.toContain(session.token)
    }
  })

  test(`a delete in A makes B miss within ${INVALIDATION_BOUND_MS} ms`, async () => {
    const session = f.customerSession()
    expect(await setInAUntilBServes(session)).not.toBeNull() // the second time from B's local layers
    const [, tookMs] = await Promise.all([a.call('delete', session.token), b.call('waitForMiss', { token: session.token, withinMs: INVALIDATION_BOUND_MS })])
    expect(tookMs).not.toBeNull()
    expect((await a.call('get', session.token)).session).toBeNull()
  })

  test(`a clear in A makes B miss everything within ${INVALIDATION_BOUND_MS} ms`, async () => {
    const sessions = [f.customerSession(), f.anonymousSession()]
    for (const session of sessions) expect(await setInAUntilBServes(session)).not.toBeNull()
    const started = Date.now()
    await a.call('clear')
    for (const session of sessions) {
      const tookMs = await b.call('waitForMiss', { token: session.token, withinMs: INVALIDATION_BOUND_MS })
      expect(tookMs).not.toBeNull()
    }
    expect(Date.now() - started).toBeLessThan(INVALIDATION_BOUND_MS + 50)
  })

  test('a corrupt value planted in Redis is a counted miss', async () => {
    const session = f.customerSession()
    const before = (await b.call('stats')).redis.corrupt
    const keysBefore = new Set(redis.cli('--scan', '--pattern', 'vsc-test:*').trim().split('\n'))
    await a.call('set', plain(session))
    const planted = redis.cli('--scan', '--pattern', 'vsc-test:*').trim().split('\n').filter((key) => !keysBefore.has(key) && key !== 'vsc-test:ns')
    expect(planted).toHaveLength(1)
    expect(redis.cli('SET', planted[0], 'not a session at all', 'KEEPTTL').trim()).toBe('OK')
    const got = await b.call('get', session.token) // B never held it locally
    expect(got.threw).toBeNull()
    expect(got.session).toBeNull()
    expect((await b.call('stats')).redis.corrupt).toBe(before + 1)
  })

  test('Redis killed while gets run: no call throws or stalls, no session deleted meanwhile is served; restarted empty, none comes back', async () => {
    const kept = f.customerSession()
    const doomed = f.customerSession()
    for (const session of [kept, doomed]) {
      expect(await setInAUntilBServes(session)).not.toBeNull()
      await a.call('get', session.token)
    }
    const tokens = [kept.token, doomed.token]
    const loops = Promise.all([a.call('getLoop', { tokens, durationMs: 1500 }), b.call('getLoop', { tokens, durationMs: 1500 })])
    await sleep(200)
    await redis.kill()
    await sleep(100)
    // A deletes during the outage (it cannot reach Redis: remembered, and the namespace is bumped later).
    await b.call('markDeleted', doomed.token)
    await a.call('markDeleted', doomed.token)
    const deleteMs = await a.call('delete', doomed.token)
    expect(deleteMs).toBeLessThan(VENDURE_LIMIT_MS)
    for (const loop of await loops) {
      expect(loop.threw).toEqual([])
      expect(loop.slowest).toBeLessThan(VENDURE_LIMIT_MS)
      expect(loop.servedDeleted).toEqual([])
      expect(loop.calls).toBeGreaterThan(100)
    }
    const during = await b.call('get', kept.token)
    expect(during.session).toBeNull() // nothing local is trusted while the channel is down
    expect(during.ms).toBeLessThan(VENDURE_LIMIT_MS)

    await redis.restart()
    // Both come back (they resubscribe, flush, and A bumps the namespace for its lost delete).
    const restarted = Date.now()
    for (const instance of [a, b]) {
      while (!(await instance.call('stats')).redis.trustworthy) {
        expect(Date.now() - restarted).toBeLessThan(5000)
        await sleep(10)
      }
    }
    recoveryMs.push(Date.now() - restarted)
    await a.call('set', plain(kept))
    const hitMs = await b.call('waitForHit', { token: kept.token, withinMs: 5000 })
    expect(hitMs).not.toBeNull()
    expect((await b.call('get', doomed.token)).session).toBeNull()
    expect((await a.call('get', doomed.token)).session).toBeNull()
    const stats = (await a.call('stats')).redis
    expect(stats.outages).toBeGreaterThanOrEqual(1)
    expect(stats.reconnects).toBeGreaterThanOrEqual(1)
    expect(stats.lostWrites).toBeGreaterThanOrEqual(1)
    expect(stats.namespaceBumps).toBeGreaterThanOrEqual(1)
    // And invalidations flow again.
    await a.call('delete', kept.token)
    expect(await b.call('waitForMiss', { token: kept.token, withinMs: INVALIDATION_BOUND_MS })).not.toBeNull()
  })
})

describe('in this process', () => {
  test('one tier per store name, shared by every strategy with that name, dropped by the last destroy()', async () => {
    const before = liveRedisTierCount()
    const opts = { name: f.storeName('tier-share'), redis: { url: redis.url, secret: SECRET, keyPrefix: 'vsc-share:' } }
    const one = new NativeSessionCacheStrategy(opts)
    const two = new NativeSessionCacheStrategy(opts)
    await Promise.all([one.init(), two.init()])
    expect(liveRedisTierCount()).toBe(before + 1)
    const session = f.customerSession()
    await one.set(session)
    expect(two.get(session.token)).toEqual(session) // the same local store: a synchronous hit
    expect(one.stats().redis.sets).toBeGreaterThanOrEqual(1)
    one.destroy()
    expect(liveRedisTierCount()).toBe(before + 1)
    two.destroy()
    expect(liveRedisTierCount()).toBe(before)
  })

  test('a worker_thread with the same name joins the same tier and store', async () => {
    const { Worker } = require('node:worker_threads')
    const before = liveRedisTierCount()
    const opts = { name: f.storeName('tier-worker'), redis: { url: redis.url, secret: SECRET, keyPrefix: 'vsc-worker:' } }
    const main = new NativeSessionCacheStrategy(opts)
    await main.init()
    const session = f.customerSession()
    await main.set(session)
    const source = `
      const { parentPort, workerData } = require('node:worker_threads')
      const { NativeSessionCacheStrategy } = require(${JSON.stringify(path.join(__dirname, '..'))})
      const { liveRedisTierCount } = require(${JSON.stringify(path.join(__dirname, '..', 'binding.js'))})
      const cache = new NativeSessionCacheStrategy(workerData.opts)
      cache.init().then(() => {
        const got = cache.get(workerData.token) // local, synchronous: the shared store
        parentPort.postMessage({ tiers: liveRedisTierCount(), sync: got !== undefined && typeof got.then !== 'function', id: got?.id })
        cache.destroy()
      })
    `
    const worker = new Worker(source, { eval: true, workerData: { opts, token: session.token } })
    const answer = await new Promise((resolve, reject) => {
      worker.once('message', resolve)
      worker.once('error', reject)
    })
    await worker.terminate()
    expect(answer).toEqual({ tiers: before + 1, sync: true, id: session.id })
    expect(liveRedisTierCount()).toBe(before + 1)
    main.destroy()
    expect(liveRedisTierCount()).toBe(before)
  })

  test('the local-hit path stays synchronous; a local miss returns a Promise that never rejects', async () => {
    const cache = new NativeSessionCacheStrategy({ name: f.storeName('sync-hit'), redis: { url: redis.url, secret: SECRET, keyPrefix: 'vsc-sync:' } })
    await cache.init()
    const session = f.anonymousSession()
    await cache.set(session)
    expect(cache.get(session.token)).toEqual(session)
    const miss = cache.get(f.newToken())
    expect(typeof miss.then).toBe('function') // (Jest's realm has another Promise constructor)
    await expect(miss).resolves.toBeUndefined()
    cache.destroy()
  })

  test('the secret comes from Vendure when not given; Vendure\'s random default is refused', async () => {
    const { defaultConfig } = require('@vendure/core')
    const injector = (secret) => ({ get: () => ({ authOptions: { cookieOptions: { secret } } }) })
    const cache = new NativeSessionCacheStrategy({ name: f.storeName('derived'), redis: { url: redis.url } })
    await expect(cache.init(injector(undefined))).rejects.toThrow(/redis\.secret/)
    await expect(cache.init(injector(defaultConfig.authOptions.cookieOptions.secret))).rejects.toThrow(/random per-process default/)
    await cache.init(injector('a shared cookie secret'))
    expect(cache.stats().redis).not.toBeNull()
    cache.destroy()
  })

  test('an outage is logged through Vendure\'s Logger, and its end too; nothing rejects', async () => {
    const { Logger } = require('@vendure/core')
    const warn = jest.spyOn(Logger, 'warn').mockImplementation(() => {})
    const info = jest.spyOn(Logger, 'info').mockImplementation(() => {})
    const own = await TestRedis.start()
    try {
      const cache = new NativeSessionCacheStrategy({ name: f.storeName('logged'), redis: { url: own.url, secret: SECRET } })
      await cache.init()
      const session = f.anonymousSession()
      await cache.set(session)
      await own.kill()
      await sleep(100)
      expect(cache.get(session.token)).toBeDefined() // a Promise now: nothing local is served
      await expect(cache.get(session.token)).resolves.toBeUndefined()
      await expect(cache.delete(session.token)).resolves.toBeUndefined()
      const messages = warn.mock.calls.map(([message]) => message).join('\n')
      expect(messages).toMatch(/invalidation channel is down/)
      expect(messages).toMatch(/did not reach Redis/)
      await own.restart()
      const started = Date.now()
      while (!cache.stats().redis.trustworthy) {
        expect(Date.now() - started).toBeLessThan(5000)
        await sleep(10)
      }
      await expect(cache.get(session.token)).resolves.toBeUndefined() // deleted during the outage
      expect(info.mock.calls.map(([message]) => message).join('\n')).toMatch(/Redis is back/)
      cache.destroy()
    } finally {
      warn.mockRestore()
      info.mockRestore()
      await own.stop()
    }
  })

  test('a wrong port rejects init() with a clear error', async () => {
    const cache = new NativeSessionCacheStrategy({ name: f.storeName('wrong-port'), redis: { url: 'redis://:hunter2-secret@127.0.0.1:1', secret: SECRET } })
    const error = await cache.init().then(() => null, (e) => e)
    expect(error).toBeInstanceOf(Error)
    expect(error.message).toMatch(/cannot connect to Redis at redis:\/\/.*127\.0\.0\.1:1/)
    expect(error.message).not.toContain('hunter2-secret')
    cache.destroy()
  })

  test('strategy.options never shows the Redis password', async () => {
    const cache = new NativeSessionCacheStrategy({ name: f.storeName('redacted'), redis: { url: 'redis://:hunter2-secret@127.0.0.1:1/2', secret: SECRET } })
    expect(cache.options.redis.url).toBe('redis://:***@127.0.0.1:1/2')
    expect(JSON.stringify(cache.options)).not.toContain('hunter2')
    cache.destroy()
  })

  test('destroy() with Redis calls in flight settles every Promise (a miss) and lets the process exit', async () => {
    // In a process of its own, since the point is that it exits. Its Redis answers nothing (every
    // connection held by a fault proxy here), so 20 gets and 5 sets are in flight at destroy().
    const proxy = await FaultProxy.start(redis.port)
    const script = `
      const { NativeSessionCacheStrategy } = require(${JSON.stringify(path.join(__dirname, '..'))})
      const session = (token) => ({ token, id: 1, cacheExpiry: Date.now() / 1000 + 300, expires: new Date(Date.now() + 3.6e6) })
      ;(async () => {
        const cache = new NativeSessionCacheStrategy({ name: 'in-flight', redis: { url: 'redis://127.0.0.1:${proxy.port}', secret: 's', timeoutMs: 49 } })
        await cache.init()
        process.send('ready')
        await new Promise((resolve) => process.once('message', resolve))
        const calls = [
          ...Array.from({ length: 20 }, (_, i) => cache.get('missing-' + i)),
          ...Array.from({ length: 5 }, (_, i) => cache.set(session('t' + i))),
        ]
        cache.destroy()
        const started = Date.now()
        const results = await Promise.all(calls)
        process.send({ settled: results.length, gets: results.slice(0, 20).filter((r) => r === undefined).length, ms: Date.now() - started })
        process.disconnect()
      })()
    `
    try {
      const child = require('node:child_process').spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
      const messages = []
      let go
      const destroying = new Promise((resolve) => (go = resolve))
      child.on('message', (message) => {
        messages.push(message)
        if (message === 'ready') {
          proxy.hang('any')
          child.send('go')
          go()
        }
      })
      const exited = new Promise((resolve) => child.once('exit', (code, signal) => resolve({ code, signal })))
      // From destroy() on: starting Node and init() (which loads Vendure's logger) are not what is timed.
      await Promise.race([destroying, exited])
      const outcome = await Promise.race([exited, sleep(10_000).then(() => 'still running 10 s after destroy()')])
      if (typeof outcome === 'string') child.kill('SIGKILL')
      expect(outcome).toEqual({ code: 0, signal: null })
      expect(messages[1]).toEqual({ settled: 25, gets: 20, ms: expect.any(Number) })
      expect(messages[1].ms).toBeLessThan(1000)
    } finally {
      await proxy.close()
    }
  })

  test('a wrong password rejects init() with a clear error that does not show it', async () => {
    const guarded = await TestRedis.start(['--requirepass', 'the-right-one'])
    try {
      const cache = new NativeSessionCacheStrategy({ name: f.storeName('wrong-pass'), redis: { url: `redis://:not-the-right-one@127.0.0.1:${guarded.port}`, secret: SECRET } })
      const error = await cache.init().then(() => null, (e) => e)
      expect(error).toBeInstanceOf(Error)
      expect(error.message).toMatch(/cannot connect to Redis at redis:\/\/.*127\.0\.0\.1/)
      expect(error.message).not.toContain('not-the-right-one')
      cache.destroy()
      const right = new NativeSessionCacheStrategy({ name: f.storeName('right-pass'), redis: { url: `redis://:the-right-one@127.0.0.1:${guarded.port}`, secret: SECRET } })
      await right.init()
      right.destroy()
    } finally {
      await guarded.stop()
    }
  })

  test.each([
    [{ redis: 'redis://x' }, /redis must be an object/],
    [{ redis: { url: 'http://x' } }, /redis\.url must be a string such as/],
    [{ redis: { url: 'redis://x', timeoutMs: 50 } }, /redis\.timeoutMs must be a whole number of milliseconds from 1 to 49/],
    [{ redis: { url: 'redis://x', secret: '' } }, /redis\.secret must be a non-empty string/],
    [{ redis: { url: 'redis://x', keyPrefix: 3 } }, /redis\.keyPrefix must be a string/],
    [{ redis: { url: 'redis://x', db: 1 } }, /unknown option 'redis\.db'/],
  ])('redis option %j is refused clearly', (opts, message) => {
    expect(() => new NativeSessionCacheStrategy(opts)).toThrow(TypeError)
    expect(() => new NativeSessionCacheStrategy(opts)).toThrow(message)
  })
})
