'use strict'

const { Logger } = require('@vendure/core')
const { NativeSessionCacheStrategy } = require('..')
const { fingerprint } = require('../lib/presence.js')
const { presenceFingerprint } = require('../lib/native.js').native()
const f = require('./fixtures')

const cacheWith = (label, options = {}) => new NativeSessionCacheStrategy({ name: f.storeName(label), ...options })
/**
 * Two strategies on one store: what `reader` gets is what the store holds, decoded, as another
 * worker thread sees it (the `writer`'s own next get returns the very object it set).
 */
const writerAndReader = (label, options = {}) => {
  const name = f.storeName(label)
  return [new NativeSessionCacheStrategy({ name, ...options }), new NativeSessionCacheStrategy({ name, ...options })]
}

describe('exact round-trips', () => {
  const cases = [
    ['an anonymous session', () => f.anonymousSession()],
    ['a customer session with numeric ids', () => f.customerSession()],
    ['a superadmin with two channels', () => f.superadminSession()],
    ['an API-key session with a bcrypt-hash token', () => f.apiKeySession()],
    [
      'string ids (UUID primary keys) stay strings',
      () => {
        const s = f.customerSession()
        return {
          ...s,
          id: '6a1e7a42-0000-4000-8000-000000000001',
          activeOrderId: '981',
          activeChannelId: 'c1',
          user: { ...s.user, id: '77', channelPermissions: [{ ...s.user.channelPermissions[0], id: '1' }] },
        }
      },
    ],
    ['numeric strings stay strings and numbers stay numbers', () => ({ ...f.customerSession(), id: '12', activeOrderId: 12 })],
    ['null optional fields stay null', () => ({ ...f.anonymousSession(), activeOrderId: null, activeChannelId: null })],
    [
      'absent optional fields stay absent',
      () => {
        const { activeOrderId, activeChannelId, ...rest } = f.anonymousSession()
        return rest
      },
    ],
    [
      'extra nested JSON properties survive',
      () => ({
        ...f.customerSession(),
        customFields: { locale: 'de', flags: [true, false, null], nested: { depth: { n: -1.5e-7, big: 2 ** 53 - 1 } } },
        tags: [],
        note: '',
        emoji: 'snowman \u2603 and \ud83d\ude00',
      }),
    ],
    ['an expires far in the future', () => ({ ...f.customerSession(), expires: new Date(8.64e15) })],
    ['fractional cacheExpiry keeps its precision', () => ({ ...f.customerSession(), cacheExpiry: Date.now() / 1000 + 300.1234567891 })],
  ]

  test.each(cases)('%s', (_label, make) => {
    const [writer, reader] = writerAndReader('roundtrip')
    const session = make()
    writer.set(session)
    const back = reader.get(session.token)
    expect(back).toStrictEqual(session)
    expect(back.expires).toBeInstanceOf(Date)
    expect(back.expires.getTime()).toBe(session.expires.getTime())
    expect(back).not.toBe(session)
    // The thread that set it gets the very object back, as InMemorySessionCacheStrategy does.
    expect(writer.get(session.token)).toBe(session)
  })

  test('an undefined property comes back absent, as JSON drops it', () => {
    const [writer, reader] = writerAndReader('undefined-prop')
    const session = { ...f.anonymousSession(), activeOrderId: undefined }
    writer.set(session)
    const back = reader.get(session.token)
    expect(back).toEqual(session)
    expect('activeOrderId' in back).toBe(false)
  })

  test('without a near cache every get returns a fresh object: mutating one does not change the cache', () => {
    const cache = cacheWith('fresh', { nearCacheSize: 0 })
    const session = f.customerSession()
    cache.set(session)
    const first = cache.get(session.token)
    first.user.channelPermissions[0].permissions.push('SuperAdmin')
    first.expires.setFullYear(1990)
    expect(cache.get(session.token)).toStrictEqual(session)
  })

  test('with the near cache, repeated gets in one thread return the same object until a write', () => {
    const cache = cacheWith('near-same')
    const session = f.customerSession()
    cache.set(session)
    const first = cache.get(session.token)
    expect(cache.get(session.token)).toBe(first)
    cache.set({ ...session, activeOrderId: 5 })
    const second = cache.get(session.token)
    expect(second).not.toBe(first)
    expect(second.activeOrderId).toBe(5)
    expect(cache.stats()).toMatchObject({ hits: 3, misses: 0, nearCacheEntries: 1 })
  })

  test('the near cache keeps the nearCacheSize most recently used sessions and holds at most twice that', () => {
    const cache = cacheWith('near-bound', { nearCacheSize: 4 })
    const sessions = Array.from({ length: 20 }, () => f.customerSession())
    sessions.forEach((s) => cache.set(s))
    const hot = cache.get(sessions[0].token)
    for (let round = 0; round < 4; round++) {
      for (const s of sessions.slice(1 + round * 3, 4 + round * 3)) cache.get(s.token)
      expect(cache.get(sessions[0].token)).toBe(hot) // used within the last 4: still the same object
      expect(cache.stats().nearCacheEntries).toBeLessThanOrEqual(8)
    }
    for (const s of sessions.slice(13)) cache.get(s.token)
    for (const s of sessions.slice(13)) cache.get(s.token)
    const again = cache.get(sessions[0].token)
    expect(again).not.toBe(hot) // fell out after 14 others: decoded afresh
    expect(again).toStrictEqual(sessions[0])
  })

  test('a near cache split in shards still keeps the nearCacheSize most recently used sessions', () => {
    // 20,000 is 8 shards of 2,500 (no Map grows past 4,096 entries, so none rehashes for long).
    const [writer, reader] = writerAndReader('near-shards', { nearCacheSize: 20_000, maxEntries: 50_000 })
    const sessions = Array.from({ length: 18_000 }, () => f.anonymousSession())
    for (const s of sessions) writer.set(s)
    const first = sessions.map((s) => reader.get(s.token))
    const again = sessions.map((s) => reader.get(s.token))
    const same = again.filter((session, i) => session === first[i]).length
    // Tokens spread over the shards unevenly by a few percent: nearly all are still held.
    expect(same).toBeGreaterThan(sessions.length * 0.97)
    expect(reader.stats().nearCacheEntries).toBeLessThanOrEqual(40_000)
    expect(again.every((session, i) => session.id === sessions[i].id)).toBe(true)
  })

  test('a later set replaces the value; the store keeps the value as it was set', () => {
    const [writer, reader] = writerAndReader('overwrite')
    const session = f.customerSession()
    writer.set(session)
    session.activeOrderId = 1000
    expect(reader.get(session.token).activeOrderId).toBe(981)
    // The setting thread holds the object itself (Vendure never mutates a session it has set).
    expect(writer.get(session.token)).toBe(session)
    writer.set(session)
    expect(reader.get(session.token).activeOrderId).toBe(1000)
  })

  test("the setting thread's object is served only while the store holds exactly it", () => {
    const [writer, other] = writerAndReader('own-write')
    const session = f.customerSession()
    writer.set(session)
    expect(writer.get(session.token)).toBe(session)
    // Another thread's write, delete or clear ends it at once.
    const replacement = { ...f.customerSession(session.token), activeOrderId: 5 }
    other.set(replacement)
    expect(writer.get(session.token)).toStrictEqual(replacement)
    writer.set(session)
    other.delete(session.token)
    expect(writer.get(session.token)).toBeUndefined()
    writer.set(session)
    other.clear()
    expect(writer.get(session.token)).toBeUndefined()
    // A session refused after one was set: neither the old object nor the old value is served.
    writer.set(session)
    writer.set({ ...session, activeOrderId: -0 })
    expect(writer.get(session.token)).toBeUndefined()
    expect(other.get(session.token)).toBeUndefined()
  })
})

