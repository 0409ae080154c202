'use strict'

// The fault-injecting checker (chaos/): its rules on hand-made histories, then a short real run,
// three processes on one redis-server behind fault proxies, every fault kind injected. The long run
// is `npm run chaos -- --minutes 30`.

const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { check } = require('../chaos/checker')

const op = (p, kind, token, value, start, end, threw = null) => ({ p, op: kind, token, value, start, end, threw })

describe('the history checker', () => {
  test('a session served more than 100 ms after its delete returned is a violation', () => {
    const history = [op('0', 'set', 't', 'v1', 0, 2), op('1', 'delete', 't', null, 10, 12), op('2', 'get', 't', 'v1', 150, 151)]
    expect(check(history).violations.map((v) => v.rule)).toEqual(['deleted session served'])
    // Within the bound, or by a get that started before the delete returned + 100 ms: allowed.
    expect(check([...history.slice(0, 2), op('2', 'get', 't', 'v1', 100, 101)]).violations).toEqual([])
  })

  test('a cleared session is a violation too, for any token', () => {
    const history = [op('0', 'set', 't', 'v1', 0, 2), op('1', 'clear', null, null, 10, 12), op('2', 'get', 't', 'v1', 500, 501)]
    expect(check(history).violations.map((v) => v.rule)).toEqual(['cleared session served'])
  })

  test('a value older than a set that completed before the get began is a violation', () => {
    const history = [op('0', 'set', 't', 'v1', 0, 2), op('1', 'set', 't', 'v2', 5, 8), op('2', 'get', 't', 'v1', 200, 201)]
    expect(check(history).violations.map((v) => v.rule)).toEqual(['older than a completed set'])
    expect(check([...history.slice(0, 2), op('2', 'get', 't', 'v2', 200, 201)]).violations).toEqual([])
  })

  test('overlapping operations may be ordered either way', () => {
    // The set of v1 was still running when the delete started: v1 may be the last write.
    const history = [op('0', 'set', 't', 'v1', 0, 20), op('1', 'delete', 't', null, 10, 12), op('2', 'get', 't', 'v1', 900, 901)]
    expect(check(history).violations).toEqual([])
  })

  test('a value nobody wrote for that token and a throw are violations; a call of 50 ms or more is counted', () => {
    const history = [
      op('0', 'set', 'a', 'v1', 0, 1),
      op('1', 'get', 'b', 'v1', 5, 6),
      op('1', 'get', 'a', 'zz', 5, 6),
      op('1', 'delete', 'a', null, 10, 11, 'boom'),
      op('2', 'get', 'a', null, 20, 75),
    ]
    const { violations, slowCalls, slow } = check(history)
    expect(violations.map((v) => v.rule).sort()).toEqual(['never written', 'never written', 'threw'])
    expect(slowCalls).toBe(1)
    expect(slow[0].detail).toBe('55.0 ms')
  })

  test('calls that overlap a pause of their own process are not counted as slow', () => {
    const history = [op('2', 'get', 'a', null, 20, 500)]
    expect(check(history, { pauses: [{ p: '2', start: 30, end: 400 }] }).slowCalls).toBe(0)
    expect(check(history, { pauses: [{ p: '1', start: 30, end: 400 }] }).slowCalls).toBe(1)
  })
})

test('45 s of three processes under every fault kind: no violation', () => {
  const run = spawnSync(process.execPath, [path.join(__dirname, '..', 'chaos', 'run.js'), '--seconds', '45', '--json'], {
    encoding: 'utf8',
    timeout: 160_000,
  })
  expect(run.stderr).toBe('')
  const report = JSON.parse(run.stdout)
  console.log(
    `chaos: ${report.operations} operations, faults ${JSON.stringify(report.faults)}, longest call ${report.longestCallMs} ms (${report.slowCalls} >= 50 ms), violations ${JSON.stringify(report.violations)}`,
  )
  expect(report.examples).toEqual([])
  expect(report.violations).toEqual({})
  // A call's time includes waiting for its process's event loop (GC of the recorded history, two
  // cores shared by eight processes): allow one call in 10,000 over 50 ms; the long run reports them.
  expect(report.slowCalls).toBeLessThanOrEqual(Math.ceil(report.operations / 10_000))
  expect(report.operations).toBeGreaterThan(10_000)
  expect(report.getsServed).toBeGreaterThan(1_000)
  expect(Object.keys(report.faults).sort()).toEqual(
    [
      'allkeys-lru',
      'cut-data',
      'cut-pubsub',
      'delay',
      'delete-tier-keys',
      'failover-stale-replica',
      'hang-data',
      'hang-pubsub',
      'jitter',
      'late-packet',
      'oom-noeviction',
      'pause',
      'restart-everything-old-data',
      'restart-old-data',
      'stall',
    ].sort(),
  )
  expect(run.status).toBe(0)
}, 180_000)
