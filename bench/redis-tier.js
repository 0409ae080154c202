'use strict'

// npm run bench:redis: the Redis tier. Three figures, on a throw-away redis-server on loopback:
//  - get, local hit: this project without Redis, this project + Redis (near cache on and off), and
//    Vendure's DefaultSessionCacheStrategy + RedisCacheStrategy (a network round trip every time);
//  - get, local miss -> Redis hit (another store on the same Redis, as another instance would be);
//  - the invalidation delay: a delete in this process until another process (forked) misses,
//    median and p99 over many deletes, on one wall clock (performance.timeOrigin + now()).

const { fork } = require('node:child_process')
const path = require('node:path')
const { performance } = require('node:perf_hooks')
const crypto = require('node:crypto')

const SECRET = 'bench-secret'
const now = () => performance.timeOrigin + performance.now()
const token = (i) => crypto.createHash('sha256').update(`bench-${process.pid}-${i}`).digest('hex')
const session = (t) => ({
  cacheExpiry: Date.now() / 1000 + 3600,
  id: 42,
  token: t,
  expires: new Date(Date.now() + 365 * 86400_000),
  activeOrderId: 7,
  activeChannelId: 1,
  authenticationStrategy: 'native',
  user: { id: 3, identifier: 'customer@example.com', verified: true, channelPermissions: [{ id: 1, token: 'default-channel', code: '__default_channel__', permissions: ['Authenticated'] }] },
})

function quantile(sorted, q) {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]
}

/** Median ns per call of `get` over `tokens`, awaiting only what returns a Promise. */
async function timeGets(strategy, tokens, rounds) {
  const perCall = []
  for (let r = 0; r < rounds; r++) {
    const t0 = process.hrtime.bigint()
    for (const t of tokens) {
      const answer = strategy.get(t)
      if (answer?.then !== undefined) await answer
    }
    perCall.push(Number(process.hrtime.bigint() - t0) / tokens.length)
  }
  perCall.sort((a, b) => a - b)
  return quantile(perCall, 0.5)
}

async function child() {
  const { NativeSessionCacheStrategy } = require('..')
  const cache = new NativeSessionCacheStrategy({ name: 'bench-b', redis: { url: process.env.REDIS_URL, secret: SECRET } })
  await cache.init()
  process.on('message', async ({ op, token: t }) => {
    if (op === 'load') {
      // From Redis into the local store. A fill is skipped when an invalidation arrives meanwhile
      // (here, often the one A's own set published), so try again.
      let local
      for (let i = 0; i < 20; i++) {
        await cache.get(t)
        local = cache.get(t)
        if (local !== undefined && local.then === undefined) break
        await new Promise((resolve) => setTimeout(resolve, 1))
      }
      process.send({ op, local: local !== undefined && local.then === undefined })
    } else if (op === 'watch') {
      // Spin on the local hit until it turns into a miss; report when (wall clock).
      for (;;) {
        const answer = cache.get(t)
        if (answer === undefined || answer.then !== undefined) break
      }
      process.send({ op, missedAt: now() })
    } else if (op === 'stop') {
      cache.destroy()
      process.exit(0)
    }
  })
  process.send({ op: 'ready' })
}

