'use strict'

// Two real Vendure 3.7 server processes sharing ONE PostgreSQL database and ONE Redis, each with
// `new NativeSessionCacheStrategy({ redis: { url, secret } })`: a customer logs in on server A, the
// token is served by server B (from Redis the first time, then from B's own store), the customer logs
// out on A, and B refuses the token within the invalidation bound.
//
// The test starts its own PostgreSQL cluster (initdb into a temp dir, `postgres` run as user postgres
// on a free loopback port: it refuses to run as root) and its own redis-server, seeds the database once,
// then forks two servers (helpers/server-process.js). Everything is stopped in afterAll.

const { fork } = require('node:child_process')
const path = require('node:path')
const { TestRedis } = require('../helpers/redis-server')
const { TestPostgres } = require('./helpers/postgres')
const fx = require('./fixtures')

jest.setTimeout(120_000)

const SERVER_PROCESS = path.join(__dirname, 'helpers', 'server-process.js')
const TOKEN_HEADER = 'vendure-auth-token'
const SECRET = 'two-servers-e2e-shared-secret'
/** How long B may keep accepting a token after A's logout returned. */
const INVALIDATION_BOUND_MS = 500

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** A sleep that does not keep Jest waiting once the race it guards is over. */
const grace = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())

/** Forks helpers/server-process.js; resolves with a handle once it is ready (or done, for 'seed'). */
function startProcess(options) {
  const child = fork(SERVER_PROCESS, [JSON.stringify(options)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  let nextId = 0
  const pending = new Map()
  const exited = new Promise((resolve) => child.once('exit', resolve))
  const started = new Promise((resolve, reject) => {
    child.on('message', (message) => {
      if (message.ready || message.done) return resolve()
      if (message.startError) return reject(new Error(`Vendure (${options.mode}) did not start: ${message.startError}`))
      const entry = pending.get(message.id)
      if (!entry) return
      pending.delete(message.id)
      message.error ? entry.reject(new Error(message.error)) : entry.resolve(message.result)
    })
    child.once('exit', (code) => reject(new Error(`the ${options.mode} process exited (code ${code})`)))
  })
  const call = (op) =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      child.send({ id, op })
    })
  const handle = {
    child,
    port: options.port,
    stats: () => call('stats'),
    async stop() {
      if (child.exitCode !== null || child.signalCode !== null) return
      try {
        await Promise.race([call('stop'), grace(5000)])
      } catch {
        // killed below
      }
      await Promise.race([exited, grace(3000)])
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGKILL')
        await exited
      }
    },
  }
  return started.then(
    () => handle,
    async (error) => {
      await handle.stop()
      throw error
    },
  )
}

/** A GraphQL request with exactly the given token (or none): status, data, errors and any new token. */
async function post(url, query, { token, variables } = {}) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) })
  const body = await response.json()
  return { status: response.status, data: body.data, errors: body.errors, newToken: response.headers.get(TOKEN_HEADER) }
}

const shopUrl = (port) => `http://127.0.0.1:${port}/shop-api`
const adminUrl = (port) => `http://127.0.0.1:${port}/admin-api`
const ACTIVE_CUSTOMER = 'query { activeCustomer { id emailAddress } }'
const delta = (before, after) => Object.fromEntries(['hits', 'misses', 'sets', 'deletes'].map((k) => [k, after[k] - before[k]]))
const redisDelta = (before, after) => Object.fromEntries(['hits', 'misses', 'invalidations'].map((k) => [k, (after.redis?.[k] ?? 0) - (before.redis?.[k] ?? 0)]))

