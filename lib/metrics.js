'use strict'

// OpenTelemetry metrics of the session cache, through @opentelemetry/api (an optional peer: without it
// nothing happens). Every instrument is observable: the SDK asks for the figures when it collects, and
// one callback reads stats() once per store for all of them. Nothing runs on the get path, and with
// the API but no SDK the meter is a no-op that never calls back.

const { STORE_FIELDS, REDIS_FIELDS } = require('./stats-fields.js')

const METER_NAME = 'vendure-native-session-cache'
const PREFIX = 'vendure.session_cache.'
/** The attribute naming the store (strategies with the same name in one process share one). */
const STORE_ATTRIBUTE = 'vendure.session_cache.name'

/** The strategies observed, by store name: the first one still open answers for its store. */
const observed = new Map()
/** The meter provider the instruments were made with, and the batch callback over them. */
let registration = null

function openTelemetryApi() {
  try {
    return require('@opentelemetry/api')
  } catch {
    return null
  }
}

function createInstruments(meter) {
  const made = []
  const instrument = (field, source) => {
    if (field.metric === undefined) return
    const options = { description: field.description, unit: field.unit }
    const name = PREFIX + field.metric
    const created =
      field.kind === 'counter'
        ? meter.createObservableCounter(name, options)
        : field.kind === 'size'
          ? meter.createObservableUpDownCounter(name, options)
          : meter.createObservableGauge(name, options)
    made.push({ field: field.name, source, created })
  }
  for (const field of STORE_FIELDS) instrument(field, 'store')
  for (const field of REDIS_FIELDS) instrument(field, 'redis')
  return made
}

function observeAll(result, instruments) {
  for (const [name, strategies] of observed) {
    const strategy = strategies.values().next().value
    if (strategy === undefined) continue
    let stats
    try {
      stats = strategy.stats()
    } catch {
      continue
    }
    const attributes = { [STORE_ATTRIBUTE]: name }
    for (const { field, source, created } of instruments) {
      const figures = source === 'store' ? stats : stats.redis
      if (figures == null) continue
      const value = figures[field]
      result.observe(created, typeof value === 'boolean' ? Number(value) : value, attributes)
    }
  }
}

/**
 * Reports `strategy`'s figures as OpenTelemetry metrics (once per store name in this process) until
 * the returned function is called. Call it after the SDK is registered (Vendure's telemetry preload
 * runs before the app): the API hands out a no-op meter until then.
 */
function observeMetrics(strategy) {
  const api = openTelemetryApi()
  if (api === null) return () => {}
  const provider = api.metrics.getMeterProvider()
  if (registration === null || registration.provider !== provider) {
    if (registration !== null) registration.meter.removeBatchObservableCallback(registration.callback, registration.created)
    const meter = api.metrics.getMeter(METER_NAME, require('../package.json').version)
    const instruments = createInstruments(meter)
    const callback = (result) => observeAll(result, instruments)
    const created = instruments.map((i) => i.created)
    meter.addBatchObservableCallback(callback, created)
    registration = { provider, meter, callback, created }
  }
  const name = strategy.options.name
  if (!observed.has(name)) observed.set(name, new Set())
  observed.get(name).add(strategy)
  return () => {
    const strategies = observed.get(name)
    strategies?.delete(strategy)
    if (strategies?.size === 0) observed.delete(name)
  }
}

module.exports = { observeMetrics, METER_NAME, STORE_ATTRIBUTE, METRIC_PREFIX: PREFIX }
