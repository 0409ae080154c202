'use strict'

// NativeSessionCachePlugin inside a real Vendure 3.7 server (@vendure/testing, sqljs), configured with
// the plugin line only: the strategy installed in the server and in the worker, the Admin API query
// `sessionCacheStats` for a SuperAdmin and refused to an administrator without ReadSystem, and the
// OpenTelemetry metrics read back through the SDK's in-memory exporter after real requests. The server
// runs in a worker_thread (see helpers/server-thread.js for why).

const path = require('node:path')
const { Worker } = require('node:worker_threads')
const gql = require('graphql-tag')
const { print } = require('graphql')
const { TestRedis } = require('../helpers/redis-server')
const { startServerThread } = require('./helpers/thread-rpc')
const { REDIS_FIELDS, STORE_FIELDS } = require('../../lib/stats-fields')
const fx = require('./fixtures')

jest.setTimeout(60_000)

const SERVER_THREAD = path.join(__dirname, 'helpers', 'plugin-server-thread.js')
const WORKER_THREAD = path.join(__dirname, 'helpers', 'plugin-worker-thread.js')
const DATA_DIR = path.join(__dirname, '__data__')
const TOKEN_HEADER = 'vendure-auth-token'

const STATS = gql`
  query SessionCacheStats {
    sessionCacheStats {
      name
      ${STORE_FIELDS.map((f) => f.name).join('\n')}
      redis {
        ${REDIS_FIELDS.map((f) => f.name).join('\n')}
      }
    }
  }
`
const ADMIN_LOGIN = gql`
  mutation Login($username: String!, $password: String!) {
    login(username: $username, password: $password) {
      __typename
      ... on CurrentUser {
        id
      }
    }
  }
`
const CREATE_ROLE = gql`
  mutation CreateRole($input: CreateRoleInput!) {
    createRole(input: $input) {
      id
    }
  }
`
const CREATE_ADMINISTRATOR = gql`
  mutation CreateAdministrator($input: CreateAdministratorInput!) {
    createAdministrator(input: $input) {
      id
    }
  }
`
const PRODUCTS = gql`
  query Products {
    products {
      totalItems
    }
  }
`

async function post(url, document, { token, variables } = {}) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query: print(document), variables }) })
  const body = await response.json()
  return { data: body.data, errors: body.errors, newToken: response.headers.get(TOKEN_HEADER) }
}

async function login(adminUrl, username, password) {
  const { data, errors, newToken } = await post(adminUrl, ADMIN_LOGIN, { variables: { username, password } })
  if (errors || data.login.__typename !== 'CurrentUser') throw new Error(`login as ${username} failed: ${JSON.stringify(errors ?? data)}`)
  return newToken
}

/** Runs a thread script to its single answer. */
function runThread(file, workerData) {
  return new Promise((resolve, reject) => {
    const worker = new Worker(file, { workerData })
    worker.once('message', (message) => {
      worker.terminate()
      message.error ? reject(new Error(message.error)) : resolve(message.result)
    })
    worker.once('error', reject)
  })
}

async function startServer(label, redisUrl) {
  const name = `plugin-e2e-${label}-${process.pid}-${Date.now()}`
  const port = await fx.freePort()
  const { worker, call } = await startServerThread(SERVER_THREAD, { name, port, dataDir: DATA_DIR, redisUrl })
  const adminUrl = `http://127.0.0.1:${port}/admin-api`
  const shopUrl = `http://127.0.0.1:${port}/shop-api`
  return {
    name,
    adminUrl,
    shopUrl,
    call,
    async stop() {
      try {
        await call('stop')
      } finally {
        await worker.terminate()
      }
    },
  }
}

