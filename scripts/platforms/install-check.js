'use strict'

// Installs the release tarball into an empty project with npm, offline, then loads the package there
// and round-trips a session: the install route that needs no Rust. `runNode(args, cwd)` runs a Node
// (this machine's, arm64 under qemu, or one inside a Debian root) and returns its exit status; npm is
// run as a script by that same Node, so the install happens on the platform being checked.

const fs = require('node:fs')
const path = require('node:path')

const { name } = require('../../package.json')

/** npm's own CLI script, from the npm running this (npm_execpath) or the one on PATH. */
function npmCli() {
  const candidates = [process.env.npm_execpath, '/usr/lib/node_modules/npm/bin/npm-cli.js', '/usr/local/lib/node_modules/npm/bin/npm-cli.js']
  const found = candidates.find((file) => file && file.endsWith('npm-cli.js') && fs.existsSync(file))
  if (!found) throw new Error("npm's npm-cli.js was not found: set npm_execpath")
  return found
}

// Run inside the project after the install: which binary the package loaded, and a session round trip.
const ROUND_TRIP = `
  const { NativeSessionCacheStrategy } = require('${name}')
  const cache = new NativeSessionCacheStrategy({ maxEntries: 10 })
  const session = { cacheExpiry: Date.now() / 1000 + 60, id: 1, token: 'a'.repeat(64), expires: new Date(Date.now() + 6e4), activeOrderId: null }
  cache.set(session)
  const back = cache.get(session.token)
  if (!(back.expires instanceof Date) || back.id !== 1 || back.activeOrderId !== null) throw new Error('round-trip failed')
  const binary = Object.keys(require.cache).find((file) => file.endsWith('.node'))
  const glibc = process.report.getReport().header.glibcVersionRuntime
  console.log('installed offline; ' + process.platform + ' ' + process.arch + (glibc ? ' glibc ' + glibc : '') + ', Node ' + process.version + ' loaded ' + require('node:path').basename(binary) + '; a session round-tripped')
`

/** Makes `dir` an empty project, installs `tarball` offline into it, and checks it there. */
function installAndCheck({ tarball, dir, runNode, npmCache }) {
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  fs.writeFileSync(path.join(dir, 'package.json'), JSON.stringify({ name: 'empty-shop', version: '1.0.0', private: true }))
  const install = runNode([npmCli(), 'install', '--offline', '--no-audit', '--no-fund', '--cache', npmCache, tarball], dir)
  if (install !== 0) throw new Error(`npm install --offline ${path.basename(tarball)} failed (exit ${install})`)
  const lock = JSON.parse(fs.readFileSync(path.join(dir, 'package-lock.json'), 'utf8'))
  const resolved = lock.packages[`node_modules/${name}`]?.resolved ?? ''
  if (!resolved.startsWith('file:')) throw new Error(`the lockfile resolves ${name} to '${resolved}', not the tarball`)
  const check = runNode(['-e', ROUND_TRIP], dir)
  if (check !== 0) throw new Error(`the installed package did not load or round-trip (exit ${check})`)
}

module.exports = { installAndCheck, npmCli }

// node scripts/platforms/install-check.js <tarball>: the check on this machine's Node (the release
// workflow's test legs run it on each native runner).
if (require.main === module) {
  const os = require('node:os')
  const { spawnSync } = require('node:child_process')
  const tarball = path.resolve(process.argv[2] ?? '')
  if (!fs.existsSync(tarball)) {
    console.error('usage: node scripts/platforms/install-check.js <tarball>')
    process.exit(2)
  }
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vsc-install-'))
  const runNode = (args, cwd) => spawnSync(process.execPath, args, { cwd, stdio: 'inherit' }).status
  try {
    installAndCheck({ tarball, dir: path.join(dir, 'app'), runNode, npmCache: path.join(dir, 'npm-cache') })
  } finally {
    fs.rmSync(dir, { recursive: true, force: true })
  }
}
