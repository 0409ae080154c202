'use strict'

// The little protocol between a test and a Vendure server it runs in a worker_thread (see
// server-thread.js for why a thread): the thread answers `{ ready }` or `{ startError }` once, then
// `{ id, result | error }` for each `{ id, op, arg }` the test sends.

const { Worker } = require('node:worker_threads')

/** Starts `file` as a worker_thread; resolves once it is ready, with `call(op, arg)` and the worker. */
async function startServerThread(file, workerData) {
  const worker = new Worker(file, { workerData })
  let nextId = 0
  const pending = new Map()
  await new Promise((resolve, reject) => {
    worker.on('message', (message) => {
      if (message.ready) return resolve()
      if (message.startError) return reject(new Error(`Vendure did not start: ${message.startError}`))
      const { resolve: done, reject: fail } = pending.get(message.id)
      pending.delete(message.id)
      message.error ? fail(new Error(message.error)) : done(message.result)
    })
    worker.on('error', reject)
    worker.on('exit', (code) => reject(new Error(`the server thread exited (code ${code})`)))
  })
  const call = (op, arg) =>
    new Promise((resolve, reject) => {
      const id = nextId++
      pending.set(id, { resolve, reject })
      worker.postMessage({ id, op, arg })
    })
  return { worker, call }
}

/** In the thread: answers the test's calls with `ops`, then says it is ready. */
function serveOps(parentPort, ops) {
  parentPort.on('message', async ({ id, op, arg }) => {
    try {
      parentPort.postMessage({ id, result: await ops[op](arg) })
    } catch (error) {
      parentPort.postMessage({ id, error: String(error?.stack ?? error) })
    }
  })
  parentPort.postMessage({ ready: true })
}

/** In the thread: reports a failed start. */
function reportStartError(parentPort, error) {
  parentPort.postMessage({ startError: String(error?.stack ?? error) })
}

module.exports = { startServerThread, serveOps, reportStartError }
