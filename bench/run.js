'use strict'

// npm run bench [-- --quick]: every session cache strategy, measured in this one process on the same
// sessions (only the memory figures come from a fresh child process per strategy and size, see
// memory.js). Prints markdown tables and writes bench/results.json and bench/get-hit.svg.

const { spawn } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

// global.gc() for the memory figures; 1M sessions in a JS Map need more than the default old space.
const NODE_FLAGS = ['--expose-gc', '--max-old-space-size=8192']
const RESULTS = path.join(__dirname, 'results.json')
const CHART = path.join(__dirname, 'get-hit.svg')

function progressReporter() {
  const started = Date.now()
  const elapsed = () => `${((Date.now() - started) / 1000).toFixed(0)} s`
  if (process.stderr.isTTY) {
    return {
      step: (text) => process.stderr.write(`\r\x1b[K[bench ${elapsed()}] ${text}`),
      done: () => process.stderr.write('\r\x1b[K'),
    }
  }
  let section
  return {
    // Without a terminal, one line per section.
    step(text) {
      const current = text.split(':')[0]
      if (current !== section) process.stderr.write(`[bench ${elapsed()}] ${(section = current)}...\n`)
    },
    done() {},
  }
}

/** Runs every section; resolves to `{ operations, clear, scale, threads, warnings }`. */
async function runSections(context) {
  // --only=operations,mixed,... runs just those sections (for working on one; a full report needs all).
  const only = process.argv.find((a) => a.startsWith('--only='))?.slice(7).split(',')
  const wanted = (name) => only === undefined || only.includes(name)
  const { runOperations } = require('./ops.js')
  const { runClear } = require('./clear.js')
  const { runScale } = require('./scale.js')
  const { runThreads } = require('./threads.js')
  const percent = (ratio) => `${(ratio * 100).toFixed(1)} %`

  const operations = await runOperations(context)
  const warnings = [...operations.warnings]
  const { runMixed } = require('./mixed.js')
  const mixed = wanted('mixed') ? await runMixed(context) : undefined
  for (const row of mixed ?? []) {
    for (const [id, r] of Object.entries(row.results)) {
      if (r.answeredRatio !== 1 && id !== 'default-in-memory') warnings.push(`mixed ${row.label}, ${row.kind}s: ${id} hits ${percent(r.answeredRatio)}`)
    }
  }
  const clear = wanted('clear') ? await runClear(context) : undefined
  const scale = wanted('scale') ? await runScale(context) : undefined
  for (const row of scale ?? []) {
    const hits = row.getHit.answeredRatio
    if (hits !== 1) warnings.push(`scale ${row.size}: ${row.strategy} hits ${percent(hits)}`)
  }
  const { runHousekeeping, SLOW_MS } = require('./housekeeping.js')
  const housekeeping = wanted('housekeeping') ? await runHousekeeping(context) : undefined
  for (const row of housekeeping ?? []) {
    if (row.slow > 0) warnings.push(`housekeeping ${row.kind} ${row.size}: ${row.slow} calls of ${SLOW_MS} ms or more outside GC`)
  }
  const threads = wanted('threads') ? await runThreads(context) : undefined
  for (const row of threads ?? []) {
    for (const run of [row.one, row.two, row.control.one, row.control.two]) {
      if (run.hitRatio !== 1) warnings.push(`threads ${row.entries}: ${percent(run.hitRatio)} hits`)
    }
  }
  return { operations, mixed, clear, housekeeping, scale, threads, warnings }
}

function writeChart(results) {
  const { getHitChart } = require('./chart.js')
  const { operations, strategies, machine } = results
  const medians = (opId) => operations.operations.find((o) => o.id === opId).results
  const [customer, superadmin] = [medians('get-hit-customer'), medians('get-hit-superadmin')]
  const rows = strategies.map((s) => ({
    label: s.label,
    customerNs: customer[s.id]?.medianNs,
    superadminNs: superadmin[s.id]?.medianNs,
    highlight: s.id === 'native',
  }))
  const sessions = (operations.population.customers + operations.population.superadmins).toLocaleString('en-US')
  const subtitle =
    `${sessions} cached sessions, fresh token strings; ${machine.cpuModel}, ${machine.cores} cores, ` +
    `Node ${machine.node}, ${machine.date.slice(0, 10)} (${results.profile} run)`
  fs.writeFileSync(CHART, getHitChart(rows, subtitle))
}

async function main() {
  const { machineInfo, loadAverage1m } = require('./machine.js')
  const { timerOverheadNs } = require('./measure.js')
  const { profileFromArgs } = require('./profile.js')
  const { unavailableReason, startRedis } = require('./redis-server.js')
  const { renderReport } = require('./report.js')
  const { strategies: strategyList, versions } = require('./strategies.js')

  const profile = profileFromArgs(process.argv.slice(2))
  const progress = progressReporter()
  const machine = machineInfo()
  const skipped = []

  let redis = null
  const noRedis = unavailableReason()
  if (noRedis) {
    skipped.push(`Default + RedisCacheStrategy: ${noRedis}.`)
    console.error(`Skipping Default + RedisCacheStrategy: ${noRedis}.`)
  } else {
    progress.step('starting redis-server')
    redis = await startRedis()
  }
  try {
    const strategies = strategyList({ redis })
    const timerNs = timerOverheadNs()
    const sections = await runSections({ strategies, profile, timerNs, progress: progress.step })
    progress.done()
    machine.loadAverage1mAtEnd = loadAverage1m()
    const results = {
      machine,
      profile: profile.name,
      timerOverheadNs: timerNs,
      versions: versions(redis),
      rounds: profile.rounds,
      stallWindowMs: profile.stallWindowMs,
      skipped,
      strategies: strategies.map(({ id, label, async }) => ({ id, label, async })),
      ...sections,
    }
    console.log(renderReport(results))
    if (process.argv.some((a) => a.startsWith('--only='))) return // a partial run keeps the full run's files
    fs.writeFileSync(RESULTS, JSON.stringify(results, null, 2) + '\n')
    writeChart(results)
    console.log(`\nWrote ${path.relative(process.cwd(), RESULTS)} and ${path.relative(process.cwd(), CHART)}.`)
  } finally {
    await redis?.stop()
  }
}

if (typeof global.gc !== 'function') {
  // Run again with the flags, passing signals on so that the child (and its redis-server) stops cleanly.
  const child = spawn(process.execPath, [...NODE_FLAGS, __filename, ...process.argv.slice(2)], { stdio: 'inherit' })
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP']) process.on(signal, () => child.kill(signal))
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 128 : 1)))
} else {
  main().then(
    () => process.exit(0), // the native sweeper and any leftover handles must not keep the bench alive
    (error) => {
      console.error(error)
      process.exit(1)
    },
  )
}
