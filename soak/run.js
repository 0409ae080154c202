'use strict'

// npm run soak -- --seconds N [--threads T] [--json]
// Two worker_threads and the main thread hammer one shared store under eviction pressure and short
// expiries, each checking every answer (see hammer.js). Then: bounds, the stats identity, and memory
// back near its start after clear() and the background sweep. Exits 1 on any violation.

const path = require('node:path')
const { Worker } = require('node:worker_threads')
const { NativeSessionCacheStrategy } = require('..')
const { hammer, WORDS_PER_KEY } = require('./hammer')

function arg(flag, fallback) {
  const i = process.argv.indexOf(flag)
  return i === -1 ? fallback : process.argv[i + 1]
}
const seconds = Number(arg('--seconds', '30'))
const workers = Number(arg('--threads', '3')) - 1
const asJson = process.argv.includes('--json')

const options = { maxEntries: 200, maxBytes: 200 * 1200, nearCacheSize: Number(arg('--near', '64')) }
const name = `soak-${process.pid}`
const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

async function main() {
  const owner = new NativeSessionCacheStrategy({ name, ...options })
  const rssBefore = process.memoryUsage().rss
  const counters = new SharedArrayBuffer(8)
  const sharedKeys = 100
  const sharedState = new SharedArrayBuffer(sharedKeys * WORDS_PER_KEY * 4)
  const base = { name, options, seconds, counters, sharedState, ownKeys: 150, sharedKeys }
  const started = Date.now()
  const running = Array.from({ length: workers }, (_, i) =>
    new Promise((resolve, reject) => {
      const w = new Worker(path.join(__dirname, 'hammer.js'), { workerData: { ...base, soak: true, thread: i + 1, seed: 1000 + i } })
      w.once('message', resolve)
      w.once('error', reject)
    }),
  )
  const mine = hammer({ ...base, thread: 0, seed: Date.now() })
  const results = [mine, ...(await Promise.all(running))]
  const elapsed = (Date.now() - started) / 1000

  const afterRun = owner.stats()
  const problems = []
  if (afterRun.entries > options.maxEntries) problems.push(`entries ${afterRun.entries} > maxEntries`)
  if (afterRun.bytes > options.maxBytes) problems.push(`bytes ${afterRun.bytes} > maxBytes`)
  const accounted =
    afterRun.entries + afterRun.evictions + afterRun.expirations + afterRun.deletes + afterRun.replaced + afterRun.reclaimed + afterRun.dropped
  if (afterRun.sets !== accounted) problems.push(`sets ${afterRun.sets} != accounted ${accounted}`)

  owner.clear()
  const deadline = Date.now() + 5000
  while (owner.stats().entries > 0 && Date.now() < deadline) await sleep(50)
  global.gc?.()
  const final = owner.stats()
  if (final.entries !== 0 || final.bytes !== 0) problems.push(`after clear and sweep: ${final.entries} entries, ${final.bytes} bytes`)
  const rssGrowthMb = (process.memoryUsage().rss - rssBefore) / 2 ** 20

  const violations = {}
  for (const r of results) for (const [kind, n] of Object.entries(r.violations)) violations[kind] = (violations[kind] ?? 0) + n
  const totalViolations = Object.values(violations).reduce((a, b) => a + b, 0)
  const report = {
    seconds: elapsed,
    threads: results.map((r) => ({ thread: r.thread, opsPerSecond: Math.round(Object.values(r.ops).reduce((a, b) => a + b, 0) / elapsed), ...r.ops })),
    violations,
    totalViolations,
    problems,
    stats: afterRun,
    rssGrowthMb: Math.round(rssGrowthMb * 10) / 10,
  }
  if (asJson) console.log(JSON.stringify(report))
  else {
    console.log(`soak: ${results.length} threads, ${elapsed.toFixed(1)} s, store ${JSON.stringify(options)}\n`)
    console.log('| thread | ops/s | gets | hits | sets | deletes | clears |')
    console.log('|---|---|---|---|---|---|---|')
    for (const t of report.threads) console.log(`| ${t.thread} | ${t.opsPerSecond} | ${t.get} | ${t.hits} | ${t.set} | ${t.delete} | ${t.clear} |`)
    console.log(`\nviolations: ${totalViolations}${totalViolations ? ' ' + JSON.stringify(violations) : ''}`)
    const s = afterRun
    console.log(`store: ${s.entries} entries, ${s.bytes} bytes, ${s.evictions} evictions, ${s.expirations} expirations, ${s.clears} clears`)
    console.log(`stats identity: sets ${s.sets} = entries + evictions + expirations + deletes + replaced + reclaimed + dropped = ${accounted}`)
    console.log(`after clear() and the sweep: ${final.entries} entries, ${final.bytes} bytes; RSS growth ${report.rssGrowthMb} MB`)
    if (problems.length) console.log(`problems: ${problems.join('; ')}`)
  }
  process.exitCode = totalViolations === 0 && problems.length === 0 ? 0 : 1
}

main().catch((error) => {
  console.error(error)
  process.exitCode = 1
})
