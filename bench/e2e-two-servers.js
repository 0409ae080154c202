'use strict'

// npm run bench:e2e2 [-- --seconds N] [-- --delay-us D] [-- --rounds R]
//
// End to end with two servers: starts a private PostgreSQL cluster and a redis-server (the two-servers
// e2e test's helpers: __test__/vendure/helpers/postgres.js, __test__/helpers/redis-server.js), seeds the
// database once (__test__/vendure/helpers/server-process.js, mode 'seed'), then for each configuration
// forks two Vendure servers (Vendure's own bootstrap(), both on that one database and that one Redis),
// logs in as the superadmin once on server A and drives the Admin API query `{ me { id identifier } }`
// with that bearer token on BOTH servers at once: two autocannon instances in parallel, at 1 and at 16
// connections per server, each after a 1 s warm-up. The servers are stopped before the next
// configuration starts.
//
// Between the servers and Redis is a network hop: examples/delay_proxy.rs (built here with cargo) holds
// every chunk for D µs each way (default 250: about 0.75 ms round trip measured with redis-benchmark,
// a hop between machines in one data centre). This kernel has no `tc netem`; the proxy stays on
// 127.0.0.1. `--delay-us 0` connects straight to Redis. PostgreSQL is reached on loopback directly.
//
// Configurations:
//   native-redis:  this project, `new NativeSessionCacheStrategy({ redis: { url, secret } })` on both;
//   default-redis: Vendure's DefaultSessionCacheStrategy over RedisCacheStrategy
//                  (RedisCachePlugin.init({ redisOptions: { host: '127.0.0.1', port } })) on both.
//
// Total req/s is the sum over both servers of requests / duration; latency is the median (and p99) of
// every response time per server. R rounds (default 3), alternating which configuration goes first;
// each figure is the median over the rounds. Prints a markdown table and writes bench/e2e-two-servers-results.json.
// Everything (servers, proxy, Redis, PostgreSQL) is stopped at the end, on errors too. Only 127.0.0.1 is
// used (requiring the fixtures turns Vendure's telemetry off). LOG=1 shows the servers' Vendure log.

const { fork } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const fx = require('../__test__/vendure/fixtures')

const RESULTS = path.join(__dirname, 'e2e-two-servers-results.json')
const SEED_PROCESS = path.resolve(__dirname, '..', '__test__', 'vendure', 'helpers', 'server-process.js')
const { QUERY, graphql, loginSuperadmin, median, cannon } = require('./http-load')
const CONNECTIONS = [1, 16]
const WARMUP_SECONDS = 1
const DEFAULT_DELAY_US = 250
const SECRET = 'bench-e2e-two-servers-shared-secret'
const DATABASE = 'vendure_bench_two_servers'
const CHILD_START_TIMEOUT_MS = 120_000
const CHILD_STOP_TIMEOUT_MS = 15_000

const CONFIGURATIONS = [
  { id: 'native-redis', label: 'this project (NativeSessionCacheStrategy, redis: { url, secret })' },
  { id: 'default-redis', label: 'DefaultSessionCacheStrategy + RedisCacheStrategy (RedisCachePlugin)' },
]

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------------------------------
// Child process: one Vendure server for one configuration, until told to stop.

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

/** As helpers/server-process.js builds its config (PostgreSQL, bearer tokens), with this configuration's session cache. */
function serverConfig({ configuration, port, db, redis }) {
  const { DefaultSessionCacheStrategy, RedisCachePlugin } = require('@vendure/core')
  let sessionCacheStrategy
  const plugins = []
  switch (configuration) {
    case 'native-redis': {
      const { NativeSessionCacheStrategy } = require('..')
      sessionCacheStrategy = new NativeSessionCacheStrategy({ name: `bench-e2e2-${process.pid}`, redis: { url: redis.url, secret: SECRET } })
      break
    }
    case 'default-redis':
      sessionCacheStrategy = new DefaultSessionCacheStrategy()
      // RedisCachePlugin.init(options) replaces its options whole: the plugin's defaults plus the server.
      plugins.push(
        RedisCachePlugin.init({
          maxItemSizeInBytes: 128_000,
          namespace: 'vendure-cache',
          redisOptions: { host: '127.0.0.1', port: redis.port },
        }),
      )
      break
    default:
      throw new Error(`unknown configuration ${configuration}`)
  }
  const c = fx.e2eConfig({ port, sessionCacheStrategy, authOptions: { tokenMethod: 'bearer' } })
  c.dbConnectionOptions = {
    type: 'postgres',
    host: db.host,
    port: db.port,
    username: 'postgres',
    database: db.database,
    synchronize: false,
    logging: false,
  }
  c.apiOptions.hostname = '127.0.0.1'
  c.logger = quietLogger()
  c.plugins = [...(c.plugins ?? []), ...plugins]
  return c
}

