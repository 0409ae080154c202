'use strict'

// Run with --expose-gc: sets and deletes a million sessions (with the near cache off, then on), then
// creates and destroys a thousand strategies, and prints V8 heap and RSS growth (MB) as JSON.

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

/** Sets, gets and deletes `n` fresh sessions through `cache`. */
function churn(cache, template, n, from) {
  for (let i = from; i < from + n; i++) {
    const token = `${i.toString(16).padStart(16, '0')}${template.token.slice(16)}`
    cache.set({ ...template, token })
    if (cache.get(token) === undefined) throw new Error('a fresh session missed')
    cache.delete(token)
  }
}

async function main() {
  const template = f.customerSession()
  // Native memory, measured as RSS with the near cache off: with it on, the JS Map it churns makes
  // V8 keep freed heap pages pooled (not in heapUsed, not returned to the OS), tens of MB on Node 22+
  // whatever this package does. The near cache's own leaks would be JS objects: the heap check below.
  const native = new NativeSessionCacheStrategy({ name: 'leak-check-native', nearCacheSize: 0 })
  const cache = new NativeSessionCacheStrategy({ name: 'leak-check' })
  churn(native, template, 20_000, 0) // warm up: JIT, map capacity, allocator pools
  churn(cache, template, 20_000, 0)
  createAndDestroy(20) // and load what init() loads once (Vendure's Logger, when @vendure/core is present)
  await sleep(600) // let the sweeper run once
  const before = settle()
  churn(native, template, 1_000_000, 20_000)
  await sleep(600)
  const afterNative = settle()
  churn(cache, template, 1_000_000, 20_000)
  await sleep(600)
  const afterChurn = settle()
  const stats = cache.stats()
  const nativeStats = native.stats()

  const storesBefore = liveStoreCount()
  createAndDestroy(1000)
  // destroy() frees a store at once when no other strategy holds it, without waiting for GC.
  const storesLeftAfterDestroy = liveStoreCount() - storesBefore
  await sleep(600) // the sweeper drops its references to released stores
  const afterInstances = settle()

  console.log(
    JSON.stringify({
      churnHeapGrowthMb: mb(afterChurn.heapUsed - afterNative.heapUsed),
      churnRssGrowthMb: mb(afterNative.rss - before.rss),
      nearCacheChurnRssGrowthMb: mb(afterChurn.rss - afterNative.rss),
      instancesHeapGrowthMb: mb(afterInstances.heapUsed - afterChurn.heapUsed),
      instancesRssGrowthMb: mb(afterInstances.rss - afterChurn.rss),
      storesLeftAfterDestroy,
      entriesLeft: stats.entries + nativeStats.entries,
      bytesLeft: stats.bytes + nativeStats.bytes,
      nearCacheEntries: stats.nearCacheEntries,
    }),
  )
}

main()
