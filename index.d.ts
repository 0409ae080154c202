/**
 * vendure-native-session-cache: a fast, memory-bounded session cache for Vendure, shared by every
 * worker_thread of the process. `NativeSessionCacheStrategy` implements `@vendure/core`'s
 * `SessionCacheStrategy` (the peer dependency). What `get` returns equals what `set` stored: `expires`
 * a Date, numbers and string ids as they were, `null` as `null` (Vendure passes `null` for
 * `activeOrderId` / `activeChannelId`), absent keys absent, extra JSON-representable properties kept.
 */

import type { CachedSession, Injector, SessionCacheStrategy, Type } from '@vendure/core'
import type { RedisTierStats } from './binding'

export type { CachedSession }

export interface NativeSessionCacheOptions {
  /**
   * Strategies with the same name in one process, in any worker_thread, share one store; they must
   * then agree on every bound.
   * @default 'vendure-session-cache'
   */
  name?: string
  /** Most sessions held at once; the least recently used (approximately, by CLOCK) make room. @default 100000 */
  maxEntries?: number
  /**
   * Most bytes held at once: each session's token and JSON size plus a fixed overhead per entry
   * (200 B, measured). @default 268435456 (256 MiB)
   */
  maxBytes?: number
  /**
   * The largest single session worth caching (token + JSON + 200 B), so that one giant session (a
   * superadmin on thousands of channels) cannot evict the whole cache. A larger one is not cached,
   * counted in `rejected` and logged. @default 1048576 (1 MiB)
   */
  maxEntryBytes?: number
  /**
   * An upper bound on how long any session stays cached, in milliseconds or as a string such as
   * `'30m'`, `'1h'`, `'2d'`. Vendure's own `cacheExpiry` and the session's `expires` always apply too.
   * @default undefined (no bound beyond Vendure's)
   */
  ttl?: number | string
  /**
   * Sessions each thread keeps decoded, returned again without a call into the store for as long
   * as the store proves them current (no write, delete, clear, eviction or expiry since). Repeated
   * gets in one thread may then return the same object, as Vendure's InMemorySessionCacheStrategy
   * does: treat it as read-only (Vendure does). The thread that sets a session keeps that very
   * object. 0 turns it off: every get decodes a fresh copy. Each thread holds at most twice this many
   * objects; measured, about 760 B of V8 heap per customer session and 7.7 KB per superadmin.
   * @default maxEntries
   */
  nearCacheSize?: number
  /**
   * Share sessions between instances (server processes, the worker, other machines) through Redis,
   * keeping every instance's local layers coherent by invalidation. See the README, "Several servers".
   * @default undefined (this process only)
   */
  redis?: NativeSessionCacheRedisOptions
}

export interface NativeSessionCacheRedisOptions {
  /** `redis://[[user]:password@]host[:port][/db]` or `rediss://...` (TLS). */
  url: string
  /** Prepended to every name used in Redis; instances that share sessions share it. @default 'vsc:' */
  keyPrefix?: string
  /**
   * Keys the hash of tokens (keys in Redis) and the MAC of values; never sent to Redis. Every instance
   * must have the same. @default Vendure's `authOptions.cookieOptions.secret` (init() fails if that is
   * Vendure's random per-process default)
   */
  secret?: string
  /** The longest one Redis call may take before it counts as a miss; under Vendure's 50 ms. @default 20 */
  timeoutMs?: number
}

/** Validated options, with defaults filled in. */
export interface ResolvedNativeSessionCacheOptions {
  readonly name: string
  readonly maxEntries: number
  readonly maxBytes: number
  readonly maxEntryBytes: number
  readonly ttlMs: number | undefined
  readonly nearCacheSize: number
  readonly redis:
    | Readonly<{ url: string; keyPrefix: string; secret: string | undefined; timeoutMs: number }>
    | undefined
}

/**
 * The Redis tier's counters; shared by every strategy with the same name in the process. Generated
 * from the Rust struct that fills it (binding.d.ts), so the two cannot drift apart.
 */
export type NativeSessionCacheRedisStats = RedisTierStats

