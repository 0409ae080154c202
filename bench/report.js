'use strict'

// The printed report: markdown, one table per question, every strategy's median beside this project's.

const { fmt, table } = require('./markdown.js')

const NATIVE = 'native'
const bold = (text) => `**${text}**`

function labeller(strategies) {
  const byId = new Map(strategies.map((s) => [s.id, s]))
  return (id) => (id === NATIVE ? bold(byId.get(id).label) : byId.get(id).label)
}

/** `value / native`, or undefined when either is missing. */
const ratio = (value, native) => (native > 0 && value >= 0 ? value / native : undefined)

function header(results) {
  const m = results.machine
  const v = results.versions
  return [
    `# vendure-native-session-cache micro-benchmark (${results.profile} run)`,
    '',
    `${m.cpuModel}, ${m.cores} cores (1-minute load average ${m.loadAverage1m.toFixed(2)} at start, ` +
      `${m.loadAverage1mAtEnd.toFixed(2)} at end), Node ${m.node}, ${m.date}.`,
    `@vendure/core ${v.vendureCore}, lru-cache ${v.lruCache}` +
      (v.redis ? `, redis-server ${v.redis} on 127.0.0.1 through ioredis ${v.ioredis}.` : '.'),
    `Timer: process.hrtime.bigint(), ${results.timerOverheadNs} ns per pair, subtracted from individually timed calls.`,
    'Every lookup uses a fresh copy of its token string, made before the timed loop. Medians are over many',
    'timed batches; "mean" also counts the batches a garbage collection fell into; "p99" is over single timed',
    'calls. Async strategies (Default + ...) are awaited call by call. "× this project" = median ÷ this',
    "project's median (above 1: slower than this project).",
    ...results.skipped.map((s) => `\n> Skipped: ${s}`),
  ].join('\n')
}

function operationsSection(results, label) {
  const { population, operations } = results.operations
  const lines = [
    `## Operations, ${fmt.count(population.customers + population.superadmins)} cached sessions ` +
      `(${fmt.count(population.customers)} customers + ${fmt.count(population.superadmins)} superadmins), ns per call`,
    '',
    'Hits pick uniformly at random among the customers, or among the superadmins (a smaller, cache-friendlier set).',
    `For each operation the strategies take turns, ${results.rounds} rounds, so that a passing load lands on all of them.`,
    `Bounded strategies are sized for ${fmt.count(population.capacity)} sessions; ` +
      "Default + InMemoryCacheStrategy keeps Vendure's default (10,000).",
  ]
  for (const op of operations) {
    const native = op.results[NATIVE]?.medianNs
    const rows = Object.entries(op.results).map(([id, r]) => [
      label(id),
      fmt.ns(r.medianNs),
      fmt.ns(r.meanNs),
      fmt.ns(r.p99Ns),
      fmt.ratio(ratio(r.medianNs, native)),
    ])
    lines.push('', `### ${op.label}`, '', table(['strategy', 'median', 'mean', 'p99', '× this project'], rows))
  }
  return lines.join('\n')
}

function mixedSection(results, label) {
  if (!results.mixed) return ''
  const lines = [
    '## Get hits while sessions are overwritten (ns per get; the sets between them are not timed)',
    '',
    'Each timed stretch is the gets between two sets; a set gives a session of the kind being read a new object,',
    "as Vendure's reload does. Zipf(1.0): the k-th hottest session is read with probability ∝ 1/k.",
  ]
  for (const row of results.mixed) {
    const native = row.results[NATIVE]?.medianNs
    const rows = Object.entries(row.results).map(([id, r]) => [label(id), fmt.ns(r.medianNs), `${(r.answeredRatio * 100).toFixed(1)} %`, fmt.ratio(ratio(r.medianNs, native))])
    lines.push('', `### ${row.label}: ${row.kind}s`, '', table(['strategy', 'median per get', 'hits', '× this project'], rows))
  }
  return lines.join('\n')
}