async function childServe(args) {
  const { bootstrap, ConfigService } = require('@vendure/core')
  const app = await bootstrap(serverConfig(args))
  // If the bench dies, its IPC channel closes: do not outlive it.
  process.on('disconnect', () => process.exit(1))
  const configService = app.get(ConfigService)
  process.on('message', async (message) => {
    if (message?.type !== 'stop') return
    try {
      await app.close()
      process.send({ type: 'stopped' }, () => process.exit(0))
    } catch (error) {
      console.error(error)
      process.exit(1)
    }
  })
  process.send({
    type: 'ready',
    // What the running server really uses, for the results file.
    sessionCacheStrategy: configService.authOptions.sessionCacheStrategy.constructor.name,
    cacheStrategy: configService.systemOptions.cacheStrategy.constructor.name,
  })
}

// ---------------------------------------------------------------------------------------------------
// Parent.

function parseArgs(argv) {
  const valueOf = (flag, fallback) => {
    const i = argv.indexOf(flag)
    if (i === -1) return fallback
    const value = Number(argv[i + 1])
    if (!Number.isFinite(value) || value < 0) throw new Error(`${flag} needs a number, 0 or more`)
    return value
  }
  return {
    seconds: Math.max(1, Math.round(valueOf('--seconds', 5))),
    delayUs: Math.round(valueOf('--delay-us', DEFAULT_DELAY_US)),
    rounds: Math.max(1, Math.round(valueOf('--rounds', 3))),
  }
}

/** Builds and starts examples/delay_proxy.rs in front of `upstreamPort`; resolves to `{ port, stop() }`. */
async function startDelayProxy(upstreamPort, delayUs, log) {
  const { execFileSync, spawn } = require('node:child_process')
  const root = path.resolve(__dirname, '..')
  log('building examples/delay_proxy.rs')
  execFileSync('cargo', ['build', '--quiet', '--release', '--example', 'delay_proxy'], { cwd: root, stdio: 'inherit' })
  const proxy = spawn(path.join(root, 'target', 'release', 'examples', 'delay_proxy'), [String(upstreamPort), String(delayUs)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  })
  const port = await new Promise((resolve, reject) => {
    let out = ''
    proxy.stdout.on('data', (chunk) => {
      out += chunk
      const match = /listening (\d+)/.exec(out)
      if (match) resolve(Number(match[1]))
    })
    proxy.once('exit', (code) => reject(new Error(`delay_proxy exited (${code}) before listening`)))
  })
  return {
    port,
    stop: () => {
      if (proxy.exitCode === null) proxy.kill('SIGKILL')
    },
  }
}

