'use strict'

// Run with --expose-gc: sets and deletes a million sessions, then creates and destroys a thousand
// strategies, and prints V8 heap and RSS growth (MB) after each phase as JSON.

const { NativeSessionCacheStrategy } = require('../..')
const { liveStoreCount } = require('../../binding.js')
const f = require('../fixtures')

const mb = (bytes) => Math.round((bytes / 2 ** 20) * 10) / 10

function settle() {
  for (let i = 0; i < 4; i++) global.gc()
  const { heapUsed, rss } = process.memoryUsage()
  return { heapUsed, rss }
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

function createAndDestroy(n) {
  for (let i = 0; i < n; i++) {
    const s = new NativeSessionCacheStrategy({ name: `leak-instance-${i}`, maxEntries: 1000 })
    s.init()
    const session = f.customerSession()
    s.set(session)
    s.get(session.token)
    s.destroy()
  }
}

async function main() {
  const cache = new NativeSessionCacheStrategy({ name: 'leak-check' })
  const template = f.customerSession()
  const churn = (n) => {
    for (let i = 0; i < n; i++) {
      const token = `${i.toString(16).padStart(16, '0')}${template.token.slice(16)}`
      cache.set({ ...template, token })
      if (cache.get(token) === undefined) throw new Error('a fresh session missed')
      cache.delete(token)
    }
  }
  churn(20_000) // warm up: JIT, map capacity, allocator pools
  createAndDestroy(20) // and load what init() loads once (Vendure's Logger, when @vendure/core is present)
  await sleep(600) // let the sweeper run once
  const before = settle()
  churn(1_000_000)
  await sleep(600)
  const afterChurn = settle()
  const stats = cache.stats()

  const storesBefore = liveStoreCount()
  createAndDestroy(1000)
  // destroy() frees a store at once when no other strategy holds it, without waiting for GC.
  const storesLeftAfterDestroy = liveStoreCount() - storesBefore
  await sleep(600) // the sweeper drops its references to released stores
  const afterInstances = settle()

  console.log(
    JSON.stringify({
      churnHeapGrowthMb: mb(afterChurn.heapUsed - before.heapUsed),
      churnRssGrowthMb: mb(afterChurn.rss - before.rss),
      instancesHeapGrowthMb: mb(afterInstances.heapUsed - afterChurn.heapUsed),
      instancesRssGrowthMb: mb(afterInstances.rss - afterChurn.rss),
      storesLeftAfterDestroy,
      entriesLeft: stats.entries,
      bytesLeft: stats.bytes,
      nearCacheEntries: stats.nearCacheEntries,
    }),
  )
}

main()