describe('bad input', () => {
  let warn
  beforeEach(() => {
    warn = jest.spyOn(Logger, 'warn').mockImplementation(() => {})
  })
  afterEach(() => warn.mockRestore())

  const noToken = [
    ['null', null],
    ['undefined', undefined],
    ['a number', 42],
    ['a string', 'abc'],
    ['an object without token', { cacheExpiry: 1, expires: new Date() }],
    ['an empty token', { ...f.customerSession(), token: '' }],
    ['a numeric token', { ...f.customerSession(), token: 1234 }],
    ['a String object token', { ...f.customerSession(), token: new String('abc') }],
  ]

  test.each(noToken)('set(%s) throws a TypeError naming the problem and changes nothing', (_label, input) => {
    const cache = cacheWith('no-token')
    const kept = f.customerSession()
    cache.set(kept)
    const before = cache.stats()
    expect(() => cache.set(input)).toThrow(TypeError)
    expect(() => cache.set(input)).toThrow(/NativeSessionCacheStrategy\.set: (expected a session object|session\.token must be a non-empty string)/)
    expect(cache.stats()).toEqual(before)
    expect(cache.get(kept.token)).toStrictEqual(kept)
    expect(warn).not.toHaveBeenCalled()
  })

  const addCycle = (s) => {
    s.extra = { a: {} }
    s.extra.a.back = s.extra
  }
  const nest5000Deep = (s) => {
    let node = (s.extra = {})
    for (let i = 0; i < 5000; i++) node = node.child = {}
  }
  class Money {
    constructor(n) {
      this.n = n
    }
  }
  class Tags extends Array {}
  const inexact = [
    ['a missing expires', (s) => delete s.expires, /session\.expires: expires must be a Date/],
    ['expires as an ISO string', (s) => (s.expires = s.expires.toISOString()), /session\.expires: expires must be a Date/],
    ['expires as a number', (s) => (s.expires = Date.now() + 1000), /session\.expires/],
    ['an Invalid Date', (s) => (s.expires = new Date('nope')), /session\.expires: expires is an Invalid Date/],
    ['a missing cacheExpiry', (s) => delete s.cacheExpiry, /session\.cacheExpiry: cacheExpiry must be a finite number/],
    ['a NaN cacheExpiry', (s) => (s.cacheExpiry = NaN), /session\.cacheExpiry/],
    ['an Infinity cacheExpiry', (s) => (s.cacheExpiry = Infinity), /session\.cacheExpiry/],
    ['a string cacheExpiry', (s) => (s.cacheExpiry = '1795530462'), /session\.cacheExpiry/],
    ['a circular reference', addCycle, /session\.extra\.a\.back: a circular reference/],
    ['a session that contains itself', (s) => (s.self = s), /session\.self: a circular reference/],
    ['a BigInt id', (s) => (s.user.id = 77n), /session\.user\.id: a BigInt/],
    ['a function', (s) => (s.hook = () => 1), /session\.hook: a function/],
    ['a toJSON method', (s) => (s.user.toJSON = () => ({})), /session\.user: a value with a toJSON method cannot be stored exactly/],
    ['a non-enumerable toJSON', (s) => Object.defineProperty(s.user, 'toJSON', { value: () => ({}) }), /session\.user: a value with a toJSON method/],
    ["an array's own toJSON", (s) => (s.list = Object.assign([1, 2], { toJSON: () => 'x' })), /session\.list: a value with a toJSON method/],
    ["an array's non-enumerable toJSON", (s) => (s.list = Object.defineProperty([1], 'toJSON', { value: () => 'x' })), /session\.list: a value with a toJSON method/],
    ["an array's extra non-index property", (s) => (s.user.channelPermissions[0].permissions = Object.assign(['ReadCatalog'], { note: 'x' })), /session\.user\.channelPermissions\[0\]\.permissions: an array's property 'note' cannot be stored/],
    ['an Array subclass', (s) => (s.list = Tags.from(['a'])), /session\.list: a Tags array cannot be stored exactly/],
    ['-0 as an id', (s) => (s.activeOrderId = -0), /session\.activeOrderId: -0 cannot be stored exactly/],
    ['-0 nested in an array', (s) => (s.extra = { scores: [1, -0] }), /session\.extra\.scores\[1\]: -0 cannot be stored exactly/],
    ['-0 as cacheExpiry', (s) => (s.cacheExpiry = -0), /session\.cacheExpiry: -0 cannot be stored exactly/],
    ['a symbol value', (s) => (s.kind = Symbol('k')), /session\.kind: a symbol/],
    ['a symbol key', (s) => (s.user[Symbol('k')] = 1), /session\.user: a symbol-keyed property/],
    ['NaN nested in an array', (s) => (s.user.channelPermissions[0].scores = [1, NaN]), /session\.user\.channelPermissions\[0\]\.scores\[1\]: NaN is not a finite number/],
    ['Infinity as an id', (s) => (s.activeOrderId = -Infinity), /session\.activeOrderId: -Infinity is not a finite number/],
    ['a Date nested in extra data', (s) => (s.extra = { at: new Date() }), /session\.extra\.at: a Date cannot be stored exactly/],
    ['a class instance', (s) => (s.extra = new Money(3)), /session\.extra: a Money object cannot be stored exactly/],
    ['a Map', (s) => (s.extra = new Map()), /session\.extra: a Map object/],
    ['undefined inside an array', (s) => (s.list = [1, undefined]), /session\.list\[1\]: undefined inside an array/],
    ['a sparse array', (s) => (s.list = [1, , 3]), /session\.list: an array with holes cannot be stored exactly/],
    ['a sparse array with a named property making up the count', (s) => (s.list = Object.assign([1, , 3], { x: 1 })), /session\.list\[1\]: undefined inside an array/],
    ['nesting 5000 levels deep', nest5000Deep, /nested deeper than 1000 levels/],
    [
      'a getter that throws',
      (s) => Object.defineProperty(s, 'boom', { enumerable: true, get: () => { throw new Error('kaboom') } }),
      /session: reading it threw Error: kaboom/,
    ],
  ]

  test.each(inexact)('a session with %s is not stored, drops the older value, is counted and logged once', (_label, spoil, message) => {
    const cache = cacheWith('inexact')
    const other = f.superadminSession()
    const victim = f.customerSession()
    cache.set(other)
    cache.set(victim)
    const before = cache.stats()

    const bad = f.customerSession(victim.token)
    spoil(bad)
    expect(() => cache.set(bad)).not.toThrow()

    expect(cache.get(victim.token)).toBeUndefined()
    expect(cache.get(other.token)).toStrictEqual(other)
    const after = cache.stats()
    expect(after.rejected).toBe(before.rejected + 1)
    expect(after.entries).toBe(before.entries - 1)
    expect(warn).toHaveBeenCalledTimes(1)
    const [logged, context] = warn.mock.calls[0]
    expect(logged).toMatch(message)
    expect(logged).not.toContain(victim.token)
    expect(context).toBe('NativeSessionCache')
  })

  test('a getter is read once: what is stored is the value that was checked, not a second answer', () => {
    const [cache, reader] = writerAndReader('getter-once')
    const s = f.customerSession()
    let reads = 0
    // 1 on the first read, NaN (which JSON would turn into null) on any later one.
    Object.defineProperty(s, 'flaky', { enumerable: true, get: () => (reads++ === 0 ? 1 : NaN) })
    cache.set(s)
    expect(reads).toBe(1)
    expect(reader.get(s.token).flaky).toBe(1)
    expect(cache.stats().rejected).toBe(0)
  })

  test('keys that name Object.prototype members are data like any other', () => {
    const cache = cacheWith('proto-names')
    const s = { ...f.customerSession(), toString: 'a', constructor: 2, valueOf: null, hasOwnProperty: [1] }
    cache.set(s)
    expect(cache.get(s.token)).toStrictEqual(s)
  })

  test.each([
    ['undefined', undefined],
    ['null', null],
    ['a number', 5],
    ['an object', { token: 'x' }],
  ])('get and delete with %s miss and do nothing', (_label, token) => {
    const cache = cacheWith('bad-get')
    const kept = f.customerSession()
    cache.set(kept)
    expect(cache.get(token)).toBeUndefined()
    expect(() => cache.delete(token)).not.toThrow()
    expect(cache.get(kept.token)).toStrictEqual(kept)
  })

  test('tokens are compared exactly: a prefix, a different case or padding miss', () => {
    const cache = cacheWith('exact-token')
    const s = f.customerSession()
    cache.set(s)
    for (const t of [s.token.slice(0, -1), s.token.toUpperCase(), ` ${s.token}`, `${s.token}\0`]) {
      expect(cache.get(t)).toBeUndefined()
    }
  })

  test('a session larger than maxBytes is not cached, drops the older value, and says to raise maxBytes', () => {
    const cache = cacheWith('too-large', { maxBytes: 4096 })
    const s = f.customerSession()
    cache.set(s)
    const huge = { ...f.superadminSession(s.token), blob: 'x'.repeat(5000) }
    cache.set(huge)
    expect(cache.get(s.token)).toBeUndefined()
    expect(cache.stats().rejected).toBe(1)
    expect(warn).toHaveBeenCalledTimes(1)
    expect(warn.mock.calls[0][0]).toMatch(/larger than maxBytes \(4096 B, counting 200 B of overhead\); raise maxBytes/)
    expect(warn.mock.calls[0][0]).not.toContain(s.token)
  })
})

describe('maxEntryBytes', () => {
  test('one giant session is not cached, counted and logged, and evicts nothing', () => {
    const warn = jest.spyOn(Logger, 'warn').mockImplementation(() => {})
    try {
      const cache = cacheWith('entry-bytes', { maxEntryBytes: 8192 })
      const others = Array.from({ length: 20 }, () => f.customerSession())
      others.forEach((s) => cache.set(s))
      const giant = f.superadminSession()
      giant.user.channelPermissions = Array.from({ length: 50 }, (_, i) => ({ ...giant.user.channelPermissions[0], id: i }))
      cache.set(giant)
      expect(cache.get(giant.token)).toBeUndefined()
      expect(cache.stats()).toMatchObject({ rejected: 1, evictions: 0, entries: 20 })
      others.forEach((s) => expect(cache.get(s.token)).toStrictEqual(s))
      expect(warn).toHaveBeenCalledTimes(1)
      expect(warn.mock.calls[0][0]).toMatch(/larger than maxEntryBytes \(8192 B/)
    } finally {
      warn.mockRestore()
    }
  })
})

describe('options', () => {
  test('defaults', () => {
    expect(new NativeSessionCacheStrategy({ name: f.storeName('defaults') }).options).toEqual({
      name: expect.any(String),
      maxEntries: 100_000,
      maxBytes: 256 * 2 ** 20,
      maxEntryBytes: 2 ** 20,
      ttlMs: undefined,
      nearCacheSize: 100_000,
    })
  })

  test('nearCacheSize follows maxEntries up to 100,000 unless given', () => {
    expect(new NativeSessionCacheStrategy({ name: f.storeName('near-follows'), maxEntries: 500 }).options.nearCacheSize).toBe(500)
    expect(new NativeSessionCacheStrategy({ name: f.storeName('near-capped'), maxEntries: 1_000_000 }).options.nearCacheSize).toBe(100_000)
    expect(new NativeSessionCacheStrategy({ name: f.storeName('near-given'), maxEntries: 500, nearCacheSize: 7 }).options.nearCacheSize).toBe(7)
  })

  test.each([
    [{ maxEntries: 0 }, /maxEntries must be a whole number from 1/],
    [{ maxEntries: 1.5 }, /maxEntries must be a whole number/],
    [{ maxEntries: '10' }, /maxEntries must be a whole number/],
    [{ maxEntries: 2 ** 27 + 1 }, /maxEntries must be a whole number from 1 to 134217728/],
    [{ nearCacheSize: -1 }, /nearCacheSize must be a whole number, 0 or more/],
    [{ maxBytes: -1 }, /maxBytes must be a whole number/],
    [{ maxBytes: NaN }, /maxBytes must be a whole number/],
    [{ ttl: 0 }, /ttl must be at least 1 millisecond/],
    [{ ttl: '1 fortnight' }, /ttl '1 fortnight' has an unknown unit 'fortnight'/],
    [{ ttl: 'soon' }, /ttl 'soon' does not start with a number/],
    [{ ttl: true }, /ttl must be milliseconds or a string/],
    [{ name: '' }, /name must be a non-empty string/],
    [{ maxEntry: 5 }, /unknown option 'maxEntry'/],
    [42, /options must be an object/],
  ])('%p is refused with a TypeError', (options, message) => {
    expect(() => new NativeSessionCacheStrategy(options)).toThrow(TypeError)
    expect(() => new NativeSessionCacheStrategy(options)).toThrow(message)
  })

  test.each([
    ['1h', 3_600_000],
    ['30m', 1_800_000],
    ['2 days', 172_800_000],
    [1500, 1500],
  ])('ttl %p is %d ms', (ttl, ms) => {
    expect(cacheWith('ttl', { ttl }).options.ttlMs).toBe(ms)
  })

  test('the same name with other bounds is a clear error, the same bounds share', () => {
    const name = f.storeName('shared-name')
    const a = new NativeSessionCacheStrategy({ name, maxEntries: 10 })
    expect(() => new NativeSessionCacheStrategy({ name, maxEntries: 20 })).toThrow(
      /already exists in this process with maxEntries 10.*asks for maxEntries 20.*Under Jest: a test file that ended without destroy\(\)/,
    )
    const b = new NativeSessionCacheStrategy({ name, maxEntries: 10 })
    const s = f.customerSession()
    a.set(s)
    expect(b.get(s.token)).toStrictEqual(s)
  })
  test('the same name with and without redis is a clear error: their stores keep different keys', () => {
    const name = f.storeName('redis-mix')
    const plain = new NativeSessionCacheStrategy({ name, maxEntries: 10 })
    const redis = { url: 'redis://127.0.0.1:1', secret: 'a-secret-for-this-test' }
    expect(() => new NativeSessionCacheStrategy({ name, maxEntries: 10, redis })).toThrow(
      /already exists in this process with maxEntries 10.*without redis; this one asks for maxEntries 10.*with redis\./,
    )
    plain.destroy()
    const other = f.storeName('redis-mix-other')
    const withRedis = new NativeSessionCacheStrategy({ name: other, maxEntries: 10, redis })
    expect(() => new NativeSessionCacheStrategy({ name: other, maxEntries: 10 })).toThrow(/with redis; this one asks for .*without redis\./)
    withRedis.destroy()
  })
})

describe("Vendure's lifecycle", () => {
  test('after destroy(), the same name opens at once with other bounds, even while the sweeper works', () => {
    // The background sweeper holds the store while it works; before, a new strategy was refused
    // "already exists" in about a quarter of these tries.
    const name = f.storeName('reopen-other-bounds')
    for (let i = 0; i < 40; i++) {
      const cache = new NativeSessionCacheStrategy({ name, maxEntries: 1000 + (i % 2) })
      for (let j = 0; j < 200; j++) cache.set(f.customerSession())
      cache.clear()
      cache.destroy()
    }
  })

  test('clear() before init() works, and init() again after destroy() on the same instance', () => {
    const cache = cacheWith('lifecycle')
    expect(() => cache.clear()).not.toThrow()
    cache.init()
    const s = f.customerSession()
    cache.set(s)
    expect(cache.get(s.token)).toStrictEqual(s)
    cache.destroy()
    cache.destroy()
    expect(cache.get(s.token)).toBeUndefined()
    cache.init()
    cache.set(s)
    expect(cache.get(s.token)).toStrictEqual(s)
  })

  test('every method is synchronous: no Promise on the hot path', () => {
    const cache = cacheWith('sync')
    const s = f.customerSession()
    expect(cache.set(s)).toBeUndefined()
    expect(cache.get(s.token)).not.toBeInstanceOf(Promise)
    expect(cache.delete(s.token)).toBeUndefined()
    expect(cache.clear()).toBeUndefined()
  })
})

describe('bounds', () => {
  test('never more than maxEntries after any call; least recently used go first', () => {
    const cache = cacheWith('max-entries', { maxEntries: 50 })
    const hot = f.customerSession()
    cache.set(hot)
    for (let i = 0; i < 500; i++) {
      expect(cache.get(hot.token)).toBeDefined()
      cache.set(f.anonymousSession())
      expect(cache.stats().entries).toBeLessThanOrEqual(50)
    }
    expect(cache.stats().evictions).toBe(451)
  })

  test('never more than maxBytes after any call', () => {
    const maxBytes = 64 * 1024
    const cache = cacheWith('max-bytes', { maxBytes })
    for (let i = 0; i < 200; i++) {
      cache.set(f.superadminSession())
      expect(cache.stats().bytes).toBeLessThanOrEqual(maxBytes)
    }
    expect(cache.stats().evictions).toBeGreaterThan(150)
    expect(cache.stats().entries).toBeGreaterThan(10)
  })
})

describe('expiry', () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

  test('never returned after cacheExpiry', async () => {
    const cache = cacheWith('cache-expiry')
    const s = { ...f.customerSession(), cacheExpiry: Date.now() / 1000 + 0.15 }
    cache.set(s)
    expect(cache.get(s.token)).toBeDefined()
    await sleep(200)
    expect(cache.get(s.token)).toBeUndefined()
  })

  test('never returned after expires', async () => {
    const cache = cacheWith('expires')
    const s = { ...f.customerSession(), expires: new Date(Date.now() + 150) }
    cache.set(s)
    expect(cache.get(s.token)).toBeDefined()
    await sleep(200)
    expect(cache.get(s.token)).toBeUndefined()
  })

  test('never returned after the ttl option', async () => {
    const cache = cacheWith('ttl-expiry', { ttl: '150ms' })
    const s = f.customerSession()
    cache.set(s)
    expect(cache.get(s.token)).toBeDefined()
    await sleep(200)
    expect(cache.get(s.token)).toBeUndefined()
  })

  test('an already expired session is not stored and drops the older value', () => {
    const cache = cacheWith('already-expired')
    const s = f.customerSession()
    cache.set(s)
    cache.set({ ...s, expires: new Date(Date.now() - 1000) })
    expect(cache.get(s.token)).toBeUndefined()
    expect(cache.stats().entries).toBe(0)
  })

  test('the background sweep frees expired entries without a get', async () => {
    const cache = cacheWith('sweep', { ttl: 100 })
    for (let i = 0; i < 1000; i++) cache.set(f.customerSession())
    expect(cache.stats().entries).toBe(1000)
    const deadline = Date.now() + 5000
    while (cache.stats().entries > 0 && Date.now() < deadline) await sleep(50)
    expect(cache.stats()).toMatchObject({ entries: 0, bytes: 0, expirations: 1000, hits: 0, misses: 0 })
  })
})

describe('clear and delete', () => {
  const sleep = (ms) => new Promise((r) => setTimeout(r, ms))

  test('delete removes one session', () => {
    const cache = cacheWith('delete')
    const a = f.customerSession()
    const b = f.customerSession()
    cache.set(a)
    cache.set(b)
    cache.delete(a.token)
    expect(cache.get(a.token)).toBeUndefined()
    expect(cache.get(b.token)).toStrictEqual(b)
    expect(cache.stats().deletes).toBe(1)
  })

  test('clear makes every session unreachable at once and frees memory in the background', async () => {
    const cache = cacheWith('clear', { maxEntries: 200_000 })
    const tokens = []
    for (let i = 0; i < 100_000; i++) {
      const s = f.anonymousSession()
      tokens.push(s.token)
      cache.set(s)
    }
    cache.clear()
    expect(tokens.slice(0, 1000).every((t) => cache.get(t) === undefined)).toBe(true)
    const fresh = f.customerSession()
    cache.set(fresh)
    const deadline = Date.now() + 10_000
    while (cache.stats().entries > 1 && Date.now() < deadline) await sleep(50)
    expect(cache.stats()).toMatchObject({ entries: 1, clears: 1 })
    expect(cache.get(fresh.token)).toStrictEqual(fresh)
  })
})

describe('misses answered without a call into the store', () => {
  test("JS's presence fingerprint of a token is the one Rust computes of the stored key", () => {
    const tokens = [
      '', 'a', 'abcde', 'abcdef', 'abcdefg', f.newToken(), f.newToken(), '$2b$10$N9qo8uLOickgx2ZMRZoMye',
      'base64+/token==', 'éèê-tail01', '\u2603'.repeat(10) + 'abcdef', ...Array.from({ length: 200 }, f.newToken),
    ]
    for (const token of tokens) expect(fingerprint(token)).toBe(presenceFingerprint(token))
    // A tail that is not ASCII: JS cannot tell (its characters are not the key's bytes), so it asks the store.
    expect(fingerprint('abcde\u00e9')).toBe(-1)
  })

  test('every miss is counted, whichever way it was answered', () => {
    const cache = cacheWith('presence-misses')
    const session = f.customerSession()
    cache.set(session)
    for (let i = 0; i < 3000; i++) cache.get(f.newToken())
    cache.get(`${session.token.slice(0, -6)}zzzzzz`) // possibly the same bucket as nothing: either way a miss
    expect(cache.stats()).toMatchObject({ misses: 3001, hits: 0 })
    expect(cache.get(session.token)).toBe(session)
    cache.delete(session.token)
    expect(cache.get(session.token)).toBeUndefined()
    expect(cache.stats()).toMatchObject({ misses: 3002, hits: 1 })
  })

  test('a token whose tail is not ASCII is still found, and still missed', () => {
    const [writer, reader] = writerAndReader('presence-unicode')
    const session = f.customerSession('jeton-\u00e9t\u00e9-\u2603')
    writer.set(session)
    expect(reader.get(session.token)).toStrictEqual(session)
    expect(reader.get('jeton-\u00e9t\u00e9-\u2604')).toBeUndefined()
  })
})