/** Forks `file` with `argv`; resolves to `{ child, message }` at its first message matching `isReady`. */
function startChild(file, argv, isReady, what) {
  const child = fork(file, argv, { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  const exited = new Promise((resolve) => child.once('exit', resolve))
  return new Promise((resolve, reject) => {
    const fail = async (error) => {
      clearTimeout(timer)
      await stopChild(child, exited)
      reject(error)
    }
    const timer = setTimeout(() => fail(new Error(`${what}: not ready within ${CHILD_START_TIMEOUT_MS / 1000} s`)), CHILD_START_TIMEOUT_MS)
    const onExit = (code, signal) => fail(new Error(`${what} exited (${signal ?? code}) before it was ready`))
    child.once('exit', onExit)
    child.on('message', (message) => {
      if (message?.startError) return fail(new Error(`${what} did not start: ${message.startError}`))
      if (!isReady(message)) return
      clearTimeout(timer)
      child.off('exit', onExit)
      resolve({ child, message, exited })
    })
  })
}

/** Asks a server child to close Vendure and exit; kills it if it has not exited in time. */
async function stopChild(child, exited) {
  if (child.exitCode !== null || child.signalCode !== null) return
  if (child.connected) child.send({ type: 'stop' })
  const timedOut = await Promise.race([exited.then(() => false), sleep(CHILD_STOP_TIMEOUT_MS).then(() => true)])
  if (timedOut && child.exitCode === null && child.signalCode === null) {
    console.error(`a server did not stop within ${CHILD_STOP_TIMEOUT_MS / 1000} s: killed`)
    child.kill('SIGKILL')
    await exited
  }
}


/** CPU time (user + system, every thread) process `pid` has used, in ms (Linux /proc). */
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'utf8')
  // Fields after the command name (which may hold spaces) in parentheses: utime and stime are the 12th and 13th.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / CLOCK_TICKS_PER_SECOND
}
const CLOCK_TICKS_PER_SECOND = 100 // sysconf(_SC_CLK_TCK) on Linux

/** How many commands redis-server has run since it started (INFO commandstats, summed). */
function redisCommands(redis) {
  let calls = 0
  for (const match of redis.cli('INFO', 'commandstats').matchAll(/calls=(\d+)/g)) calls += Number(match[1])
  return calls
}

/** Boots two servers with `configuration`, drives both at once at each connection count, stops them. */
async function measureConfiguration(configuration, { db, redis, redisPort, settings, log }) {
  redis.cli('FLUSHALL')
  const servers = []
  const redisUrl = `redis://127.0.0.1:${redisPort}`
  try {
    // One after the other: both at once would contend for the two cores and for the same tables.
    for (const name of ['A', 'B']) {
      const port = await fx.freePort()
      const started = Date.now()
      const args = { configuration: configuration.id, port, db, redis: { url: redisUrl, port: redisPort } }
      const { child, message, exited } = await startChild(__filename, ['--child', JSON.stringify(args)], (m) => m?.type === 'ready', `server ${name} (${configuration.id})`)
      servers.push({ name, port, child, exited, bootMs: Date.now() - started, adminUrl: `http://127.0.0.1:${port}/admin-api`, ...message })
      log(`${configuration.id}: server ${name} ready on port ${port} (${servers.at(-1).sessionCacheStrategy} / ${servers.at(-1).cacheStrategy})`)
    }
    const token = await loginSuperadmin(servers[0].adminUrl)
    // The same answer from both servers: the session made on A is good on B.
    const checks = []
    for (const server of servers) {
      const check = await graphql(server.adminUrl, QUERY, { token })
      if (check.body.data.me?.identifier !== fx.SUPERADMIN.identifier) throw new Error(`server ${server.name}: unexpected answer ${check.text}`)
      checks.push(check.text)
    }
    if (checks[0] !== checks[1]) throw new Error(`A and B answer differently: ${checks[0]} / ${checks[1]}`)
    const both = (connections, seconds) =>
      Promise.all(servers.map((server, i) => cannon({ url: server.adminUrl, token, expectBody: checks[i], connections, seconds })))
    const byConnections = {}
    for (const connections of CONNECTIONS) {
      log(`${configuration.id}: warm-up ${WARMUP_SECONDS} s on A and B at once, ${connections} connection(s) each`)
      await both(connections, WARMUP_SECONDS)
      log(`${configuration.id}: ${settings.seconds} s on A and B at once, ${connections} connection(s) each`)
      const commandsBefore = redisCommands(redis)
      const cpuBefore = servers.map((server) => cpuMs(server.child.pid))
      const [runA, runB] = await both(connections, settings.seconds)
      const cpuAfter = servers.map((server) => cpuMs(server.child.pid))
      const requests = runA.requests + runB.requests
      byConnections[connections] = {
        runs: { A: runA, B: runB },
        totalReqPerSec: runA.reqPerSec + runB.reqPerSec,
        // Every command Redis ran meanwhile (lease PINGs, invalidation traffic included), per request.
        redisCommandsPerRequest: (redisCommands(redis) - commandsBefore) / requests,
        // CPU each server process used (all its threads) per request it answered: what a request costs,
        // whatever the two shared cores' scheduling did to req/s.
        cpuMsPerRequest: { A: (cpuAfter[0] - cpuBefore[0]) / runA.requests, B: (cpuAfter[1] - cpuBefore[1]) / runB.requests },
        failures: [runA, runB].reduce((n, r) => n + r.errors + r.timeouts + r.non2xx + r.mismatches, 0),
      }
    }
    return {
      servers: servers.map(({ name, port, bootMs, sessionCacheStrategy, cacheStrategy }) => ({ name, port, bootMs, sessionCacheStrategy, cacheStrategy })),
      redisKeysAtEnd: Number(redis.cli('DBSIZE').trim()),
      byConnections,
    }
  } finally {
    await Promise.allSettled(servers.map((s) => stopChild(s.child, s.exited)))
    log(`${configuration.id}: servers stopped`)
  }
}

