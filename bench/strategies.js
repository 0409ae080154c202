'use strict'

// Every SessionCacheStrategy measured, each built as a Vendure user would build it, behind one small
// interface: `create({ capacity })` resolves to `{ strategy, size(), destroy() }`, where `strategy` is the
// real strategy object whose set/get/delete/clear the bench calls directly, and `async` says whether
// those return Promises (awaited by the bench, as Vendure awaits them). `size()` and `tagged()` peek at
// internals for the report only, never inside a timed loop.

const fs = require('node:fs')
const path = require('node:path')
const { LRUCache } = require('lru-cache')
const vendure = require('@vendure/core')
// Vendure's default cache strategy is not exported from the package index.
const { InMemoryCacheStrategy } = require('@vendure/core/dist/config/system/in-memory-cache-strategy')
const { NativeSessionCacheStrategy } = require('..')

// Vendure's DefaultLogger (a server's default), at Warn rather than Info so that a store's start-up line
// is not printed each time the bench opens one; a warning or a swallowed Redis error still shows.
vendure.Logger.useLogger(new vendure.DefaultLogger({ level: vendure.LogLevel.Warn }))

/** The floor: a Map holding the session object as it was given. */
class PlainMapStrategy {
  map = new Map()
  set(session) {
    this.map.set(session.token, session)
  }
  get(token) {
    return this.map.get(token)
  }
  delete(token) {
    this.map.delete(token)
  }
  clear() {
    this.map.clear()
  }
}

/** What a user would write with lru-cache: bounded by count, the session object kept as-is (as Vendure's
 * own InMemorySessionCacheStrategy does; Vendure never mutates what `get` returns). */
class LruCacheSessionStrategy {
  constructor(max) {
    this.cache = new LRUCache({ max })
  }
  set(session) {
    this.cache.set(session.token, session)
  }
  get(token) {
    return this.cache.get(token)
  }
  delete(token) {
    this.cache.delete(token)
  }
  clear() {
    this.cache.clear()
  }
}

/** What DefaultSessionCacheStrategy.init() asks of Vendure's injector: only the CacheService. */
function fakeInjector(cacheService) {
  return {
    get(token) {
      if (token === vendure.CacheService) return cacheService
      throw new Error(`the bench's injector has no ${token?.name ?? String(token)}`)
    },
  }
}

/** A real CacheService over `cacheStrategy`, as Nest constructs it from the ConfigService. */
const cacheServiceOver = (cacheStrategy) => new vendure.CacheService({ systemOptions: { cacheStrategy } })

async function defaultOver(cacheStrategy) {
  const strategy = new vendure.DefaultSessionCacheStrategy() // as in Vendure's defaultConfig
  await strategy.init(fakeInjector(cacheServiceOver(cacheStrategy)))
  return strategy
}

const TAG_KEY = 'vendure-cache:tag:DefaultSessionCacheStrategy'
let nativeStores = 0
const NATIVE_DEFAULT_MAX_BYTES = 256 * 2 ** 20

/** The strategies, in table order. `redis` is a started server or null (then its row is left out). */
function strategies({ redis }) {
  const list = [
    {
      id: 'map',
      label: 'plain Map (floor)',
      async: false,
      async create() {
        const strategy = new PlainMapStrategy()
        return { strategy, size: () => strategy.map.size, destroy() {} }
      },
    },
    {
      id: 'vendure-in-memory',
      label: 'InMemorySessionCacheStrategy',
      async: false,
      async create({ capacity }) {
        const strategy = new vendure.InMemorySessionCacheStrategy(capacity)
        return { strategy, size: () => strategy.cache.size, destroy() {} }
      },
    },
    {
      id: 'lru-cache',
      label: 'lru-cache (objects as-is)',
      async: false,
      async create({ capacity }) {
        const strategy = new LruCacheSessionStrategy(capacity)
        return { strategy, size: () => strategy.cache.size, destroy() {} }
      },
    },
    {
      id: 'default-in-memory',
      label: 'Default + InMemoryCacheStrategy',
      async: true,
      // Vendure's default configuration, InMemoryCacheStrategy({ cacheSize: 10000 }), whatever the capacity asked.
      async create() {
        const cacheStrategy = new InMemoryCacheStrategy({ cacheSize: 10_000 })
        const strategy = await defaultOver(cacheStrategy)
        return {
          strategy,
          size: () => cacheStrategy.cache.size,
          // Keys in its tag set, which is never pruned when the cache evicts (only clear() empties it).
          tagged: () => cacheStrategy.cacheTags.get('DefaultSessionCacheStrategy')?.size ?? 0,
          destroy() {},
        }
      },
    },
  ]
  if (redis) {
    list.push({
      id: 'default-redis',
      label: 'Default + RedisCacheStrategy',
      async: true,
      remote: true, // its sessions live in redis-server, not in this process's memory
      async create() {
        await redis.admin.flushall()
        // RedisCachePlugin.init(options) replaces its options whole: the plugin's defaults plus the server.
        const cacheStrategy = new vendure.RedisCacheStrategy({
          maxItemSizeInBytes: 128_000,
          namespace: 'vendure-cache',
          redisOptions: { host: '127.0.0.1', port: redis.port },
        })
        await cacheStrategy.init()
        const strategy = await defaultOver(cacheStrategy)
        return {
          strategy,
          // Every key but the strategy's tag set is a session.
          size: async () => (await redis.admin.dbsize()) - (await redis.admin.exists(TAG_KEY)),
          tagged: () => redis.admin.scard(TAG_KEY),
          async destroy() {
            await cacheStrategy.destroy()
            await redis.admin.flushall()
          },
        }
      },
    })
  }
  list.push({
    id: 'native',
    label: 'this project',
    async: false,
    async create({ capacity }) {
      const options = {
        name: `bench-${process.pid}-${++nativeStores}`,
        maxEntries: capacity,
        maxBytes: Math.max(NATIVE_DEFAULT_MAX_BYTES, capacity * 4096),
      }
      const strategy = new NativeSessionCacheStrategy(options)
      strategy.init()
      // `options` lets a worker_thread open the same store.
      return { strategy, options, size: () => strategy.stats().entries, destroy: () => strategy.destroy() }
    },
  })
  return list
}

/** Versions of what is measured, for the report (read from node_modules: lru-cache exports no package.json). */
function versions(redis) {
  const version = (name) => {
    try {
      return JSON.parse(fs.readFileSync(path.join(__dirname, '..', 'node_modules', name, 'package.json'), 'utf8')).version
    } catch {
      return undefined
    }
  }
  return { vendureCore: version('@vendure/core'), lruCache: version('lru-cache'), ioredis: version('ioredis'), redis: redis?.version }
}

module.exports = { strategies, versions }
