'use strict'

// A real Vendure server (@vendure/testing's createTestEnvironment + TestServer, sqljs) running in a
// worker_thread. Jest's module sandbox cannot boot Vendure: Vendure `import()`s modules while it
// bootstraps (its AppModule, graphql-upload's .mjs middleware), and Jest refuses dynamic imports without
// --experimental-vm-modules. A worker thread is plain Node. Being in the test's process, the server's
// NativeSessionCacheStrategy shares its store with the test thread by name, so the test reads stats()
// directly; what only this thread can see (the calls Vendure makes on the strategy, the SQL it runs) is
// recorded here and handed over on request.

const { parentPort, workerData } = require('node:worker_threads')
const { NativeSessionCacheStrategy } = require('../../..')
const fx = require('../fixtures')
const { serveOps, reportStartError } = require('./thread-rpc')

const { name, port, authOptions, dataDir } = workerData

/** Every call Vendure makes on the strategy, in order, with what matters about its argument and result. */
let calls = []
/** Every SQL statement the server runs, in order. */
let queries = []

function describeSession(session) {
  if (session === undefined || session === null) return session
  return {
    token: session.token,
    expiresIsDate: session.expires instanceof Date,
    expires: session.expires instanceof Date ? session.expires.getTime() : String(session.expires),
    cacheExpiry: session.cacheExpiry,
    activeOrderId: session.activeOrderId,
    activeChannelId: session.activeChannelId,
    userId: session.user?.id,
    identifier: session.user?.identifier,
    channelPermissions: session.user?.channelPermissions.map((c) => ({ id: c.id, code: c.code, permissions: c.permissions })),
  }
}

/** Wraps the strategy's methods on the instance itself: Vendure calls them through this object. */
function recordCalls(strategy) {
  for (const op of ['get', 'set', 'delete', 'clear']) {
    const original = strategy[op].bind(strategy)
    strategy[op] = (arg) => {
      const result = original(arg)
      if (op === 'get') calls.push({ op, token: arg, hit: result !== undefined, session: describeSession(result) })
      else if (op === 'set') calls.push({ op, token: arg.token, session: describeSession(arg) })
      else if (op === 'delete') calls.push({ op, token: arg })
      else calls.push({ op })
      return result
    }
  }
}

async function main() {
  const { createTestEnvironment, registerInitializer, SqljsInitializer } = require('@vendure/testing')
  const { TransactionalConnection } = require('@vendure/core')

  const strategy = new NativeSessionCacheStrategy({ name })
  recordCalls(strategy)
  const config = fx.e2eConfig({ port, sessionCacheStrategy: strategy, authOptions })
  registerInitializer('sqljs', new SqljsInitializer(fx.seedDir(dataDir)))
  const { server } = createTestEnvironment(config)
  await server.init(fx.populateOptions)

  const dataSource = server.app.get(TransactionalConnection).rawConnection
  const logQuery = dataSource.logger.logQuery.bind(dataSource.logger)
  dataSource.logger.logQuery = (query, parameters, queryRunner) => {
    queries.push(query)
    return logQuery(query, parameters, queryRunner)
  }

  const ops = {
    /**
     * The store's counters, read through the server's own strategy: that also adds the hits its near
     * cache answered (they reach the shared counters in batches, or at once on this thread's stats()).
     */
    stats: () => strategy.stats(),
    /** Hands over what was recorded since the last call, and starts afresh. */
    takeLog() {
      const log = { calls, queries }
      calls = []
      queries = []
      return log
    },
    /** Deletes a session's database row, as the clean-sessions job does before it deletes the cache entry. */
    async removeSessionRow(token) {
      await dataSource.query('DELETE FROM "session" WHERE "token" = ?', [token])
      const left = await dataSource.query('SELECT COUNT(*) AS n FROM "session" WHERE "token" = ?', [token])
      return Number(left[0].n)
    },
    async stop() {
      await server.destroy()
    },
  }

  serveOps(parentPort, ops)
}

main().catch((error) => reportStartError(parentPort, error))
