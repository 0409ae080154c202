'use strict'

// NativeSessionCacheStrategy inside a real Vendure 3.7 server: @vendure/testing's createTestEnvironment,
// sqljs seeded from ./fixtures, real GraphQL requests over HTTP to the Admin and Shop APIs.
//
// The server half of each environment runs in a worker_thread (helpers/server-thread.js): Jest's module
// sandbox cannot boot Vendure, which import()s modules at bootstrap. The clients (the environment's
// adminClient / shopClient) run here. Being one process, this thread opens the server's store by name
// (`observer`) and reads entries from it directly. stats() is asked of the server thread's strategy: the
// hits its near cache answers reach the shared counters only in batches, or when that thread calls
// stats(). The calls Vendure makes on the strategy and the SQL it runs are recorded in the server thread
// and fetched with takeLog().

const path = require('node:path')
const { Worker } = require('node:worker_threads')
const gql = require('graphql-tag')
const { print } = require('graphql')
const { createTestEnvironment, E2E_DEFAULT_CHANNEL_TOKEN, SimpleGraphQLClient } = require('@vendure/testing')
const { NativeSessionCacheStrategy } = require('../..')
const fx = require('./fixtures')
const { startServerThread } = require('./helpers/thread-rpc')

jest.setTimeout(30_000)

const SERVER_THREAD = path.join(__dirname, 'helpers', 'server-thread.js')
const DATA_DIR = path.join(__dirname, '__data__')
const PACKAGE_ROOT = path.resolve(__dirname, '..', '..')
const TOKEN_HEADER = 'vendure-auth-token'

