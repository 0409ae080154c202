'use strict'

// What a user sees when the addon cannot load: the platform it ran on, the platforms the package is
// built for, and what to do, before any napi-rs loader text (kept as `cause`). Each case runs in a
// fresh Node process that pretends to be another platform (the loader reads process.platform/arch and
// Node's report) or loads a copy of the package with a damaged binary.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { SUPPORTED, platformKey, currentPlatformKey } = require('../lib/native')

const ROOT = path.resolve(__dirname, '..')

/** Requires the package at `root` in a new process after `prelude`; returns the error's message and code. */
function loadFailure(prelude, root = ROOT) {
  const script = `${prelude}
    try { require(${JSON.stringify(root)}); console.log(JSON.stringify({ loaded: true })) }
    catch (error) { console.log(JSON.stringify({ message: error.message, code: error.code, cause: String(error.cause?.message) })) }`
  const run = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' })
  return JSON.parse(run.stdout.trim().split('\n').pop())
}

const pretend = (property, value) => `Object.defineProperty(process, '${property}', { value: ${JSON.stringify(value)} });`
const muslReport = `const real = process.report.getReport.bind(process.report);
  process.report.getReport = () => { const r = real(); delete r.header.glibcVersionRuntime; return r };`

test('the supported list is package.json napi.targets, in napi-rs naming', () => {
  const { napi } = require('../package.json')
  expect(SUPPORTED).toEqual(napi.targets.map(platformKey))
  expect(SUPPORTED).toEqual(
    expect.arrayContaining(['linux-x64-gnu', 'linux-arm64-gnu', 'linux-x64-musl', 'linux-arm64-musl', 'darwin-x64', 'darwin-arm64', 'win32-x64-msvc']),
  )
})

test('a built-for platform whose binary this copy lacks (Linux arm64, musl): names it and says which tarball carries it', () => {
  // A copy without binaries: after `npm run build:all` this checkout holds the arm64 musl one too.
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'vsc-bare-'))
  for (const entry of ['index.js', 'binding.js', 'package.json', 'lib']) fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true })
  const failure = loadFailure(pretend('arch', 'arm64') + muslReport, copy)
  fs.rmSync(copy, { recursive: true, force: true })
  expect(failure.code).toBe('ERR_VENDURE_NATIVE_SESSION_CACHE_LOAD')
  const [first, second, third] = failure.message.split('\n')
  expect(first).toMatch(/^vendure-native-session-cache \d+\.\d+\.\d+: this copy of the package has no native binary for linux-arm64-musl \(linux arm64 \(musl\), Node v\d+/)
  expect(first).toMatch(/The release tarball carries the binary of every platform below/)
  expect(second).toBe(`It is built for: ${SUPPORTED.join(', ')}.`)
  expect(third).toMatch(/build it from source: .*Rust toolchain.*npm ci && npm run build && npm pack/)
  // napi-rs's own text is only the cause, never in front.
  expect(failure.message).not.toMatch(/npm has a bug/)
  expect(failure.cause).toMatch(/Cannot find native binding/)
})

test('a platform it is not built for (FreeBSD): says so, lists what it is built for, and how to build it', () => {
  const failure = loadFailure(pretend('platform', 'freebsd'))
  const [first, second, third] = failure.message.split('\n')
  expect(first).toMatch(new RegExp(`has no native binary for freebsd ${process.arch}, Node v\\d+.* \\(platform 'freebsd-${process.arch}'\\)\\.$`))
  expect(second).toBe(`It is built for: ${SUPPORTED.join(', ')}.`)
  expect(third).toMatch(/build it from source/)
})

test('a binary that is there but does not load: names the file and the real error, not the loader fallbacks', () => {
  const copy = fs.mkdtempSync(path.join(os.tmpdir(), 'vsc-damaged-'))
  try {
    for (const entry of ['index.js', 'binding.js', 'package.json', 'lib']) fs.cpSync(path.join(ROOT, entry), path.join(copy, entry), { recursive: true })
    const key = currentPlatformKey()
    fs.writeFileSync(path.join(copy, `vendure-native-session-cache.${key}.node`), 'not a shared library')
    const failure = loadFailure('', copy)
    const first = failure.message.split('\n')[0]
    expect(first).toContain(`its native binary for ${key} (vendure-native-session-cache.${key}.node) failed to load on ${process.platform} ${process.arch}`)
    // The dynamic loader's own words about the file, not "Cannot find module" of a fallback.
    expect(first).toContain(path.join(copy, `vendure-native-session-cache.${key}.node`))
    expect(first).not.toMatch(/Cannot find module/)
  } finally {
    fs.rmSync(copy, { recursive: true, force: true })
  }
})

test('on this machine it loads', () => {
  expect(loadFailure('')).toEqual({ loaded: true })
})
