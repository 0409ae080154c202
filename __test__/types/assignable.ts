// Compiled by `tsc --noEmit -p __test__/types` in `npm test`: fails if the public types drift from
// what @vendure/core expects of a session cache strategy.
import type { CachedSession as VendureCachedSession, SessionCacheStrategy, VendureConfig } from '@vendure/core'
import { NativeSessionCachePlugin, NativeSessionCacheStrategy, type CachedSession, type NativeSessionCacheStats } from '../..'


const strategy: SessionCacheStrategy = new NativeSessionCacheStrategy({ maxEntries: 50_000, ttl: '1h' })

const config: Pick<VendureConfig, 'authOptions'> = {
  authOptions: { sessionCacheStrategy: new NativeSessionCacheStrategy() },
}

// Sessions flow both ways between Vendure's type and ours.
declare const fromVendure: VendureCachedSession
const ours: CachedSession = fromVendure
// With the redis option, a local miss returns a Promise (Vendure awaits whatever get returns).
const back: VendureCachedSession | undefined | Promise<VendureCachedSession | undefined> = new NativeSessionCacheStrategy().get(ours.token)

const shared: SessionCacheStrategy = new NativeSessionCacheStrategy({ redis: { url: 'redis://127.0.0.1:6379', keyPrefix: 'shop:', timeoutMs: 10 } })
const redisHits: number | undefined = new NativeSessionCacheStrategy().stats().redis?.hits

const stats: NativeSessionCacheStats = new NativeSessionCacheStrategy().stats()
const hits: number = stats.hits

// The plugin line, as the README writes it.
const withPlugin: Pick<VendureConfig, 'plugins'> = {
  plugins: [NativeSessionCachePlugin.init({ maxEntries: 50_000, redis: { url: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379' } })],
}

// @ts-expect-error redis needs a url
new NativeSessionCacheStrategy({ redis: { keyPrefix: 'x' } })

// @ts-expect-error maxEntries is a number
new NativeSessionCacheStrategy({ maxEntries: '10' })

export { strategy, config, back, hits, shared, redisHits, withPlugin }
