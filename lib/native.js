'use strict'

// Loads the native addon through napi-rs's generated loader (binding.js), and when that fails, says
// what happened in this package's words: the platform it ran on, the binaries the package is built
// for, and what to do. The loader's own message (an npm optional-dependencies bug) is rarely the
// cause; it stays attached as `cause`.

const fs = require('node:fs')
const path = require('node:path')

const PACKAGE_ROOT = path.resolve(__dirname, '..')
const { name: PACKAGE_NAME, version: PACKAGE_VERSION, napi } = require('../package.json')

/** napi-rs's name for a Rust target triple (the suffix of its .node file and platform package). */
function platformKey(triple) {
  const [arch, , os, abi] = triple.split('-')
  const nodeArch = { x86_64: 'x64', aarch64: 'arm64', i686: 'ia32', armv7: 'arm' }[arch] ?? arch
  if (os === 'darwin') return `darwin-${nodeArch}`
  if (os === 'windows') return `win32-${nodeArch}-${abi}`
  return `linux-${nodeArch}-${abi}`
}

/** The platforms this package is built and released for (package.json `napi.targets`, the one list). */
const SUPPORTED = napi.targets.map(platformKey)

/** 'glibc' or 'musl' on Linux (from Node's own report, as napi-rs's loader does), else undefined. */
function libc() {
  if (process.platform !== 'linux') return undefined
  try {
    return process.report.getReport().header.glibcVersionRuntime ? 'glibc' : 'musl'
  } catch {
    return undefined
  }
}

/** This process's platform in napi-rs's naming, e.g. 'linux-arm64-musl', 'darwin-arm64', 'win32-x64-msvc'. */
function currentPlatformKey() {
  const { platform, arch } = process
  if (platform === 'linux') return `linux-${arch}-${libc() === 'musl' ? 'musl' : 'gnu'}`
  if (platform === 'win32') return `win32-${arch}-msvc`
  return `${platform}-${arch}`
}

/** This platform's binary in the package, if the package carries it (the release carries every one). */
function binaryPresent(key) {
  const file = `${napi.binaryName}.${key}.node`
  return fs.existsSync(path.join(PACKAGE_ROOT, file)) ? file : undefined
}

/**
 * Of the loader's chain of attempts (binding.js chains them as `cause`s), the one that found a file
 * and could not load it: the others are only "Cannot find module" for paths this platform never had.
 */
function realCause(error) {
  const chain = []
  for (let e = error; e != null && chain.length < 32; e = e.cause) chain.push(e)
  // The chain keeps messages only (no codes).
  return chain.find((e) => e !== error && !/^Cannot find module /.test(String(e.message))) ?? error
}

/** The message for a failed load; `error` is the loader's. */
function loadFailureMessage(error) {
  const key = currentPlatformKey()
  const where = `${process.platform} ${process.arch}${libc() ? ` (${libc()})` : ''}, Node ${process.version}`
  const present = binaryPresent(key)
  const lines = []
  if (present !== undefined) {
    // The binary is there but did not load: a libc too old, a damaged file, a Node without N-API 8...
    const detail = String(realCause(error)?.message ?? error).split('\n')[0]
    lines.push(`${PACKAGE_NAME} ${PACKAGE_VERSION}: its native binary for ${key} (${present}) failed to load on ${where}: ${detail}`)
  } else if (SUPPORTED.includes(key)) {
    lines.push(
      `${PACKAGE_NAME} ${PACKAGE_VERSION}: this copy of the package has no native binary for ${key} (${where}). ` +
        'The release tarball carries the binary of every platform below; a tarball packed after `npm run build` on one ' +
        "machine carries that machine's only (a build on macOS has no Linux binary for a Docker image). " +
        'Install the release tarball, or pack it on this platform.',
    )
  } else {
    lines.push(`${PACKAGE_NAME} ${PACKAGE_VERSION} has no native binary for ${where} (platform '${key}').`)
  }
  lines.push(`It is built for: ${SUPPORTED.join(', ')}.`)
  lines.push(
    'To run it here, build it from source: in a clone of the repository, with a Rust toolchain (https://rustup.rs), ' +
      '`npm ci && npm run build && npm pack`, then `npm install` the .tgz it writes (see the README, "Building from source"); ' +
      'or run on one of the platforms above (in Docker, an image of one of them).',
  )
  return lines.join('\n')
}

let binding
/** The addon's exports; throws the message above if it cannot be loaded. */
function native() {
  if (binding !== undefined) return binding
  try {
    binding = require('../binding.js')
  } catch (error) {
    const failure = new Error(loadFailureMessage(error))
    failure.code = 'ERR_VENDURE_NATIVE_SESSION_CACHE_LOAD'
    failure.cause = error
    throw failure
  }
  return binding
}

module.exports = { native, loadFailureMessage, currentPlatformKey, SUPPORTED, platformKey }
