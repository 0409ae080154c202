'use strict'

// A real Vendure server in its own process (child_process.fork), for the two-servers e2e test: every
// server shares one PostgreSQL database and one Redis, as a deployment with several instances does.
// argv: a JSON object { mode: 'seed' | 'serve', port, db: { host, port, database }, redis: { url, secret } }.
// 'seed' creates the schema and populates the fixtures (@vendure/testing's populate step), then exits.
// 'serve' boots Vendure with bootstrap() and answers IPC requests: { id, op: 'stats' | 'stop' }.

const fx = require('../fixtures')
const { NativeSessionCacheStrategy } = require('../../..')

const options = JSON.parse(process.argv[2])

function config(sessionCacheStrategy) {
  const c = fx.e2eConfig({ port: options.port, sessionCacheStrategy, authOptions: { tokenMethod: 'bearer' } })
  // Replaced, not merged: testConfig's sqljs options would otherwise remain.
  c.dbConnectionOptions = {
    type: 'postgres',
    host: options.db.host,
    port: options.db.port,
    username: 'postgres',
    database: options.db.database,
    synchronize: options.mode === 'seed',
    logging: false,
  }
  c.apiOptions.hostname = '127.0.0.1'
  return c
}

async function seed() {
  const { TestServer } = require('@vendure/testing')
  const c = config(new NativeSessionCacheStrategy({ name: `two-servers-seed-${process.pid}` }))
  await new TestServer(c).populateInitialData(c, fx.populateOptions)
}

async function serve() {
  const { bootstrap } = require('@vendure/core')
  const strategy = new NativeSessionCacheStrategy({ name: `two-servers-${process.pid}`, redis: options.redis })
  const app = await bootstrap(config(strategy))
  const ops = {
    stats: () => strategy.stats(),
    async stop() {
      await app.close()
      setImmediate(() => process.exit(0))
      return true
    },
  }
  process.on('message', async ({ id, op }) => {
    try {
      process.send({ id, result: await ops[op]() })
    } catch (error) {
      process.send({ id, error: String(error?.stack ?? error) })
    }
  })
}

// Never outlive the test process.
process.on('disconnect', () => process.exit(0))

;(options.mode === 'seed' ? seed() : serve()).then(
  () => (options.mode === 'seed' ? process.send({ done: true }, () => process.exit(0)) : process.send({ ready: true })),
  (error) => process.send({ startError: String(error?.stack ?? error) }, () => process.exit(1)),
)