describe('NativeSessionCachePlugin in a real Vendure server, configured with the plugin line only', () => {
  let server
  let superadminToken

  beforeAll(async () => {
    server = await startServer('local')
    superadminToken = await login(server.adminUrl, fx.SUPERADMIN.identifier, fx.SUPERADMIN.password)
  })
  afterAll(async () => {
    await server?.stop()
  })

  test('installs a NativeSessionCacheStrategy with the given options as authOptions.sessionCacheStrategy', async () => {
    expect(await server.call('strategy')).toEqual({ className: 'NativeSessionCacheStrategy', name: server.name })
  })

  test('sessionCacheStats answers a SuperAdmin with the store figures of this process, redis null without the option', async () => {
    for (let i = 0; i < 20; i++) await post(server.adminUrl, PRODUCTS, { token: superadminToken })
    const { data, errors } = await post(server.adminUrl, STATS, { token: superadminToken })
    expect(errors).toBeUndefined()
    const stats = data.sessionCacheStats
    expect(stats.name).toBe(server.name)
    expect(stats.redis).toBeNull()
    for (const field of STORE_FIELDS) expect(typeof stats[field.name]).toBe('number')
    // The SuperAdmin's session is cached and was read on each of the 20 requests.
    expect(stats.entries).toBeGreaterThanOrEqual(1)
    expect(stats.sets).toBeGreaterThanOrEqual(1)
    expect(stats.bytes).toBeGreaterThan(0)
    expect(stats.hits).toBeGreaterThanOrEqual(20)
    // The same figures stats() gives in the server (which has seen at least these).
    const direct = await server.call('stats')
    expect(direct.sets).toBeGreaterThanOrEqual(stats.sets)
  })

  test('sessionCacheStats is refused to an administrator whose role lacks ReadSystem, and to anonymous calls', async () => {
    const role = await post(server.adminUrl, CREATE_ROLE, {
      token: superadminToken,
      variables: { input: { code: `catalog-only-${Date.now()}`, description: 'catalog only', permissions: ['ReadCatalog'] } },
    })
    expect(role.errors).toBeUndefined()
    const identifier = `catalog-${Date.now()}@example.com`
    const admin = await post(server.adminUrl, CREATE_ADMINISTRATOR, {
      token: superadminToken,
      variables: { input: { firstName: 'Cat', lastName: 'Alog', emailAddress: identifier, password: 'catalog-pw', roleIds: [role.data.createRole.id] } },
    })
    expect(admin.errors).toBeUndefined()
    const catalogToken = await login(server.adminUrl, identifier, 'catalog-pw')

    // The role works for what it allows...
    const products = await post(server.adminUrl, PRODUCTS, { token: catalogToken })
    expect(products.errors).toBeUndefined()
    // ...and the figures are refused.
    const refused = await post(server.adminUrl, STATS, { token: catalogToken })
    expect(refused.data?.sessionCacheStats ?? null).toBeNull()
    expect(refused.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
    const anonymous = await post(server.adminUrl, STATS)
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
  })

  test('OpenTelemetry metrics report the store figures after a few hundred real requests', async () => {
    const before = await server.call('metrics')
    const hitsBefore = before['vendure.session_cache.hits']?.[0]?.value ?? 0
    for (let i = 0; i < 300; i++) await post(server.adminUrl, PRODUCTS, { token: superadminToken })
    const points = await server.call('metrics')
    const only = (metric) => {
      expect(points[metric]).toHaveLength(1)
      expect(points[metric][0].attributes).toEqual({ 'vendure.session_cache.name': server.name })
      return points[metric][0].value
    }
    // Every request read the session: 300 hits more (the near cache's hits reach the counter on stats()).
    expect(only('vendure.session_cache.hits') - hitsBefore).toBeGreaterThanOrEqual(300)
    expect(only('vendure.session_cache.entries')).toBeGreaterThanOrEqual(2)
    expect(only('vendure.session_cache.bytes')).toBeGreaterThan(0)
    expect(only('vendure.session_cache.sets')).toBeGreaterThanOrEqual(2)
    for (const metric of ['misses', 'deletes', 'evictions', 'expirations', 'rejected']) {
      expect(typeof only(`vendure.session_cache.${metric}`)).toBe('number')
    }
    // No Redis tier, no Redis figures.
    expect(points['vendure.session_cache.redis.trusted']).toBeUndefined()
  })

  test("Vendure's worker gets the strategy too, and it serves the server's sessions (one store per process)", async () => {
    const databaseLocation = await server.call('databaseLocation')
    const answer = await runThread(WORKER_THREAD, { name: server.name, databaseLocation, token: superadminToken })
    expect(answer.className).toBe('NativeSessionCacheStrategy')
    expect(answer.name).toBe(server.name)
    expect(answer.sessionUserId).toBeDefined()
  })
})

describe('NativeSessionCachePlugin with the redis option', () => {
  let redis
  let server

  beforeAll(async () => {
    redis = await TestRedis.start()
    server = await startServer('redis', redis.url)
  })
  afterAll(async () => {
    await server?.stop()
    await redis?.stop()
  })

  test("sessionCacheStats includes the tier's counters and whether it is trusted; the metrics too", async () => {
    const token = await login(server.adminUrl, fx.SUPERADMIN.identifier, fx.SUPERADMIN.password)
    for (let i = 0; i < 10; i++) await post(server.adminUrl, PRODUCTS, { token })
    const { data, errors } = await post(server.adminUrl, STATS, { token })
    expect(errors).toBeUndefined()
    const { redis: tier } = data.sessionCacheStats
    expect(tier).not.toBeNull()
    expect(tier.trustworthy).toBe(true)
    expect(tier.sets).toBeGreaterThanOrEqual(1)
    for (const field of REDIS_FIELDS) expect(typeof tier[field.name]).toBe(field.kind === 'flag' ? 'boolean' : 'number')

    const points = await server.call('metrics')
    expect(points['vendure.session_cache.redis.trusted']).toEqual([{ attributes: { 'vendure.session_cache.name': server.name }, value: 1 }])
    for (const metric of ['outages', 'lost_writes', 'hits', 'timeouts']) {
      expect(typeof points[`vendure.session_cache.redis.${metric}`]?.[0]?.value).toBe('number')
    }
  })
})