describe('two Vendure server processes, one PostgreSQL database, one Redis', () => {
  let pg
  let redis
  let a
  let b
  let customers

  beforeAll(async () => {
    pg = await TestPostgres.start()
    redis = await TestRedis.start()
    const database = 'vendure_two_servers'
    await pg.createDatabase(database)
    const db = { host: '127.0.0.1', port: pg.port, database }
    const redisOptions = { url: redis.url, secret: SECRET }
    await startProcess({ mode: 'seed', port: await fx.freePort(), db, redis: redisOptions })
    // One after the other: both at once would contend for the two cores and for the same tables.
    a = await startProcess({ mode: 'serve', port: await fx.freePort(), db, redis: redisOptions })
    b = await startProcess({ mode: 'serve', port: await fx.freePort(), db, redis: redisOptions })

    const login = await post(adminUrl(a.port), 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { ... on CurrentUser { id } } }', {
      variables: { u: fx.SUPERADMIN.identifier, p: fx.SUPERADMIN.password },
    })
    const adminToken = login.newToken
    expect(adminToken).toBeTruthy()
    // The superadmin's session, made on A, is good on B too: same database, same Redis.
    const list = await post(adminUrl(b.port), 'query { customers(options: { sort: { id: ASC } }) { items { id emailAddress } } }', { token: adminToken })
    customers = list.data.customers.items
    expect(customers).toHaveLength(fx.CUSTOMER_COUNT)
  }, 100_000)

  afterAll(async () => {
    const stops = []
    for (const server of [a, b]) if (server) stops.push(server.stop())
    await Promise.allSettled(stops)
    await redis?.stop()
    await pg?.stop()
  }, 30_000)

  test('login on A, served by B (from its cache after the first time), logout on A, refused by B within the bound', async () => {
    const [customer] = customers
    const login = await post(shopUrl(a.port), 'mutation($u: String!, $p: String!) { login(username: $u, password: $p) { ... on CurrentUser { id identifier } ... on ErrorResult { errorCode message } } }', {
      variables: { u: customer.emailAddress, p: fx.CUSTOMER_PASSWORD },
    })
    expect(login.data.login.identifier).toBe(customer.emailAddress)
    const token = login.newToken
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    // The first request sets the active channel on the session (a set, on A): as any first request.
    expect((await post(shopUrl(a.port), ACTIVE_CUSTOMER, { token })).data.activeCustomer.id).toBe(customer.id)

    // First request on B: B's store misses, Redis has it (A wrote it there). The one store set on B is
    // that Redis hit filling B's store (had Redis missed, Vendure would have read the session table
    // and set it: a Redis miss, not a hit).
    let before = await b.stats()
    expect((await post(shopUrl(b.port), ACTIVE_CUSTOMER, { token })).data.activeCustomer).toEqual(customer)
    let after = await b.stats()
    expect(delta(before, after)).toMatchObject({ hits: 0, misses: 1, sets: 1 })
    expect(redisDelta(before, after)).toMatchObject({ hits: 1, misses: 0 })

    // Then B answers from its own store: hits, no Redis reads.
    before = after
    for (let i = 0; i < 3; i++) expect((await post(shopUrl(b.port), ACTIVE_CUSTOMER, { token })).data.activeCustomer).toEqual(customer)
    after = await b.stats()
    expect(delta(before, after)).toMatchObject({ hits: 3, misses: 0, sets: 0 })
    expect(redisDelta(before, after)).toMatchObject({ hits: 0, misses: 0 })

    // Logout on A deletes the session (A's store, Redis, and an invalidation B hears).
    const aBefore = await a.stats()
    const logout = await post(shopUrl(a.port), 'mutation { logout { success } }', { token })
    expect(logout.data.logout.success).toBe(true)
    const loggedOutAt = performance.now()
    expect((await a.stats()).deletes - aBefore.deletes).toBeGreaterThanOrEqual(1)

    let refusedAfter = null
    let tries = 0
    while (performance.now() - loggedOutAt <= INVALIDATION_BOUND_MS) {
      tries++
      const res = await post(shopUrl(b.port), ACTIVE_CUSTOMER, { token })
      if (res.data?.activeCustomer === null) {
        refusedAfter = performance.now() - loggedOutAt
        break
      }
      await sleep(5)
    }
    console.log(`two servers: B refused the token ${refusedAfter?.toFixed(1)} ms after A's logout returned (${tries} request(s) on B)`)
    expect(refusedAfter).not.toBeNull()
    expect(refusedAfter).toBeLessThanOrEqual(INVALIDATION_BOUND_MS)
    // And it stays refused.
    expect((await post(shopUrl(b.port), ACTIVE_CUSTOMER, { token })).data.activeCustomer).toBeNull()
    expect((await post(shopUrl(a.port), ACTIVE_CUSTOMER, { token })).data.activeCustomer).toBeNull()
    expect((await b.stats()).redis.invalidations).toBeGreaterThanOrEqual(1)
  })
})
