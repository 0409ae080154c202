'use strict'

// Hostile inputs through Vendure's door: each is stored exactly or refused by the documented policy,
// never crashes, never answers for another token, never blocks the event loop for long.

const { Logger } = require('@vendure/core')
const { NativeSessionCacheStrategy } = require('..')
const f = require('./fixtures')

/**
 * A strategy, and as `cache.stored` a second one on the same store: what it gets is what the store
 * holds, decoded, as another worker thread sees it (the setting strategy's own next get returns the
 * very object it set).
 */
const cacheWith = (label, options = {}) => {
  const name = f.storeName(label)
  const cache = new NativeSessionCacheStrategy({ name, ...options })
  cache.stored = new NativeSessionCacheStrategy({ name, ...options })
  return cache
}
/** Milliseconds `fn` takes; the bounds below are generous, to catch blocking, not to benchmark. */
const timed = (fn) => {
  const started = performance.now()
  fn()
  return performance.now() - started
}

/** A superadmin on `channels` channels: each channel adds about 1.6 KB of JSON. */
function superadminOn(channels, token) {
  const session = f.superadminSession(token)
  const [template] = session.user.channelPermissions
  session.user.channelPermissions = Array.from({ length: channels }, (_, i) => ({ ...template, id: i + 1, code: `channel-${i}` }))
  return session
}

let warn
beforeEach(() => {
  warn = jest.spyOn(Logger, 'warn').mockImplementation(() => {})
})
afterEach(() => warn.mockRestore())

test('a 1 MB session round-trips exactly when maxEntryBytes allows it', () => {
  const cache = cacheWith('one-mb', { maxEntryBytes: 4 * 2 ** 20 })
  const session = superadminOn(700)
  expect(JSON.stringify(session).length).toBeGreaterThan(2 ** 20)
  expect(timed(() => cache.set(session))).toBeLessThan(500)
  expect(cache.stored.get(session.token)).toStrictEqual(session)
})

test('a 10 MB session is refused by the default maxEntryBytes after a bounded walk', () => {
  const cache = cacheWith('ten-mb')
  const session = superadminOn(7000)
  expect(JSON.stringify(session).length).toBeGreaterThan(10 * 2 ** 20)
  const older = f.customerSession(session.token)
  cache.set(older)
  const ms = timed(() => cache.set(session))
  expect(ms).toBeLessThan(200)
  expect(cache.get(session.token)).toBeUndefined()
  expect(cache.stats().rejected).toBe(1)
  expect(warn).toHaveBeenCalledTimes(1)
  expect(warn.mock.calls[0][0]).toMatch(/larger than maxEntryBytes/)
})

test('a 10 MB session round-trips exactly when the bounds allow it', () => {
  const cache = cacheWith('ten-mb-allowed', { maxEntryBytes: 32 * 2 ** 20, maxBytes: 64 * 2 ** 20 })
  const session = superadminOn(7000)
  cache.set(session)
  expect(cache.stored.get(session.token)).toStrictEqual(session)
})

test('a 1 MB token counts against maxEntryBytes, works within it, and is never confused with its prefix', () => {
  const refusing = cacheWith('big-token-refused')
  refusing.set(f.customerSession('k'.repeat(2 ** 20)))
  expect(refusing.stats()).toMatchObject({ rejected: 1, entries: 0 })
  const cache = cacheWith('big-token', { maxEntryBytes: 4 * 2 ** 20 })
  const token = 'k'.repeat(2 ** 20)
  const session = f.customerSession(token)
  cache.set(session)
  expect(cache.stored.get(token)).toStrictEqual(session)
  expect(cache.get(token.slice(1))).toBeUndefined()
  cache.delete(token)
  expect(cache.get(token)).toBeUndefined()
})

test('tokens with NUL bytes are distinct keys', () => {
  const cache = cacheWith('nul')
  const a = f.customerSession('abc\0def')
  const b = { ...f.customerSession('abc\0xyz'), id: 2 }
  cache.set(a)
  cache.set(b)
  expect(cache.stored.get('abc\0def')).toStrictEqual(a)
  expect(cache.stored.get('abc\0xyz')).toStrictEqual(b)
  expect(cache.get('abc')).toBeUndefined()
})

