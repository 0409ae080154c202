'use strict'

// The OpenTelemetry metrics (lib/metrics.js) without Vendure: nothing read without an SDK, figures equal
// to stats() with one, one series per store however many strategies share it, none after unobserving,
// and nothing at all when @opentelemetry/api is not installed.

const { metrics } = require('@opentelemetry/api')
const { MeterProvider, MetricReader } = require('@opentelemetry/sdk-metrics')
const { NativeSessionCacheStrategy } = require('..')
const { observeMetrics } = require('../lib/metrics')
const { customerSession } = require('./fixtures')

/** A reader collected on demand. */
class TestReader extends MetricReader {
  async onForceFlush() {}
  async onShutdown() {}
}

async function collect(reader) {
  const { resourceMetrics } = await reader.collect()
  const points = {}
  for (const scope of resourceMetrics.scopeMetrics) {
    if (scope.scope.name !== 'vendure-native-session-cache') continue
    for (const metric of scope.metrics) points[metric.descriptor.name] = metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }))
  }
  return points
}

const unique = (label) => `metrics-${label}-${process.pid}-${Math.random().toString(36).slice(2)}`

afterEach(() => metrics.disable())

test('with the API but no SDK registered, stats() is never read', () => {
  const strategy = new NativeSessionCacheStrategy({ name: unique('noop') })
  const stats = jest.spyOn(strategy, 'stats')
  const stop = observeMetrics(strategy)
  for (let i = 0; i < 100; i++) strategy.get('nothing')
  stop()
  expect(stats).not.toHaveBeenCalled()
  strategy.destroy()
})

test('with an SDK: the figures of stats(), one series per store, not read once unobserved', async () => {
  const reader = new TestReader()
  metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))
  const name = unique('sdk')
  const a = new NativeSessionCacheStrategy({ name })
  const b = new NativeSessionCacheStrategy({ name })
  const stopA = observeMetrics(a)
  const stopB = observeMetrics(b)
  try {
    for (let i = 0; i < 5; i++) a.set(customerSession(`t${i}`))
    for (let i = 0; i < 5; i++) b.get(`t${i}`)
    b.get('absent')
    a.delete('t0')
    const points = await collect(reader)
    const stats = a.stats()
    const attributes = { 'vendure.session_cache.name': name }
    const series = (metric) => points[`vendure.session_cache.${metric}`].filter((p) => p.attributes['vendure.session_cache.name'] === name)
    for (const [metric, field] of [['sets', 'sets'], ['hits', 'hits'], ['misses', 'misses'], ['deletes', 'deletes'], ['entries', 'entries'], ['bytes', 'bytes']]) {
      expect(series(metric)).toEqual([{ attributes, value: stats[field] }])
    }
    expect(stats.sets).toBe(5)
    expect(stats.hits).toBe(5)
    expect(stats.entries).toBe(4)
    // Without the redis option there is no Redis series.
    expect(points['vendure.session_cache.redis.trusted']).toBeUndefined()
    stopA()
    // b still answers for the store.
    expect(series('entries')).toEqual([{ attributes, value: 4 }])
    stopB()
    // Unobserved: the store is no longer read (the SDK may still repeat a cumulative series' last value).
    const readA = jest.spyOn(a, 'stats')
    const readB = jest.spyOn(b, 'stats')
    await collect(reader)
    expect(readA).not.toHaveBeenCalled()
    expect(readB).not.toHaveBeenCalled()
  } finally {
    a.destroy()
    b.destroy()
  }
})

test('without @opentelemetry/api installed, observing is a no-op', () => {
  jest.isolateModules(() => {
    jest.doMock('@opentelemetry/api', () => {
      throw new Error("Cannot find module '@opentelemetry/api'")
    })
    const { observeMetrics: isolated } = require('../lib/metrics')
    const strategy = new NativeSessionCacheStrategy({ name: unique('absent') })
    const stop = isolated(strategy)
    expect(typeof stop).toBe('function')
    stop()
    strategy.destroy()
  })
})
