'use strict'

// The short soak: 30 seconds of three threads hammering one store and checking every answer
// (soak/hammer.js). `npm run soak -- --seconds 600` is the long run.

const { spawnSync } = require('node:child_process')
const path = require('node:path')

test('30 s of three threads under eviction pressure and short expiries: no violation, bounds and stats hold', () => {
  const run = spawnSync(process.execPath, ['--expose-gc', path.join(__dirname, '..', 'soak', 'run.js'), '--seconds', '30', '--json'], {
    encoding: 'utf8',
    timeout: 120_000,
  })
  expect(run.stderr).toBe('')
  const report = JSON.parse(run.stdout)
  expect(report.violations).toEqual({})
  expect(report.problems).toEqual([])
  const ops = report.threads.reduce((sum, t) => sum + t.get + t.set + t.delete, 0)
  expect(ops).toBeGreaterThan(100_000)
  expect(report.stats.evictions).toBeGreaterThan(1000)
  expect(report.stats.expirations).toBeGreaterThan(0)
  expect(report.stats.clears).toBeGreaterThan(0)
  expect(run.status).toBe(0)
}, 150_000)