/** Each target of issue 13, measured in this run: this project's median ÷ the reference's. */
function targetChecks(results) {
  const op = (id) => results.operations.operations.find((o) => o.id === id)?.results
  const mixed = (workload, kind) => results.mixed?.find((r) => r.workload === workload && r.kind === kind)?.results
  const checks = []
  const add = (what, figures, reference, bound, note = '') => {
    const mine = figures?.[NATIVE]?.medianNs
    const theirs = figures?.[reference]?.medianNs
    if (mine === undefined || theirs === undefined) return
    const value = mine / theirs
    checks.push({ what, reference, bound, value, met: value <= bound, mineNs: mine, theirsNs: theirs, note })
  }
  for (const kind of ['customer', 'superadmin']) {
    add(`get hit, 10,000 sessions read-only, ${kind}s`, op(`get-hit-${kind}`), 'vendure-in-memory', 1)
    add(`get hit, 10,000 sessions, 1 set per 3 gets, ${kind}s`, mixed('uniform-10k-sets', kind), 'vendure-in-memory', 1)
    add(`get hit, 100,000 sessions, Zipf(1.0), 1 set per 99 gets, ${kind}s`, mixed('zipf-100k-sets', kind), 'vendure-in-memory', 1)
    add(`get hit, 100,000 sessions, Zipf(1.0), 1 set per 99 gets, ${kind}s`, mixed('zipf-100k-sets', kind), 'map', 2)
  }
  add('get miss', op('get-miss'), 'vendure-in-memory', 2)
  add('delete (cached key)', op('delete'), 'vendure-in-memory', 2)
  add('set (overwrite, customer)', op('set-overwrite'), 'default-in-memory', 1)
  add('set (overwrite, superadmin)', op('set-overwrite-superadmin'), 'default-in-memory', 1)
  return checks
}

function targetsSection(results, label) {
  const checks = targetChecks(results)
  if (checks.length === 0) return ''
  return [
    '## Targets (issue 13): this project ÷ the reference, medians of this run',
    '',
    table(
      ['workload', 'reference', 'this project', 'reference', 'ratio', 'target', 'met'],
      checks.map((c) => [c.what, label(c.reference), fmt.ns(c.mineNs), fmt.ns(c.theirsNs), fmt.ratio(c.value), `≤ ${c.bound}×`, c.met ? 'yes' : '**no**']),
      ['l', 'l', 'r', 'r', 'r', 'r', 'l'],
    ),
  ].join('\n')
}

function clearSection(results, label) {
  const lines = [
    `## clear(): time on the caller, and the longest event-loop stall in the next ${results.stallWindowMs} ms ` +
      '(serving get + set meanwhile)',
  ]
  for (const size of [...new Set(results.clear.map((r) => r.size))]) {
    const rows = results.clear.filter((r) => r.size === size)
    const native = rows.find((r) => r.strategy === NATIVE)?.callerMs
    lines.push(
      '',
      `### ${fmt.count(size)} sessions set (median of ${rows[0].reps} clear${rows[0].reps > 1 ? 's' : ''})`,
      '',
      table(
        ['strategy', 'held', 'keys in tag set', 'clear() ms', 'worst ms', '× this project', 'longest stall after, ms'],
        rows.map((r) => [
          label(r.strategy),
          fmt.count(r.held),
          r.tagged === undefined ? '—' : fmt.count(r.tagged),
          fmt.ms(r.callerMs),
          fmt.ms(r.callerMaxMs),
          fmt.ratio(ratio(r.callerMs, native)),
          fmt.ms(r.stallMs),
        ]),
      ),
    )
  }
  return lines.join('\n')
}