/** The median over rounds of each figure, per connection count (the rounds stay in the results file). */
function summarize(rounds) {
  const byConnections = {}
  for (const connections of CONNECTIONS) {
    const each = rounds.map((r) => r.byConnections[connections])
    const run = (server, field) => median(each.map((e) => e.runs[server][field]))
    const runs = {}
    for (const server of ['A', 'B']) runs[server] = { latencyMedianMs: run(server, 'latencyMedianMs'), latencyP99Ms: run(server, 'latencyP99Ms') }
    byConnections[connections] = {
      runs,
      totalReqPerSec: median(each.map((e) => e.totalReqPerSec)),
      redisCommandsPerRequest: median(each.map((e) => e.redisCommandsPerRequest)),
      cpuMsPerRequest: { A: median(each.map((e) => e.cpuMsPerRequest.A)), B: median(each.map((e) => e.cpuMsPerRequest.B)) },
      failures: each.reduce((n, e) => n + e.failures, 0),
    }
  }
  return { byConnections }
}

function renderTable(rows) {
  const fmt = (value, digits) => (Number.isFinite(value) ? value.toFixed(digits) : '—')
  const lines = [
    '| configuration (both servers) | connections per server | total req/s (A + B) | median ms A / B | p99 ms A / B | server CPU ms per request A / B | Redis commands per request | errors |',
    '|---|---:|---:|---:|---:|---:|---:|---:|',
  ]
  for (const row of rows) {
    for (const connections of CONNECTIONS) {
      const { runs, totalReqPerSec, redisCommandsPerRequest, cpuMsPerRequest, failures } = row.result.byConnections[connections]
      const { A, B } = runs
      lines.push(
        `| ${row.label} | ${connections} | ${fmt(totalReqPerSec, 0)} | ${fmt(A.latencyMedianMs, 2)} / ${fmt(B.latencyMedianMs, 2)} | ` +
          `${fmt(A.latencyP99Ms, 1)} / ${fmt(B.latencyP99Ms, 1)} | ${fmt(cpuMsPerRequest.A, 2)} / ${fmt(cpuMsPerRequest.B, 2)} | ` +
          `${fmt(redisCommandsPerRequest, 2)} | ${failures} |`,
      )
    }
  }
  return lines.join('\n')
}

