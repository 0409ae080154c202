'use strict'

// Vendure's worker (bootstrapWorker) with only NativeSessionCachePlugin, in a worker_thread of its own:
// its own module instances, so its own Vendure config, as in a separate worker process. Being in the
// test's process, a strategy with the same name shares the server's store, so the worker reading a
// session the server cached shows the plugin installed a working strategy here too.

const { parentPort, workerData } = require('node:worker_threads')

async function main() {
  const { bootstrapWorker, mergeConfig, ConfigService } = require('@vendure/core')
  const { testConfig } = require('@vendure/testing')
  const { NativeSessionCachePlugin } = require('../../..')

  const { name, databaseLocation, token } = workerData
  const config = mergeConfig(testConfig, {
    dbConnectionOptions: { type: 'sqljs', location: databaseLocation, autoSave: false, synchronize: false },
    plugins: [NativeSessionCachePlugin.init({ name })],
  })
  const worker = await bootstrapWorker(config)
  try {
    const strategy = worker.app.get(ConfigService).authOptions.sessionCacheStrategy
    const session = await strategy.get(token)
    return { className: strategy.constructor.name, name: strategy.options?.name, sessionUserId: session?.user?.id }
  } finally {
    await worker.app.close()
  }
}

main().then(
  (result) => parentPort.postMessage({ result }),
  (error) => parentPort.postMessage({ error: String(error?.stack ?? error) }),
)