async function main() {
  const { startRedis } = require('./redis-server.js')
  const vendure = require('@vendure/core')
  vendure.Logger.useLogger(new vendure.DefaultLogger({ level: vendure.LogLevel.Warn }))
  const { NativeSessionCacheStrategy } = require('..')
  const quick = process.argv.includes('--quick')
  const redis = await startRedis()
  const url = `redis://127.0.0.1:${redis.port}`
  const results = {}
  try {
    const N = 1000
    const tokens = Array.from({ length: N }, (_, i) => token(i))
    const rounds = quick ? 15 : 50

    // Local hits.
    const plain = new NativeSessionCacheStrategy({ name: 'bench-plain' })
    plain.init()
    const withRedis = new NativeSessionCacheStrategy({ name: 'bench-a', redis: { url, secret: SECRET } })
    await withRedis.init()
    const noNear = new NativeSessionCacheStrategy({ name: 'bench-a-nonear', nearCacheSize: 0, redis: { url, secret: SECRET, keyPrefix: 'nonear:' } })
    await noNear.init()
    const plainNoNear = new NativeSessionCacheStrategy({ name: 'bench-plain-nonear', nearCacheSize: 0 })
    plainNoNear.init()
    for (const t of tokens) {
      plain.set(session(t))
      plainNoNear.set(session(t))
      await withRedis.set(session(t))
      await noNear.set(session(t))
    }
    // Interleaved rounds, so that a noisy moment on a shared machine hits every row alike.
    const local = {
      'this project': plain,
      'this project + Redis': withRedis,
      'this project (near cache off)': plainNoNear,
      'this project + Redis (near cache off)': noNear,
    }
    const perRound = Object.fromEntries(Object.keys(local).map((label) => [label, []]))
    for (let r = 0; r < rounds; r++) {
      for (const [label, strategy] of Object.entries(local)) perRound[label].push(await timeGets(strategy, tokens, 1))
    }
    results.localHitNs = Object.fromEntries(Object.entries(perRound).map(([label, ns]) => [label, quantile(ns.sort((x, y) => x - y), 0.5)]))

    // Default + RedisCacheStrategy, as in bench/strategies.js.
    const cacheStrategy = new vendure.RedisCacheStrategy({ maxItemSizeInBytes: 128_000, namespace: 'vendure-cache', redisOptions: { host: '127.0.0.1', port: redis.port } })
    await cacheStrategy.init()
    const cacheService = new vendure.CacheService({ systemOptions: { cacheStrategy } })
    const def = new vendure.DefaultSessionCacheStrategy()
    await def.init({ get: () => cacheService })
    for (const t of tokens) await def.set(session(t))
    results.localHitNs['Default + RedisCacheStrategy'] = await timeGets(def, tokens, Math.min(rounds, 10))
    await cacheStrategy.destroy()

    // Local miss -> Redis hit: a second store on the same Redis has nothing locally.
    const misses = []
    for (let r = 0; r < (quick ? 5 : 20); r++) {
      const other = new NativeSessionCacheStrategy({ name: `bench-other-${r}`, redis: { url, secret: SECRET } })
      await other.init()
      const t0 = process.hrtime.bigint()
      let found = 0
      for (const t of tokens) if ((await other.get(t)) !== undefined) found++
      misses.push(Number(process.hrtime.bigint() - t0) / tokens.length)
      if (found !== N) throw new Error(`a Redis lookup missed: ${found}/${N}`)
      other.destroy()
    }
    misses.sort((a, b) => a - b)
    results.missThenRedisHitNs = quantile(misses, 0.5)

    // Invalidation delay between two processes.
    const b = fork(__filename, ['--child'], { env: { ...process.env, REDIS_URL: url } })
    const next = (op) => new Promise((resolve) => b.once('message', (m) => (m.op === op ? resolve(m) : resolve(next(op)))))
    await next('ready')
    const delays = []
    const samples = quick ? 100 : 500
    for (let i = 0; i < samples; i++) {
      const t = token(`inv-${i}`)
      await withRedis.set(session(t))
      b.send({ op: 'load', token: t })
      if (!(await next('load')).local) throw new Error('B did not fill its local store')
      b.send({ op: 'watch', token: t })
      await new Promise((resolve) => setTimeout(resolve, 2)) // B is spinning
      const deletedAt = now()
      const watched = next('watch')
      await withRedis.delete(t)
      delays.push((await watched).missedAt - deletedAt)
    }
    b.send({ op: 'stop' })
    delays.sort((x, y) => x - y)
    results.invalidationMs = { samples, median: quantile(delays, 0.5), p99: quantile(delays, 0.99), max: delays[delays.length - 1] }
    results.redisStats = withRedis.stats().redis
    for (const s of [plain, withRedis, noNear, plainNoNear]) s.destroy()
  } finally {
    await redis.stop()
  }
  const r = results
  const ns = (x) => `${Math.round(x).toLocaleString('en-US')} ns`
  console.log('| get | ns per call (median) |\n|---|---:|')
  for (const [label, value] of Object.entries(r.localHitNs)) console.log(`| hit, ${label} | ${ns(value)} |`)
  console.log(`| local miss -> Redis hit, this project + Redis | ${ns(r.missThenRedisHitNs)} |`)
  const ratio = r.localHitNs['Default + RedisCacheStrategy'] / r.localHitNs['this project + Redis']
  console.log(`\nHit path: Default + RedisCacheStrategy takes ${ratio.toFixed(0)}x as long as this project + Redis.`)
  console.log(
    `Invalidation delay, process A's delete until process B misses (${r.invalidationMs.samples} deletes): ` +
      `median ${r.invalidationMs.median.toFixed(3)} ms, p99 ${r.invalidationMs.p99.toFixed(3)} ms, max ${r.invalidationMs.max.toFixed(3)} ms`,
  )
  process.exit(0)
}

if (process.argv.includes('--child')) child()
else
  main().catch((error) => {
    console.error(error)
    process.exit(1)
  })
