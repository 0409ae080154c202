'use strict'

// The warning a process logs, once, when it evidently is one of several (a Node cluster worker, a PM2
// instance of several) but caches without the redis option; and the stats field lists the Admin API
// and the metrics are made from, checked against what stats() really returns.

const path = require('node:path')
const { spawn } = require('node:child_process')
const { peerProcessEvidence } = require('../lib/deployment')
const { STORE_FIELDS, REDIS_FIELDS } = require('../lib/stats-fields')
const { NativeSessionCacheStrategy } = require('..')

const CLUSTER_APP = path.join(__dirname, 'helpers', 'cluster-app.js')
const WARNING = /runs without the redis option, but (.*?): each process caches sessions on its own/

/** Runs the cluster app with `env` added; resolves with everything it printed. */
function runApp(env) {
  return new Promise((resolve, reject) => {
    // PM2's variables only where the case sets them (the test may itself run under PM2).
    const base = Object.fromEntries(Object.entries(process.env).filter(([k]) => !['pm_id', 'NODE_APP_INSTANCE', 'instances'].includes(k)))
    const child = spawn(process.execPath, [CLUSTER_APP], { env: { ...base, ...env }, stdio: ['ignore', 'pipe', 'pipe'] })
    let output = ''
    child.stdout.on('data', (chunk) => (output += chunk))
    child.stderr.on('data', (chunk) => (output += chunk))
    child.on('error', reject)
    child.on('exit', (code) => (code === 0 ? resolve(output) : reject(new Error(`exit ${code}: ${output}`))))
  })
}

const warnings = (output) => output.split('\n').filter((line) => WARNING.test(line))

describe('the warning when one of several processes caches alone', () => {
  test('each Node cluster worker warns once (two strategies each), naming the evidence', async () => {
    const lines = warnings(await runApp({ WORKERS: '2' }))
    expect(lines).toHaveLength(2)
    expect(lines.map((l) => l.match(WARNING)[1]).sort()).toEqual([
      'this process is a Node cluster worker (id 1)',
      'this process is a Node cluster worker (id 2)',
    ])
    expect(lines[0]).toMatch(/until its cacheExpiry/)
  })

  test('a PM2 instance of an app run with several instances warns; a lone process does not', async () => {
    const pm2 = warnings(await runApp({ WORKERS: '0', pm_id: '7', NODE_APP_INSTANCE: '2', instances: '4', name: 'shop' }))
    expect(pm2).toHaveLength(1)
    expect(pm2[0]).toMatch(/PM2 instance 2 of app 'shop' \(instances: 4\)/)
    const alone = await runApp({ WORKERS: '0' })
    expect(alone).toMatch(/session cache 'cluster-app-\d+-a' ready/)
    expect(warnings(alone)).toHaveLength(0)
  })

  test.each([
    ['a plain process', {}, false, undefined],
    ['a cluster primary', {}, true, undefined],
    ['PM2, one instance in fork mode', { pm_id: '0', NODE_APP_INSTANCE: '0', instances: '1' }, false, undefined],
    ['PM2, instances: max', { pm_id: '0', NODE_APP_INSTANCE: '0', instances: 'max', name: 'x' }, false, /PM2 instance 0/],
    ['PM2, instances: 0 (one per CPU)', { pm_id: '0', NODE_APP_INSTANCE: '0', instances: '0', name: 'x' }, false, /PM2 instance 0/],
    ['PM2, instance 3', { pm_id: '9', NODE_APP_INSTANCE: '3', instances: '4', name: 'x' }, false, /PM2 instance 3/],
  ])('evidence: %s', (_label, env, isPrimary, expected) => {
    const cluster = { isWorker: false, isPrimary }
    const evidence = peerProcessEvidence(env, cluster)
    if (expected === undefined) expect(evidence).toBeUndefined()
    else expect(evidence).toMatch(expected)
  })

  test('a cluster worker is named as such', () => {
    expect(peerProcessEvidence({}, { isWorker: true, worker: { id: 4 } })).toBe('this process is a Node cluster worker (id 4)')
  })
})

describe('the stats field lists (Admin API schema, metrics) name exactly what stats() returns', () => {
  test('store fields', () => {
    const strategy = new NativeSessionCacheStrategy({ name: `fields-${process.pid}` })
    try {
      expect(STORE_FIELDS.map((f) => f.name).sort()).toEqual(Object.keys(strategy.stats()).sort())
    } finally {
      strategy.destroy()
    }
  })

  test('Redis tier fields', () => {
    // What the binding's stats carry (binding.d.ts is generated from the Rust struct).
    const declared = require('node:fs').readFileSync(path.join(__dirname, '..', 'binding.d.ts'), 'utf8')
    const body = declared.match(/export interface RedisTierStats \{([\s\S]*?)\n\}/)[1]
    const names = [...body.matchAll(/^\s+(\w+): /gm)].map((m) => m[1])
    expect(REDIS_FIELDS.map((f) => f.name).sort()).toEqual(names.sort())
  })
})
