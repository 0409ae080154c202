'use strict'

// The figures stats() returns, described once: the Admin API's schema (lib/plugin.js) and the
// OpenTelemetry instruments (lib/metrics.js) are made from these lists, and a test checks that they
// name exactly what stats() returns.

/**
 * The store's figures. `kind`: 'counter' only grows (until the process restarts), 'size' goes up and
 * down. `metric`: the instrument's name after `vendure.session_cache.` (none: not exported).
 */
const STORE_FIELDS = [
  { name: 'hits', kind: 'counter', metric: 'hits', unit: '{lookup}', description: 'Lookups answered by this process (its store or a thread\'s near cache).' },
  { name: 'misses', kind: 'counter', metric: 'misses', unit: '{lookup}', description: 'Lookups this process could not answer locally.' },
  { name: 'sets', kind: 'counter', metric: 'sets', unit: '{session}', description: 'Sessions stored.' },
  { name: 'deletes', kind: 'counter', metric: 'deletes', unit: '{session}', description: 'Sessions deleted (Vendure deletes on logout, and when a session is revoked or refreshed).' },
  { name: 'rejected', kind: 'counter', metric: 'rejected', unit: '{session}', description: 'Sessions refused because they could not be stored exactly, or were larger than maxEntryBytes.' },
  { name: 'evictions', kind: 'counter', metric: 'evictions', unit: '{session}', description: 'Sessions removed to stay within maxEntries / maxBytes.' },
  { name: 'expirations', kind: 'counter', metric: 'expirations', unit: '{session}', description: "Sessions removed because their cacheExpiry, expires or ttl passed." },
  { name: 'clears', kind: 'counter', metric: 'clears', unit: '{clear}', description: 'Calls of clear().' },
  { name: 'replaced', kind: 'counter', metric: 'replaced', unit: '{session}', description: 'Sessions overwritten by a later set of the same token.' },
  { name: 'reclaimed', kind: 'counter', metric: 'reclaimed', unit: '{session}', description: 'Sessions made dead by clear() and freed since.' },
  { name: 'dropped', kind: 'counter', metric: 'dropped', unit: '{session}', description: 'Sessions dropped because a newer set of their token could not be cached.' },
  { name: 'entries', kind: 'size', metric: 'entries', unit: '{session}', description: 'Sessions held now.' },
  { name: 'bytes', kind: 'size', metric: 'bytes', unit: 'By', description: 'Bytes charged for the sessions held now (token, JSON and a fixed overhead each).' },
  { name: 'nearCacheEntries', kind: 'size', metric: undefined, unit: '{session}', description: "Sessions the asking thread's near cache holds decoded (per thread)." },
]

/** The Redis tier's figures (stats().redis), as above; `trustworthy` is a boolean. */
const REDIS_FIELDS = [
  { name: 'hits', kind: 'counter', metric: 'redis.hits', unit: '{lookup}', description: 'Lookups Redis answered with a session.' },
  { name: 'misses', kind: 'counter', metric: 'redis.misses', unit: '{lookup}', description: 'Lookups Redis answered without one.' },
  { name: 'corrupt', kind: 'counter', metric: 'redis.corrupt', unit: '{lookup}', description: 'Values of another format, damaged, or failing their MAC (counted as misses).' },
  { name: 'unavailable', kind: 'counter', metric: 'redis.unavailable', unit: '{lookup}', description: 'Lookups answered by a miss because Redis was down, slow or not trusted (includes skipped).' },
  { name: 'skipped', kind: 'counter', metric: undefined, unit: '{lookup}', description: 'Lookups not sent because the invalidation channel was down.' },
  { name: 'sets', kind: 'counter', metric: undefined, unit: '{session}', description: 'Sessions written to Redis.' },
  { name: 'deletes', kind: 'counter', metric: undefined, unit: '{session}', description: 'Sessions deleted in Redis.' },
  { name: 'clears', kind: 'counter', metric: undefined, unit: '{clear}', description: 'Clears sent to Redis.' },
  { name: 'errors', kind: 'counter', metric: 'redis.errors', unit: '{call}', description: 'Redis calls that failed.' },
  { name: 'timeouts', kind: 'counter', metric: 'redis.timeouts', unit: '{call}', description: 'Redis calls that took longer than timeoutMs.' },
  { name: 'lostWrites', kind: 'counter', metric: 'redis.lost_writes', unit: '{write}', description: 'Writes that may not have reached Redis even after a repair; each is covered by a namespace bump.' },
  { name: 'namespaceBumps', kind: 'counter', metric: 'redis.namespace_bumps', unit: '{bump}', description: 'Namespace bumps: clears, and recoveries from lost writes or a Redis that lost data.' },
  { name: 'failedBumps', kind: 'counter', metric: undefined, unit: '{bump}', description: 'Namespace bumps that failed and were retried.' },
  { name: 'outages', kind: 'counter', metric: 'redis.outages', unit: '{outage}', description: 'Times the invalidation channel went down (local hits stop until it is back).' },
  { name: 'reconnects', kind: 'counter', metric: undefined, unit: '{connection}', description: 'Invalidation channel reconnections.' },
  { name: 'restarts', kind: 'counter', metric: undefined, unit: '{restart}', description: 'Redis restarts noticed (another run_id).' },
  { name: 'invalidations', kind: 'counter', metric: 'redis.invalidations', unit: '{message}', description: 'Invalidations heard from other instances.' },
  { name: 'invalidateAlls', kind: 'counter', metric: undefined, unit: '{flush}', description: "Local flushes: other instances' clears, and outages." },
  { name: 'malformedMessages', kind: 'counter', metric: undefined, unit: '{message}', description: 'Invalidation messages that could not be read.' },
  { name: 'lateWrites', kind: 'counter', metric: 'redis.late_writes', unit: '{write}', description: 'Sets refused because they reached Redis after their call had given up.' },
  { name: 'repairs', kind: 'counter', metric: undefined, unit: '{write}', description: 'Keys deleted again (and published) after a write of theirs failed or came too late.' },
  { name: 'links', kind: 'counter', metric: undefined, unit: '{connection}', description: 'Data connections opened.' },
  { name: 'incarnationBumps', kind: 'counter', metric: undefined, unit: '{bump}', description: 'Namespace bumps made because Redis restarted or failed over.' },
  { name: 'trustworthy', kind: 'flag', metric: 'redis.trusted', unit: '1', description: 'Whether the tier is trusted now: the invalidation channel is up and nothing is owed (1) or local hits are stopped (0).' },
]

module.exports = { STORE_FIELDS, REDIS_FIELDS }