const ME = gql`
  query Me {
    me {
      id
      identifier
      channels {
        code
        permissions
      }
    }
  }
`
const ACTIVE_CUSTOMER = gql`
  query ActiveCustomer {
    activeCustomer {
      id
      emailAddress
    }
  }
`
const ACTIVE_ORDER = gql`
  query ActiveOrder {
    activeOrder {
      id
      code
      totalQuantity
      lines {
        quantity
        productVariant {
          id
        }
      }
    }
  }
`
const ADD_ITEM_TO_ORDER = gql`
  mutation AddItemToOrder($productVariantId: ID!, $quantity: Int!) {
    addItemToOrder(productVariantId: $productVariantId, quantity: $quantity) {
      __typename
      ... on Order {
        id
        code
        totalQuantity
      }
      ... on ErrorResult {
        errorCode
        message
      }
    }
  }
`
const LOGOUT = gql`
  mutation Logout {
    logout {
      success
    }
  }
`
const CUSTOMERS = gql`
  query Customers {
    customers(options: { sort: { id: ASC } }) {
      totalItems
      items {
        id
        emailAddress
      }
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

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** The numeric primary key behind an id of @vendure/testing's entity id strategy ('T_12' → 12). */
const pk = (id) => Number(String(id).replace(/^T_/, ''))
/** How each counter of a stats() snapshot moved. */
const delta = (before, after) => Object.fromEntries(Object.keys(after).map((k) => [k, after[k] - before[k]]))
/** The statements that read or write the session table. */
const sessionSql = (queries) => queries.filter((q) => /"session"/.test(q))

/** A GraphQL request with exactly the given token (or none): status, data, errors and any new token. */
async function post(url, document, { token, channelToken, variables } = {}) {
  const headers = { 'content-type': 'application/json' }
  if (token) headers.authorization = `Bearer ${token}`
  if (channelToken) headers['vendure-token'] = channelToken
  const response = await fetch(url, { method: 'POST', headers, body: JSON.stringify({ query: print(document), variables }) })
  const body = await response.json()
  return { status: response.status, data: body.data, errors: body.errors, newToken: response.headers.get(TOKEN_HEADER) }
}

/**
 * Starts a Vendure server in a worker_thread with a NativeSessionCacheStrategy named uniquely, and the
 * test environment's clients for it here.
 */
async function startEnvironment(label, authOptions = {}) {
  const name = `vendure-e2e-${label}-${process.pid}-${Date.now()}`
  const port = await fx.freePort()
  const observer = new NativeSessionCacheStrategy({ name })
  const { worker, call } = await startServerThread(SERVER_THREAD, { name, port, authOptions, dataDir: DATA_DIR })

  const config = fx.e2eConfig({ port, sessionCacheStrategy: observer, authOptions })
  const { adminUrl, shopUrl } = fx.apiUrls(config)
  const { adminClient, shopClient } = createTestEnvironment(config)
  adminClient.apiUrl = adminUrl
  shopClient.apiUrl = shopUrl
  const client = (url) => Object.assign(new SimpleGraphQLClient(config, url), { apiUrl: url })

  return {
    name,
    observer,
    config,
    adminUrl,
    shopUrl,
    adminClient,
    shopClient,
    newAdminClient: () => client(adminUrl),
    newShopClient: () => client(shopUrl),
    /** What Vendure did since the last takeLog(): calls on the strategy, and SQL statements. */
    /** The store's counters, hits of the server thread's near cache included. */
    stats: () => call('stats'),
    takeLog: () => call('takeLog'),
    removeSessionRow: (token) => call('removeSessionRow', token),
    async stop() {
      try {
        await call('stop')
      } finally {
        await worker.terminate()
        observer.destroy()
      }
    },
  }
}

/** Runs `delete(token)` on a strategy of the same name in a fresh worker_thread, as a job would. */
function deleteFromAnotherThread(name, token) {
  const source = `
    const { parentPort, workerData } = require('node:worker_threads')
    const { NativeSessionCacheStrategy } = require(workerData.packageRoot)
    const cache = new NativeSessionCacheStrategy({ name: workerData.name })
    cache.delete(workerData.token)
    parentPort.postMessage(cache.get(workerData.token) === undefined)
  `
  return new Promise((resolve, reject) => {
    const worker = new Worker(source, { eval: true, workerData: { packageRoot: PACKAGE_ROOT, name, token } })
    worker.once('message', (gone) => worker.terminate().then(() => resolve(gone)))
    worker.once('error', reject)
  })
}

describe('NativeSessionCacheStrategy in a Vendure server', () => {
  let env
  let customers

  beforeAll(async () => {
    env = await startEnvironment('main')
    await env.adminClient.asSuperAdmin()
    customers = (await env.adminClient.query(CUSTOMERS)).customers.items
    expect(customers).toHaveLength(fx.CUSTOMER_COUNT)
    await env.takeLog()
  }, 90_000)

  afterAll(async () => {
    await env?.stop()
  })

  test('superadmin: one set at login, then every `me` is a cache hit and the session table is not read', async () => {
    const admin = env.newAdminClient()
    const login = await admin.asUserWithCredentials(fx.SUPERADMIN.identifier, fx.SUPERADMIN.password)
    expect(login.identifier).toBe('superadmin')
    const token = admin.getAuthToken()
    expect(token).toMatch(/^[0-9a-f]{64}$/)
    let log = await env.takeLog()
    expect(log.calls.map((c) => c.op)).toEqual(['set'])
    expect(log.calls[0].session).toMatchObject({ token, identifier: 'superadmin', expiresIsDate: true })

    // The first request after login finds no active channel on the session: Vendure sets it once.
    await admin.query(ME)
    log = await env.takeLog()
    expect(log.calls.map((c) => [c.op, c.hit])).toEqual([['get', true], ['set', undefined]])
    expect(log.calls[1].session.activeChannelId).toBe(1)

    const before = await env.stats()
    for (let i = 0; i < 5; i++) {
      const { me } = await admin.query(ME)
      expect(me.identifier).toBe('superadmin')
      expect(me.channels[0].permissions).toContain('SuperAdmin')
    }
    expect(delta(before, await env.stats())).toMatchObject({ hits: 5, misses: 0, sets: 0 })

    log = await env.takeLog()
    expect(log.calls).toHaveLength(5)
    for (const call of log.calls) {
      expect(call).toMatchObject({ op: 'get', token, hit: true })
      // What came back is exact: a Date, and a numeric channel id equal to the request's, so Vendure's
      // strict `activeChannelId !== channelId` check does not trigger a write on every request.
      expect(call.session).toMatchObject({ expiresIsDate: true, activeChannelId: 1, userId: 1, identifier: 'superadmin' })
    }
    expect(log.queries.length).toBeGreaterThan(0) // the resolver still reads the user: the SQL log works
    expect(sessionSql(log.queries)).toEqual([])
  })

  test('customer: login, activeCustomer, addItemToOrder sets the active order, later requests see it from the cache', async () => {
    const [customer] = customers
    const shop = env.newShopClient()
    await shop.asUserWithCredentials(customer.emailAddress, fx.CUSTOMER_PASSWORD)
    const token = shop.getAuthToken()
    await shop.query(ACTIVE_CUSTOMER) // sets the active channel, as for any first request
    await env.takeLog()

    let before = await env.stats()
    const { activeCustomer } = await shop.query(ACTIVE_CUSTOMER)
    expect(activeCustomer).toEqual({ id: customer.id, emailAddress: customer.emailAddress })
    expect(delta(before, await env.stats())).toMatchObject({ hits: 1, misses: 0, sets: 0 })
    await env.takeLog()

    before = await env.stats()
    const { addItemToOrder: order } = await shop.query(ADD_ITEM_TO_ORDER, { productVariantId: 'T_1', quantity: 2 })
    expect(order).toMatchObject({ __typename: 'Order', totalQuantity: 2 })
    expect(delta(before, await env.stats())).toMatchObject({ hits: 1, misses: 0, sets: 1 })
    let log = await env.takeLog()
    expect(log.calls.map((c) => c.op)).toEqual(['get', 'set'])
    expect(log.calls[0].session.activeOrderId).toBeNull()
    expect(log.calls[1].session).toMatchObject({ token, activeOrderId: pk(order.id), activeChannelId: 1, expiresIsDate: true })

    // This thread reads the same store: the entry carries the order, with its id still a number.
    const cached = env.observer.get(token)
    expect(cached.activeOrderId).toBe(pk(order.id))
    expect(cached.expires).toBeInstanceOf(Date)
    expect(cached.user.identifier).toBe(customer.emailAddress)

    before = await env.stats()
    const { activeOrder } = await shop.query(ACTIVE_ORDER)
    expect(activeOrder).toMatchObject({ id: order.id, code: order.code, totalQuantity: 2 })
    const { addItemToOrder: again } = await shop.query(ADD_ITEM_TO_ORDER, { productVariantId: 'T_3', quantity: 1 })
    expect(again).toMatchObject({ id: order.id, totalQuantity: 3 })
    expect(delta(before, await env.stats())).toMatchObject({ hits: 2, misses: 0, sets: 0 })
    log = await env.takeLog()
    expect(log.calls.map((c) => [c.op, c.hit, c.session.activeOrderId])).toEqual([
      ['get', true, pk(order.id)],
      ['get', true, pk(order.id)],
    ])
    expect(sessionSql(log.queries)).toEqual([])
  })

  test('active channel: a Channel insert clears the cache, switching channels sets the session again', async () => {
    const [, , customer] = customers
    const { activeChannel } = await env.adminClient.query(gql`
      {
        activeChannel {
          defaultTaxZone {
            id
          }
        }
      }
    `)
    const shop = env.newShopClient()
    await shop.asUserWithCredentials(customer.emailAddress, fx.CUSTOMER_PASSWORD)
    const token = shop.getAuthToken()
    await shop.query(ACTIVE_CUSTOMER)

    const before = await env.stats()
    const { createChannel } = await env.adminClient.query(
      gql`
        mutation CreateChannel($input: CreateChannelInput!) {
          createChannel(input: $input) {
            ... on Channel {
              id
              code
              token
            }
            ... on ErrorResult {
              errorCode
              message
            }
          }
        }
      `,
      {
        input: {
          code: 'second-channel',
          token: 'second-channel-token',
          defaultLanguageCode: 'en',
          pricesIncludeTax: true,
          defaultCurrencyCode: 'GBP',
          defaultShippingZoneId: activeChannel.defaultTaxZone.id,
          defaultTaxZoneId: activeChannel.defaultTaxZone.id,
        },
      },
    )
    expect(createChannel.code).toBe('second-channel')
    expect(delta(before, await env.stats()).clears).toBeGreaterThanOrEqual(1)
    expect(env.observer.get(token)).toBeUndefined() // cleared
    await env.takeLog()

    const inSecond = await post(env.shopUrl, ACTIVE_CUSTOMER, { token, channelToken: createChannel.token })
    expect(inSecond.data.activeCustomer.emailAddress).toBe(customer.emailAddress)
    let log = await env.takeLog()
    const mine = log.calls.filter((c) => c.token === token)
    expect(mine[0]).toMatchObject({ op: 'get', hit: false }) // cleared: reloaded from the database
    expect(mine.at(-1)).toMatchObject({ op: 'set', session: { activeChannelId: pk(createChannel.id) } })
    expect(env.observer.get(token).activeChannelId).toBe(pk(createChannel.id))

    const stillSecond = await post(env.shopUrl, ACTIVE_CUSTOMER, { token, channelToken: createChannel.token })
    expect(stillSecond.data.activeCustomer.emailAddress).toBe(customer.emailAddress)
    log = await env.takeLog()
    expect(log.calls.map((c) => [c.op, c.hit, c.session?.activeChannelId])).toEqual([['get', true, pk(createChannel.id)]])

    const backHome = await post(env.shopUrl, ACTIVE_CUSTOMER, { token, channelToken: E2E_DEFAULT_CHANNEL_TOKEN })
    expect(backHome.data.activeCustomer.emailAddress).toBe(customer.emailAddress)
    log = await env.takeLog()
    expect(log.calls.filter((c) => c.op === 'set').at(-1).session.activeChannelId).toBe(1)
    expect(env.observer.get(token).activeChannelId).toBe(1)
  })

  test('logout deletes the session (all of the user’s sessions): the token stops working at once', async () => {
    const [customer] = customers
    const phone = env.newShopClient()
    const laptop = env.newShopClient()
    await phone.asUserWithCredentials(customer.emailAddress, fx.CUSTOMER_PASSWORD)
    await laptop.asUserWithCredentials(customer.emailAddress, fx.CUSTOMER_PASSWORD)
    const phoneToken = phone.getAuthToken()
    const laptopToken = laptop.getAuthToken()
    expect(phoneToken).not.toBe(laptopToken)
    for (const token of [phoneToken, laptopToken]) {
      expect((await post(env.shopUrl, ACTIVE_CUSTOMER, { token })).data.activeCustomer.id).toBe(customer.id)
    }
    await env.takeLog()

    const before = await env.stats()
    const { logout } = await phone.query(LOGOUT)
    expect(logout.success).toBe(true)
    const log = await env.takeLog()
    const deleted = log.calls.filter((c) => c.op === 'delete').map((c) => c.token)
    expect(deleted).toEqual(expect.arrayContaining([phoneToken, laptopToken]))
    expect(delta(before, await env.stats()).deletes).toBeGreaterThanOrEqual(2)

    for (const token of [phoneToken, laptopToken]) {
      const missesBefore = (await env.stats()).misses
      const after = await post(env.shopUrl, ACTIVE_CUSTOMER, { token })
      expect(after.data.activeCustomer).toBeNull()
      // Vendure answers as a guest and hands out a new anonymous token.
      expect(after.newToken).toMatch(/^[0-9a-f]{64}$/)
      expect(after.newToken).not.toBe(token)
      expect((await env.stats()).misses).toBe(missesBefore + 1)
    }
  })

  test('a deleted customer: deleteCustomer deletes the session and the token stops working at once', async () => {
    const [, customer] = customers
    const shop = env.newShopClient()
    await shop.asUserWithCredentials(customer.emailAddress, fx.CUSTOMER_PASSWORD)
    const token = shop.getAuthToken()
    await shop.query(ACTIVE_CUSTOMER)
    expect((await shop.query(ACTIVE_CUSTOMER)).activeCustomer.id).toBe(customer.id)
    expect(env.observer.get(token)).toBeDefined()
    await env.takeLog()

    const { deleteCustomer } = await env.adminClient.query(
      gql`
        mutation DeleteCustomer($id: ID!) {
          deleteCustomer(id: $id) {
            result
          }
        }
      `,
      { id: customer.id },
    )
    expect(deleteCustomer.result).toBe('DELETED')
    const log = await env.takeLog()
    expect(log.calls).toContainEqual({ op: 'delete', token })
    expect(env.observer.get(token)).toBeUndefined()

    const missesBefore = (await env.stats()).misses
    const after = await post(env.shopUrl, ACTIVE_CUSTOMER, { token })
    expect(after.data.activeCustomer).toBeNull()
    expect(after.newToken).not.toBe(token)
    expect((await env.stats()).misses).toBe(missesBefore + 1)
  })

  test('a Role change clears the cache; an administrator whose role lost a permission is refused on the next request', async () => {
    let before = await env.stats()
    const { createRole: role } = await env.adminClient.query(
      gql`
        mutation CreateRole($input: CreateRoleInput!) {
          createRole(input: $input) {
            id
            code
          }
        }
      `,
      { input: { code: 'customer-reader', description: 'Reads customers', permissions: ['ReadCustomer', 'ReadCatalog'], channelIds: ['T_1'] } },
    )
    expect(delta(before, await env.stats()).clears).toBeGreaterThanOrEqual(1)

    await env.adminClient.query(
      gql`
        mutation CreateAdministrator($input: CreateAdministratorInput!) {
          createAdministrator(input: $input) {
            id
          }
        }
      `,
      { input: { firstName: 'Rita', lastName: 'Reader', emailAddress: 'rita@example.com', password: 'rita-secret', roleIds: [role.id] } },
    )
    const rita = env.newAdminClient()
    await rita.asUserWithCredentials('rita@example.com', 'rita-secret')
    const token = rita.getAuthToken()
    expect((await rita.query(CUSTOMERS)).customers.totalItems).toBeGreaterThan(0)
    expect((await rita.query(CUSTOMERS)).customers.totalItems).toBeGreaterThan(0)
    let log = await env.takeLog()
    const lastGet = log.calls.filter((c) => c.op === 'get' && c.token === token).at(-1)
    expect(lastGet.hit).toBe(true)
    expect(lastGet.session.channelPermissions[0].permissions).toEqual(expect.arrayContaining(['ReadCustomer', 'ReadCatalog']))

    before = await env.stats()
    await env.adminClient.query(
      gql`
        mutation UpdateRole($input: UpdateRoleInput!) {
          updateRole(input: $input) {
            id
            permissions
          }
        }
      `,
      { input: { id: role.id, permissions: ['ReadCatalog'] } },
    )
    expect(delta(before, await env.stats()).clears).toBeGreaterThanOrEqual(1)
    expect(env.observer.get(token)).toBeUndefined()
    await env.takeLog()

    await expect(rita.query(CUSTOMERS)).rejects.toThrow(/not currently authorized/)
    log = await env.takeLog()
    const ritas = log.calls.filter((c) => c.token === token)
    expect(ritas.map((c) => [c.op, c.hit])).toEqual([['get', false], ['set', undefined]])
    expect(ritas[1].session.channelPermissions[0].permissions).not.toContain('ReadCustomer')
    // Still logged in, with what the role has left.
    expect((await rita.query(PRODUCTS)).products.totalItems).toBeGreaterThan(0)
  })

  test('100 concurrent requests on one token are all answered from the cache', async () => {
    const admin = env.newAdminClient()
    await admin.asSuperAdmin()
    const token = admin.getAuthToken()
    await admin.query(ME)
    await env.takeLog()

    const before = await env.stats()
    const answers = await Promise.all(Array.from({ length: 100 }, () => post(env.adminUrl, ME, { token })))
    for (const answer of answers) {
      expect(answer.status).toBe(200)
      expect(answer.errors).toBeUndefined()
      expect(answer.data.me.identifier).toBe('superadmin')
      expect(answer.newToken).toBeNull()
    }
    expect(delta(before, await env.stats())).toMatchObject({ hits: 100, misses: 0, sets: 0 })
    const log = await env.takeLog()
    expect(sessionSql(log.queries)).toEqual([])
  })

  test('100 concurrent requests on 100 guest tokens each get their own session and order', async () => {
    // 100 guests, each with an order of its own quantity (made in batches: sqljs has one connection).
    const guests = []
    for (let batch = 0; batch < 10; batch++) {
      const made = await Promise.all(
        Array.from({ length: 10 }, async (_, i) => {
          const quantity = batch * 10 + i + 1
          const response = await post(env.shopUrl, ADD_ITEM_TO_ORDER, { variables: { productVariantId: 'T_4', quantity } })
          expect(response.data.addItemToOrder).toMatchObject({ __typename: 'Order', totalQuantity: quantity })
          return { token: response.newToken, quantity, code: response.data.addItemToOrder.code }
        }),
      )
      guests.push(...made)
    }
    expect(new Set(guests.map((g) => g.token)).size).toBe(100)
    const log = await env.takeLog()
    // Per new guest: one set for the anonymous session, one for its active channel, one for its order.
    expect(log.calls.filter((c) => c.op === 'set')).toHaveLength(300)

    const before = await env.stats()
    const answers = await Promise.all(guests.map(({ token }) => post(env.shopUrl, ACTIVE_ORDER, { token })))
    answers.forEach((answer, i) => {
      expect(answer.errors).toBeUndefined()
      expect(answer.newToken).toBeNull()
      expect(answer.data.activeOrder).toMatchObject({ code: guests[i].code, totalQuantity: guests[i].quantity })
    })
    expect(delta(before, await env.stats())).toMatchObject({ hits: 100, misses: 0, sets: 0 })
    expect(sessionSql((await env.takeLog()).queries)).toEqual([])
  })

  test('a delete from another worker_thread is seen by the server thread at once', async () => {
    const [, , customer] = customers
    const shop = env.newShopClient()
    await shop.asUserWithCredentials(customer.emailAddress, fx.CUSTOMER_PASSWORD)
    const token = shop.getAuthToken()
    await shop.query(ACTIVE_CUSTOMER)
    await shop.query(ACTIVE_CUSTOMER)
    await env.takeLog()

    // A cache-only delete: the next request misses, Vendure reloads the session from its database.
    expect(await deleteFromAnotherThread(env.name, token)).toBe(true)
    let before = await env.stats()
    expect((await post(env.shopUrl, ACTIVE_CUSTOMER, { token })).data.activeCustomer.id).toBe(customer.id)
    expect(delta(before, await env.stats())).toMatchObject({ hits: 0, misses: 1, sets: 1 })
    let log = await env.takeLog()
    expect(log.calls.map((c) => [c.op, c.hit])).toEqual([['get', false], ['set', undefined]])
    expect(sessionSql(log.queries).length).toBeGreaterThan(0)

    // As the clean-sessions job does: the row goes, then the cache entry, from another thread. Until
    // the entry goes the cache still answers; once it is gone the token is refused.
    expect(await env.removeSessionRow(token)).toBe(0)
    before = await env.stats()
    expect((await post(env.shopUrl, ACTIVE_CUSTOMER, { token })).data.activeCustomer.id).toBe(customer.id)
    expect(delta(before, await env.stats())).toMatchObject({ hits: 1, misses: 0 })

    await env.takeLog()
    expect(await deleteFromAnotherThread(env.name, token)).toBe(true)
    before = await env.stats()
    const refused = await post(env.shopUrl, ACTIVE_CUSTOMER, { token })
    expect(refused.data.activeCustomer).toBeNull()
    expect(refused.newToken).not.toBe(token)
    expect(delta(before, await env.stats())).toMatchObject({ hits: 0, misses: 1 })
    log = await env.takeLog()
    expect(log.calls.filter((c) => c.token === token).map((c) => [c.op, c.hit])).toEqual([['get', false]])
  })
})

describe('an expired session (sessionDuration 3s)', () => {
  let env

  beforeAll(async () => {
    env = await startEnvironment('expiry', { sessionDuration: '3s' })
  }, 90_000)

  afterAll(async () => {
    await env?.stop()
  })

  test('is served from the cache with expires as a Date, then refused once it has expired', async () => {
    const loginAt = Date.now()
    await env.adminClient.asSuperAdmin()
    const token = env.adminClient.getAuthToken()
    expect((await env.adminClient.query(ME)).me.identifier).toBe('superadmin')
    expect((await env.adminClient.query(ME)).me.identifier).toBe('superadmin')
    const log = await env.takeLog()
    const gets = log.calls.filter((c) => c.op === 'get')
    expect(gets.length).toBeGreaterThanOrEqual(2)
    for (const get of gets) {
      expect(get).toMatchObject({ token, hit: true, session: { expiresIsDate: true } })
      expect(get.session.expires).toBeGreaterThanOrEqual(loginAt + 3000)
      expect(get.session.expires).toBeLessThan(Date.now() + 3000)
    }
    const cached = env.observer.get(token)
    expect(cached.expires).toBeInstanceOf(Date)
    expect(cached.expires.getTime()).toBe(gets[0].session.expires)

    await sleep(cached.expires.getTime() - Date.now() + 250)
    const before = await env.stats()
    const expired = await post(env.adminUrl, ME, { token })
    expect(expired.data?.me ?? null).toBeNull()
    expect(expired.errors?.[0]?.extensions?.code).toBe('FORBIDDEN')
    expect(expired.newToken).not.toBe(token)
    expect(delta(before, await env.stats())).toMatchObject({ hits: 0, misses: 1 })
    const after = await env.takeLog()
    expect(after.calls.filter((c) => c.token === token).map((c) => [c.op, c.hit])).toEqual([['get', false]])
  })
})