/**
 * Counters and sizes of a store; shared by every strategy with the same name in the process.
 * Every stored session is held or left one way: `sets === entries + evictions + expirations + deletes
 * + replaced + reclaimed + dropped`. Near-cache hits reach `hits` in batches of 1,024 per thread.
 */
export interface NativeSessionCacheStats {
  hits: number
  misses: number
  sets: number
  deletes: number
  /** Sessions refused because they could not be stored exactly, or were larger than `maxBytes`. */
  rejected: number
  /** Sessions removed to stay within `maxEntries` / `maxBytes`. */
  evictions: number
  /** Sessions removed because their `cacheExpiry`, `expires` or `ttl` passed. */
  expirations: number
  clears: number
  /** Sessions overwritten by a later `set` of the same token. */
  replaced: number
  /** Sessions made dead by `clear()` and freed since by the background sweep. */
  reclaimed: number
  /** Sessions dropped because a newer `set` of their token could not be cached. */
  dropped: number
  /** Entries held now (entries made dead by `clear()` count until the background sweep frees them). */
  entries: number
  /** Bytes charged for the entries held now. */
  bytes: number
  /** Sessions this thread's near cache holds (per thread, unlike every other figure). */
  nearCacheEntries: number
  /** With the `redis` option: the tier's counters, or null until init() connected it. */
  redis?: NativeSessionCacheRedisStats | null
}

export declare class NativeSessionCacheStrategy implements SessionCacheStrategy {
  /** @throws TypeError naming the option that is wrong, or another strategy's conflicting bounds. */
  constructor(options?: NativeSessionCacheOptions)
  readonly options: ResolvedNativeSessionCacheOptions
  /**
   * With the `redis` option, connects (or joins this process's connection for the same `name`) and
   * rejects with an error naming the URL without its password if Redis cannot be reached.
   */
  init(injector?: Injector): void | Promise<void>
  /** Lets go of the store, and of the Redis connection if no other strategy in the process uses it. */
  destroy(): void
  /**
   * Caches the session. A session that cannot be stored exactly (an invalid `expires`, a non-finite
   * number, a cycle, a BigInt, a function...) is not cached, any older entry for its token is dropped,
   * and one warning is logged. With the `redis` option, returns a Promise that resolves once Redis
   * answered or timed out, and never rejects. @throws TypeError only when `session` names no non-empty
   * string token.
   */
  set(session: CachedSession): void | Promise<void>
  /**
   * What was set for `sessionToken` (equal to it, `expires` a Date), or undefined. With the near
   * cache on, repeated gets in one thread may return the same object until the session is written.
   * A local hit is returned synchronously; with the `redis` option, a local miss returns a Promise of
   * the Redis lookup, which never rejects (an outage, a timeout or a corrupt value is a miss).
   */
  get(sessionToken: string): CachedSession | undefined | Promise<CachedSession | undefined>
  /** With the `redis` option, resolves once Redis answered (or timed out); never rejects. */
  delete(sessionToken: string): void | Promise<void>
  /** Makes every cached session unreachable at once; memory is freed in the background. */
  clear(): void | Promise<void>
  stats(): NativeSessionCacheStats
}

/**
 * A Vendure plugin: `plugins: [NativeSessionCachePlugin.init(options)]` installs a
 * NativeSessionCacheStrategy with these options as `authOptions.sessionCacheStrategy` in the server
 * and in the worker; adds the Admin API query `sessionCacheStats` (needs `ReadSystem`; the figures of
 * the process that answers); and, when `@opentelemetry/api` is installed and an SDK registered before
 * Vendure starts, reports the figures as `vendure.session_cache.*` metrics.
 */
export declare class NativeSessionCachePlugin {
  /** @throws TypeError naming an option that is wrong. */
  static init(options?: NativeSessionCacheOptions): Type<NativeSessionCachePlugin>
}

export declare const DEFAULT_OPTIONS: Readonly<{
  name: string
  maxEntries: number
  maxBytes: number
  maxEntryBytes: number
  ttl: undefined
  nearCacheSize: number
  redis: undefined
}>
