'use strict'

// Builds the native addon when it is missing or older than its sources. npm skips install scripts
// here, so `npm test`, `npm run bench` and `npm run demo` call this first.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const { currentPlatformKey } = require('../lib/native.js')
const binary = path.join(root, `vendure-native-session-cache.${currentPlatformKey()}.node`)

function newestSourceMtime() {
  const sources = ['Cargo.toml', 'Cargo.lock', 'build.rs']
    .map((f) => path.join(root, f))
    .concat(fs.readdirSync(path.join(root, 'src'), { recursive: true }).map((f) => path.join(root, 'src', f)))
  return Math.max(...sources.filter((f) => fs.existsSync(f)).map((f) => fs.statSync(f).mtimeMs))
}

const stale = !fs.existsSync(binary) || fs.statSync(binary).mtimeMs < newestSourceMtime()
if (stale) {
  console.log('Building the native addon (release)...')
  execFileSync('npx', ['napi', 'build', '--platform', '--release', '--js', 'binding.js', '--dts', 'binding.d.ts'], {
    cwd: root,
    stdio: 'inherit',
  })
}
