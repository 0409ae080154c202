'use strict'

// A real Vendure server configured with NativeSessionCachePlugin and nothing else of this package (no
// sessionCacheStrategy in authOptions), in a worker_thread (see server-thread.js for why a thread). The
// OpenTelemetry SDK is registered first, as Vendure's telemetry preload does, with the SDK's in-memory
// exporter, so the test reads back exactly what an OTLP exporter would be sent.

const { parentPort, workerData } = require('node:worker_threads')
const { metrics } = require('@opentelemetry/api')
const {
  MeterProvider,
  PeriodicExportingMetricReader,
  InMemoryMetricExporter,
  AggregationTemporality,
} = require('@opentelemetry/sdk-metrics')
const fx = require('../fixtures')
const { serveOps, reportStartError } = require('./thread-rpc')

const { name, port, dataDir, redisUrl } = workerData

const exporter = new InMemoryMetricExporter(AggregationTemporality.CUMULATIVE)
// Exports only when asked (forceFlush), never on a timer during the test.
const reader = new PeriodicExportingMetricReader({ exporter, exportIntervalMillis: 3_600_000 })
metrics.setGlobalMeterProvider(new MeterProvider({ readers: [reader] }))

async function main() {
  const { mergeConfig, ConfigService } = require('@vendure/core')
  const { createTestEnvironment, registerInitializer, SqljsInitializer, testConfig } = require('@vendure/testing')
  const { NativeSessionCachePlugin } = require('../../..')

  const options = { name, ...(redisUrl ? { redis: { url: redisUrl, secret: 'plugin-e2e-secret' } } : {}) }
  const config = mergeConfig(testConfig, { apiOptions: { port }, plugins: [NativeSessionCachePlugin.init(options)] })
  registerInitializer('sqljs', new SqljsInitializer(fx.seedDir(dataDir)))
  const { server } = createTestEnvironment(config)
  await server.init(fx.populateOptions)
  const strategy = () => server.app.get(ConfigService).authOptions.sessionCacheStrategy

  const ops = {
    /** What Vendure's ConfigService holds as the session cache strategy in the server. */
    strategy: () => ({ className: strategy().constructor.name, name: strategy().options?.name }),
    stats: () => strategy().stats(),
    /** The database file the seeded server uses (for the worker, which opens its own connection). */
    databaseLocation: () => config.dbConnectionOptions.location,
    /** Collects now and returns every data point of this package's meter: { metric: [{ attributes, value }] }. */
    async metrics() {
      exporter.reset()
      await reader.forceFlush()
      const points = {}
      for (const resourceMetrics of exporter.getMetrics()) {
        for (const scope of resourceMetrics.scopeMetrics) {
          if (scope.scope.name !== 'vendure-native-session-cache') continue
          for (const metric of scope.metrics) {
            points[metric.descriptor.name] = metric.dataPoints.map((p) => ({ attributes: p.attributes, value: p.value }))
          }
        }
      }
      return points
    },
    async stop() {
      await server.destroy()
      await reader.shutdown()
    },
  }

  serveOps(parentPort, ops)
}

main().catch((error) => reportStartError(parentPort, error))