function housekeepingSection(results) {
  if (!results.housekeeping) return ''
  const what = {
    expiry: 'every session expiring in the same second',
    clear: 'clear(), then its reclaim pass',
    overwrite: 'three overwrites of each, every one a second later',
  }
  return [
    '## No call waits on housekeeping: the longest single call while the sweeper works (this project)',
    '',
    'Each get, set and delete timed on its own while the background sweeper expires, reclaims or compacts; ' +
      'calls a V8 garbage collection overlapped are counted apart.',
    '',
    table(
      ['sessions', 'the sweeper works on', 'freed', 'calls timed', 'longest get ms', 'longest set ms', 'longest delete ms', 'calls ≥ 5 ms', '≥ 5 ms in a GC'],
      results.housekeeping.map((r) => [
        fmt.count(r.size),
        what[r.kind],
        fmt.count(r.freed),
        fmt.count(r.calls),
        fmt.ms(r.longestGetMs),
        fmt.ms(r.longestSetMs),
        fmt.ms(r.longestDeleteMs),
        String(r.slow),
        String(r.slowInGc),
      ]),
    ),
  ].join('\n')
}

function scaleSection(results, label) {
  const rows = results.scale.map((r) => {
    const native = results.scale.find((n) => n.size === r.size && n.strategy === NATIVE)?.getHit.medianNs
    return [
      fmt.count(r.size),
      label(r.strategy),
      r.tagged === undefined ? fmt.count(r.held) : `${fmt.count(r.held)} (tag set: ${fmt.count(r.tagged)} keys)`,
      fmt.ns(r.getHit.medianNs),
      fmt.ns(r.getHit.p99Ns),
      fmt.ratio(ratio(r.getHit.medianNs, native)),
      fmt.mib(r.rssBytes),
      fmt.mib(r.heapBytes),
      fmt.bytes(r.bytesPerSession),
    ]
  })
  return [
    '## Scale: customer sessions loaded; get hit (ns per call), and memory growth after global.gc()',
    '',
    table(
      ['sessions set', 'strategy', 'held', 'get hit median', 'p99', '× this project', 'RSS Δ MiB', 'heapUsed Δ MiB',
        'B / held session'],
      rows,
      ['r', 'l', 'r', 'r', 'r', 'r', 'r', 'r', 'r'],
    ),
    '',
    'Memory: each strategy and size in a fresh child process (in a process that has just freed other stores,',
    "RSS growth comes out small or negative), loaded, then 50,000 lookups (filling this project's per-thread near",
    'cache), then global.gc(). B / held session = the larger of RSS and heapUsed growth ÷ sessions held: JS caches',
    'grow the V8 heap (RSS can lag, the heap re-using pages it already had); native memory shows only in RSS.',
  ].join('\n')
}

function threadsSection(results) {
  return [
    "## Threads: this project's get hits per second, worker_threads sharing one store",
    '',
    table(
      ['sessions', '1 worker', '2 workers', '2 ÷ 1', 'control: Map per worker, 2 ÷ 1'],
      results.threads.map((r) => [
        fmt.count(r.entries),
        fmt.perSecond(r.one.getsPerSecond),
        fmt.perSecond(r.two.getsPerSecond),
        fmt.ratio(r.ratio),
        fmt.ratio(r.control.ratio),
      ]),
      ['r', 'r', 'r', 'r', 'r'],
    ),
    '',
    'Gets/s summed over workers, counting time spent in get only; ' +
      `the median of ${results.threads[0]?.one.runs.length} alternating runs of each. The control (a plain Map`,
    `in each worker, nothing shared) shows how far 2 workers can scale on these ${results.machine.cores} cores right now.`,
  ].join('\n')
}

function warningsSection(results) {
  if (results.warnings.length === 0) return ''
  return ['## Warnings', '', ...results.warnings.map((w) => `- ${w}`)].join('\n')
}

/** The whole report as markdown. */
function renderReport(results) {
  const label = labeller(results.strategies)
  const sections = [
    header(results),
    targetsSection(results, label),
    operationsSection(results, label),
    mixedSection(results, label),
    results.clear && clearSection(results, label),
    housekeepingSection(results),
    results.scale && scaleSection(results, label),
    results.threads && threadsSection(results),
    warningsSection(results),
  ]
  return sections.filter(Boolean).join('\n\n')
}

module.exports = { renderReport, targetChecks }