async function main() {
  const settings = parseArgs(process.argv.slice(2))
  const { machineInfo, loadAverage1m } = require('./machine.js')
  const { TestPostgres } = require('../__test__/vendure/helpers/postgres')
  const { TestRedis } = require('../__test__/helpers/redis-server')
  const started = Date.now()
  const log = (text) => process.stderr.write(`[bench:e2e2 ${((Date.now() - started) / 1000).toFixed(0)} s] ${text}\n`)
  const machine = machineInfo()

  let pg = null
  let redis = null
  let proxy = null
  const rows = []
  try {
    log('starting PostgreSQL')
    pg = await TestPostgres.start()
    await pg.createDatabase(DATABASE)
    log(`starting redis-server`)
    redis = await TestRedis.start()
    if (settings.delayUs > 0) {
      proxy = await startDelayProxy(redis.port, settings.delayUs, log)
      log(`delay proxy on port ${proxy.port}: ${settings.delayUs} µs each way to redis-server on ${redis.port}`)
    }
    const redisPort = proxy?.port ?? redis.port
    const db = { host: '127.0.0.1', port: pg.port, database: DATABASE }
    log('seeding the database')
    const seed = await startChild(
      SEED_PROCESS,
      [JSON.stringify({ mode: 'seed', port: await fx.freePort(), db, redis: { url: redis.url, secret: SECRET } })],
      (m) => m?.done,
      'seed',
    )
    await seed.exited
    const rounds = Object.fromEntries(CONFIGURATIONS.map((c) => [c.id, []]))
    for (let round = 0; round < settings.rounds; round++) {
      // Alternate which configuration goes first, so that neither always meets a warmer machine.
      const order = round % 2 === 0 ? CONFIGURATIONS : [...CONFIGURATIONS].reverse()
      for (const configuration of order) {
        log(`round ${round + 1}/${settings.rounds}: booting two servers with ${configuration.label}`)
        rounds[configuration.id].push(await measureConfiguration(configuration, { db, redis, redisPort, settings, log }))
      }
    }
    for (const configuration of CONFIGURATIONS) rows.push({ ...configuration, result: summarize(rounds[configuration.id]), rounds: rounds[configuration.id] })
  } finally {
    log('stopping redis-server and PostgreSQL')
    proxy?.stop()
    await redis?.stop()
    await pg?.stop()
  }

  machine.loadAverage1mAtEnd = loadAverage1m()
  const versions = {
    vendureCore: require('@vendure/core/package.json').version,
    autocannon: require('autocannon/package.json').version,
  }
  const warnings = rows.flatMap((r) =>
    CONNECTIONS.filter((c) => r.result.byConnections[c].failures).map((c) => `${r.label} @${c}: ${r.result.byConnections[c].failures} failed or unexpected responses`),
  )
  const table = renderTable(rows)
  const hop = settings.delayUs > 0 ? `Redis ${settings.delayUs} µs away each way (delay proxy)` : 'Redis on loopback'
  console.log(
    `\n### End to end, two servers, ${hop}: Admin API \`${QUERY}\` as superadmin (logged in on A), A and B driven at once ` +
      `(${settings.seconds} s after ${WARMUP_SECONDS} s warm-up, medians of ${settings.rounds} round${settings.rounds > 1 ? 's' : ''})\n`,
  )
  console.log(table)
  console.log(
    `\nreq/s: requests / duration per server, total = A + B; median and p99 ms: response times seen by that server's ` +
      `autocannon; errors: errors + timeouts + non-2xx + unexpected answers. Both servers share one PostgreSQL ` +
      `database and one redis-server. ${machine.cores} cores (${machine.cpuModel}), Node ${machine.node}, Vendure ` +
      `${versions.vendureCore}; load average ${machine.loadAverage1mAtEnd} at the end. Two autocannon instances, two ` +
      'servers, PostgreSQL, Redis and the proxy share the cores: figures move by tens of percent between runs on a shared machine.',
  )
  for (const warning of warnings) console.log(`\nWARNING: ${warning}`)

  const results = {
    machine,
    secondsPerMeasurement: settings.seconds,
    warmupSeconds: WARMUP_SECONDS,
    connectionsPerServer: CONNECTIONS,
    redisDelayUsEachWay: settings.delayUs,
    roundCount: settings.rounds,
    query: QUERY,
    versions,
    warnings,
    configurations: rows,
    table,
    elapsedSeconds: Math.round((Date.now() - started) / 1000),
  }
  fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n')
  console.log(`\nWrote ${path.relative(process.cwd(), RESULTS)} (${results.elapsedSeconds} s in all).`)
}

if (process.argv[2] === '--child') {
  childServe(JSON.parse(process.argv[3])).catch((error) => {
    console.error(error)
    process.exit(1)
  })
} else {
  main().then(
    () => process.exit(0),
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
}