test('a token with a lone surrogate is refused and never collides with its U+FFFD twin', () => {
  const cache = cacheWith('surrogate')
  const twin = f.customerSession('token-\uFFFD')
  cache.set(twin)
  for (const lone of ['token-\uD800', 'token-\uDC00']) {
    expect(() => cache.set(f.customerSession(lone))).not.toThrow()
    expect(cache.get(lone)).toBeUndefined()
    cache.delete(lone)
  }
  expect(cache.stored.get('token-\uFFFD')).toStrictEqual(twin)
  expect(cache.stats().rejected).toBe(2)
  expect(warn).toHaveBeenCalledTimes(2)
  expect(warn.mock.calls[0][0]).toMatch(/lone UTF-16 surrogate/)
  expect(warn.mock.calls[0][0]).not.toContain('token-')
})

test('tokens of any length and script name their own sessions (the stack buffer is 256 units)', () => {
  const cache = cacheWith('token-shapes')
  const tokens = ['a'.repeat(254), 'a'.repeat(255), 'a'.repeat(256), 'a'.repeat(300), 'a'.repeat(100_000), 'jeton-é', 'トークン', 'emoji-\uD83D\uDE00', 'é'.repeat(300)]
  const sessions = tokens.map((token, i) => ({ ...f.customerSession(token), id: i }))
  for (const session of sessions) cache.set(session)
  for (const session of sessions) expect(cache.stored.get(session.token)).toStrictEqual(session)
  // Prefixes are other tokens: a token cut short by a buffer would find its neighbour's session.
  expect(cache.stored.get('a'.repeat(253))).toBeUndefined()
  expect(cache.stored.get('a'.repeat(257))).toBeUndefined()
  cache.delete('a'.repeat(300))
  expect(cache.stored.get('a'.repeat(300))).toBeUndefined()
  expect(cache.stored.get('a'.repeat(256))).toStrictEqual(sessions[2])
})

test('more distinct strings than the encoder remembers the JSON of still round-trip exactly', () => {
  const cache = cacheWith('quote-cache')
  const session = {
    ...f.customerSession(),
    extra: Array.from({ length: 10_000 }, (_, i) => `value-${i}`),
    keys: Object.fromEntries(Array.from({ length: 5_000 }, (_, i) => [`key-${i}`, i % 2 ? `"quoted\\${i}"` : i])),
  }
  cache.set(session)
  expect(cache.stored.get(session.token)).toStrictEqual(session)
  const again = { ...session, token: f.newToken() }
  cache.set(again)
  expect(cache.stored.get(again.token)).toStrictEqual(again)
})

test('lone surrogates inside the session data round-trip exactly', () => {
  const cache = cacheWith('surrogate-data')
  const session = { ...f.customerSession(), note: 'half \uD83D of an emoji', tail: '\uDE00' }
  cache.set(session)
  expect(cache.stored.get(session.token)).toStrictEqual(session)
})

test('10,000 levels of nesting are refused quickly without a stack overflow', () => {
  const cache = cacheWith('deep')
  const session = f.customerSession()
  let node = (session.extra = {})
  for (let i = 0; i < 10_000; i++) node = node.next = {}
  expect(timed(() => cache.set(session))).toBeLessThan(200)
  expect(cache.get(session.token)).toBeUndefined()
  expect(warn.mock.calls[0][0]).toMatch(/nested deeper than 1000 levels/)
})

test('__proto__ and constructor keys round-trip as plain data and pollute nothing', () => {
  const cache = cacheWith('proto')
  const session = {
    ...f.customerSession(),
    extra: JSON.parse('{"__proto__": {"polluted": true}, "constructor": {"prototype": {"polluted": true}}}'),
  }
  cache.set(session)
  const back = cache.stored.get(session.token)
  // Jest's equality treats an own "__proto__" key specially, so compare the JSON and the keys.
  expect(JSON.stringify(back)).toBe(JSON.stringify(session))
  expect(Object.keys(back.extra)).toEqual(['__proto__', 'constructor'])
  expect(back.expires).toBeInstanceOf(Date)
  expect(Object.getPrototypeOf(back.extra)).toBe(Object.prototype)
  expect(Object.hasOwn(back.extra, '__proto__')).toBe(true)
  expect(back.extra.polluted).toBeUndefined()
  expect({}.polluted).toBeUndefined()
  expect(Object.prototype.polluted).toBeUndefined()
})
