'use strict'

const { parentPort, workerData } = require('node:worker_threads')
const { NativeSessionCacheStrategy } = require('../..')
const f = require('../fixtures')

const cache = new NativeSessionCacheStrategy({ name: workerData.name, maxEntries: 1000 })

/** Random sets, gets and deletes over a shared token range; counts answers that belong to another token. */
function churn({ rounds, seed }) {
  const tokens = Array.from({ length: 200 }, (_, i) => `churn-${i}`.padEnd(64, '0'))
  let x = seed
  let wrongAnswers = 0
  for (let i = 0; i < rounds; i++) {
    x = (x * 1103515245 + 12345) % 2 ** 31
    const token = tokens[x % tokens.length]
    const op = x % 7
    if (op < 3) cache.set(f.customerSession(token))
    else if (op === 3) cache.delete(token)
    else {
      const got = cache.get(token)
      if (got !== undefined && got.token !== token) wrongAnswers++
    }
  }
  return { wrongAnswers }
}

const ops = {
  ping: () => 'pong',
  set: (session) => cache.set(session),
  get: (token) => {
    const session = cache.get(token)
    return { session, expiresIsDate: session?.expires instanceof Date }
  },
  delete: (token) => cache.delete(token),
  clear: () => cache.clear(),
  churn,
  /** Sets `n` new sessions. */
  fill: (n) => {
    for (let i = 0; i < n; i++) cache.set(f.anonymousSession())
  },
}

parentPort.on('message', ({ id, op, arg }) => {
  try {
    parentPort.postMessage({ id, result: ops[op](arg) })
  } catch (error) {
    parentPort.postMessage({ id, error: String(error?.stack ?? error) })
  }
})
