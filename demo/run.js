'use strict'

// npm run demo [-- --serve]
//
// Starts a real Vendure server (Vendure's own bootstrap(), sqljs seeded with a few products and customers
// from __test__/vendure/fixtures) with NativeSessionCacheStrategy as its session cache, logs in as the
// superadmin and as a customer over HTTP on 127.0.0.1, makes a few hundred GraphQL requests, prints what
// the cache did and exits. With --serve it then keeps serving until Ctrl-C.
//
// The seeded database is kept in .tmp/demo/ (the first run seeds it, which takes a while); the server
// works on an in-memory copy, so the file stays as seeded. Requiring the fixtures also turns Vendure's
// telemetry off: nothing leaves 127.0.0.1.

const path = require('node:path')
const { performance } = require('node:perf_hooks')
const { DefaultLogger, LogLevel, NoopLogger, bootstrap, defaultConfig, mergeConfig } = require('@vendure/core')
const { NativeSessionCacheStrategy } = require('..')
const fx = require('../__test__/vendure/fixtures')

const SERVE = process.argv.includes('--serve')
const DATA_DIR = path.resolve(__dirname, '..', '.tmp', 'demo')
const CACHE_LOG_CONTEXT = 'NativeSessionCache'

/**
 * Vendure's DefaultLogger, quiet: errors, and everything the session cache says. Vendure's own warnings
 * about this throwaway config (default superadmin password, permissive CORS, no scheduler) are dropped;
 * LOG=1 shows Vendure's whole log.
 */
class QuietLogger {
  #inner = new DefaultLogger({ level: LogLevel.Info })
  error(message, context, trace) {
    this.#inner.error(message, context, trace)
  }
  warn(message, context) {
    if (context === CACHE_LOG_CONTEXT) this.#inner.warn(message, context)
  }
  info(message, context) {
    if (context === CACHE_LOG_CONTEXT) this.#inner.info(message, context)
  }
  verbose() {}
  debug() {}
}

async function seed() {
  const seedConfig = fx.e2eConfig({
    port: await fx.freePort(),
    sessionCacheStrategy: new NativeSessionCacheStrategy({ name: 'demo-seed' }),
  })
  seedConfig.logger = new NoopLogger()
  const started = Date.now()
  const file = await fx.ensureSeeded(fx.seedDir(DATA_DIR), seedConfig, 'demo')
  const took = Date.now() - started
  if (took > 2000) console.log(`Seeded ${path.relative(process.cwd(), file)} in ${(took / 1000).toFixed(1)} s`)
  return file
}

/** What a Vendure project's config looks like with the native cache: the demo's server config. */
function serverConfig({ port, dbFile, sessionCacheStrategy }) {
  const config = mergeConfig(defaultConfig, {
    apiOptions: { hostname: '127.0.0.1', port },
    authOptions: {
      tokenMethod: 'bearer',
      sessionCacheStrategy,
      superadminCredentials: fx.SUPERADMIN,
    },
    paymentOptions: { paymentMethodHandlers: [] },
    logger: process.env.LOG ? new DefaultLogger({ level: LogLevel.Info }) : new QuietLogger(),
  })
  config.dbConnectionOptions = { type: 'sqljs', location: dbFile, autoSave: false, synchronize: false, logging: false }
  return config
}

/** One GraphQL request with Node's fetch; returns the data, the token Vendure handed out, and the time. */
async function request(url, query, { token, variables } = {}) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  const started = performance.now()
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query, variables }) })
  const body = await response.json()
  const ms = performance.now() - started
  if (!response.ok || body.errors) {
    throw new Error(`${url}: ${response.status} ${JSON.stringify(body.errors ?? body)}`)
  }
  return { data: body.data, newToken: response.headers.get('vendure-auth-token'), ms }
}

const median = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  const mid = sorted.length >> 1
  return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2
}

async function main() {
  const dbFile = await seed()
  const port = Number(process.env.PORT) || (await fx.freePort())
  const sessionCache = new NativeSessionCacheStrategy({ name: 'demo', maxEntries: 100_000, maxBytes: 64 * 2 ** 20 })
  const app = await bootstrap(serverConfig({ port, dbFile, sessionCacheStrategy: sessionCache }))
  const adminUrl = `http://127.0.0.1:${port}/admin-api`
  const shopUrl = `http://127.0.0.1:${port}/shop-api`

  const rows = []
  /** Runs `count` requests made by `next(i)` one after another and records what the cache did meanwhile. */
  async function phase(label, count, next) {
    const before = sessionCache.stats()
    const times = []
    for (let i = 0; i < count; i++) times.push((await next(i)).ms)
    const after = sessionCache.stats()
    rows.push({
      label,
      requests: count,
      hits: after.hits - before.hits,
      misses: after.misses - before.misses,
      sets: after.sets - before.sets,
      entries: after.entries,
      bytes: after.bytes,
      times,
    })
  }

  const LOGIN = `mutation ($username: String!, $password: String!) {
    login(username: $username, password: $password) { ... on CurrentUser { id identifier } ... on ErrorResult { errorCode message } }
  }`
  const admin = await request(adminUrl, LOGIN, { variables: { username: fx.SUPERADMIN.identifier, password: fx.SUPERADMIN.password } })
  const adminToken = admin.newToken
  const { customers } = (await request(adminUrl, '{ customers(options: { take: 1 }) { items { emailAddress } } }', { token: adminToken })).data
  const customerEmail = customers.items[0].emailAddress
  const customer = await request(shopUrl, LOGIN, { variables: { username: customerEmail, password: fx.CUSTOMER_PASSWORD } })
  if (customer.data.login.errorCode) throw new Error(`customer login: ${customer.data.login.message}`)
  const customerToken = customer.newToken

  const adminQueries = ['{ me { id identifier } }', '{ products(options: { take: 5 }) { totalItems items { name } } }', '{ activeChannel { code } }']
  await phase('superadmin, Admin API', 150, (i) => request(adminUrl, adminQueries[i % adminQueries.length], { token: adminToken }))

  const shopQueries = [
    '{ activeCustomer { id emailAddress } }',
    '{ activeOrder { code totalQuantity } }',
    '{ products(options: { take: 5 }) { items { name } } }',
  ]
  const ADD_ITEM = 'mutation { addItemToOrder(productVariantId: "1", quantity: 1) { ... on Order { code totalQuantity } } }'
  await phase('customer, Shop API', 200, (i) => request(shopUrl, i % 50 === 0 ? ADD_ITEM : shopQueries[i % shopQueries.length], { token: customerToken }))

  const guests = []
  await phase('new guests, Shop API', 50, async () => {
    const answer = await request(shopUrl, ADD_ITEM)
    guests.push(answer.newToken)
    return answer
  })
  await phase('returning guests, Shop API', 100, (i) => request(shopUrl, '{ activeOrder { code totalQuantity } }', { token: guests[i % guests.length] }))

  printTable(rows)

  if (SERVE) {
    console.log(`\nServing (Ctrl-C to stop):\n  Admin API  ${adminUrl}   (superadmin / superadmin)`)
    console.log(`  Shop API   ${shopUrl}   (${customerEmail} / ${fx.CUSTOMER_PASSWORD})`)
    console.log('  sessionCache.stats() is printed every 30 s while it changes.')
    let last = ''
    setInterval(() => {
      const stats = JSON.stringify(sessionCache.stats())
      if (stats !== last) console.log(`stats ${stats}`)
      last = stats
    }, 30_000).unref()
    return
  }
  await app.close()
  process.exit(0)
}

function printTable(rows) {
  const total = {
    label: 'total',
    requests: rows.reduce((n, r) => n + r.requests, 0),
    hits: rows.reduce((n, r) => n + r.hits, 0),
    misses: rows.reduce((n, r) => n + r.misses, 0),
    sets: rows.reduce((n, r) => n + r.sets, 0),
    entries: rows.at(-1).entries,
    bytes: rows.at(-1).bytes,
    times: rows.flatMap((r) => r.times),
  }
  const columns = [
    ['phase', (r) => r.label],
    ['requests', (r) => r.requests.toLocaleString('en')],
    ['cache hits', (r) => r.hits.toLocaleString('en')],
    ['misses', (r) => r.misses.toLocaleString('en')],
    ['sets', (r) => r.sets.toLocaleString('en')],
    ['entries', (r) => r.entries.toLocaleString('en')],
    ['bytes', (r) => r.bytes.toLocaleString('en')],
    ['median ms', (r) => median(r.times).toFixed(2)],
  ]
  const cells = [...rows, total].map((r) => columns.map(([, cell]) => cell(r)))
  const widths = columns.map(([title], c) => Math.max(title.length, ...cells.map((row) => row[c].length)))
  const line = (values) => values.map((v, c) => (c === 0 ? v.padEnd(widths[c]) : v.padStart(widths[c]))).join('  ')
  console.log()
  console.log(line(columns.map(([title]) => title)))
  console.log(widths.map((w) => '-'.repeat(w)).join('  '))
  cells.forEach((row, i) => {
    if (i === rows.length) console.log(widths.map((w) => '-'.repeat(w)).join('  '))
    console.log(line(row))
  })
  console.log('\nentries and bytes: held after the phase. Hits and misses are the session cache\'s; a request')
  console.log('reads the cache once per top-level field it asks for (Vendure\'s AuthGuard runs per resolver).')
}

main().catch((error) => {
  console.error(error)
  process.exit(1)
})
