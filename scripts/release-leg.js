'use strict'

// node scripts/release-leg.js <rust-target> [--skip-build] [--out DIR]
//
// One leg of the release workflow (.github/workflows/release.yml), run on a native runner of the
// target's platform, the same here as there: builds the addon for the target (release), runs the Jest
// suite but for the files that need servers (Vendure, redis-server: `npm test` runs them on Linux x64),
// packs the platform package (npm/<platform>, made by `napi create-npm-dirs`) and the main package
// without binaries, installs both into an empty project with nothing fetched from a registry, and
// round-trips a session there through the installed package. Leaves both tarballs in --out (default
// .cache/release/<platform>) for the publish job.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { platformKey } = require('../lib/native.js')

const root = path.resolve(__dirname, '..')
const target = process.argv[2]
const { name, version, napi } = require('../package.json')
if (!target || !napi.targets.includes(target)) {
  console.error(`usage: node scripts/release-leg.js <target>, one of: ${napi.targets.join(', ')}`)
  process.exit(2)
}
const key = platformKey(target)
const outIndex = process.argv.indexOf('--out')
const out = path.resolve(outIndex === -1 ? path.join(root, '.cache', 'release', key) : process.argv[outIndex + 1])
const npmCommand = process.platform === 'win32' ? 'npm.cmd' : 'npm'
const run = (command, args, options = {}) => {
  console.log(`\n$ ${command} ${args.join(' ')}`)
  return execFileSync(command, args, { cwd: root, stdio: 'inherit', shell: process.platform === 'win32', ...options })
}

const binaryFile = `${napi.binaryName}.${key}.node`
if (!process.argv.includes('--skip-build')) {
  run(npmCommand, ['exec', '--', 'napi', 'build', '--platform', '--release', '--target', target, '--js', 'binding.js', '--dts', 'binding.d.ts'])
}
if (!fs.existsSync(path.join(root, binaryFile))) throw new Error(`the build left no ${binaryFile}`)

run(process.execPath, [path.join(root, 'node_modules', 'jest', 'bin', 'jest.js'), '--testPathIgnorePatterns', '__test__/vendure/', '__test__/redis.test.js', '__test__/chaos.test.js'])

// The platform package: npm/<platform> with its binary.
fs.rmSync(out, { recursive: true, force: true })
fs.mkdirSync(out, { recursive: true })
const platformDir = path.join(root, 'npm', key)
if (!fs.existsSync(path.join(platformDir, 'package.json'))) throw new Error(`npm/${key} is missing: run npx napi create-npm-dirs`)
fs.copyFileSync(path.join(root, binaryFile), path.join(platformDir, binaryFile))
const pack = (cwd) => execFileSync(npmCommand, ['pack', '--silent', '--pack-destination', out], { cwd, encoding: 'utf8', shell: process.platform === 'win32' }).trim().split('\n').pop()
let platformTarball
try {
  platformTarball = pack(platformDir)
} finally {
  fs.rmSync(path.join(platformDir, binaryFile))
}

// The main package as it is published: no binary of its own, the platform packages as optional
// dependencies (napi prepublish adds them; here, only this leg's, pointing at its tarball).
const stash = path.join(out, binaryFile)
fs.renameSync(path.join(root, binaryFile), stash)
let mainTarball
try {
  mainTarball = pack(root)
} finally {
  fs.renameSync(stash, path.join(root, binaryFile))
}
const contents = execFileSync('tar', ['-tzf', path.join(out, mainTarball)], { encoding: 'utf8' })
if (/\.node$/m.test(contents)) throw new Error('the main tarball carries a binary; it must come from the platform package')

const app = fs.mkdtempSync(path.join(os.tmpdir(), 'vsc-release-leg-'))
try {
  fs.writeFileSync(path.join(app, 'package.json'), JSON.stringify({ name: 'release-leg-app', version: '1.0.0', private: true }))
  run(npmCommand, ['install', '--offline', '--no-audit', '--no-fund', path.join(out, platformTarball), path.join(out, mainTarball)], { cwd: app })
  const check = `
    const { NativeSessionCacheStrategy } = require('${name}')
    const cache = new NativeSessionCacheStrategy({ maxEntries: 10 })
    const session = { cacheExpiry: Date.now() / 1000 + 60, id: 1, token: 'a'.repeat(64), expires: new Date(Date.now() + 6e4) }
    cache.set(session)
    const back = cache.get(session.token)
    if (!(back.expires instanceof Date) || back.id !== 1) throw new Error('round-trip failed')
    const from = require.resolve('${name}-${key}')
    console.log('${key}: installed ${name} ${version} with its binary from ' + from + ', offline; a session round-tripped')
  `
  run(process.execPath, ['-e', check], { cwd: app })
} finally {
  fs.rmSync(app, { recursive: true, force: true })
}
console.log(`\n${key}: ${path.join(out, platformTarball)} and ${path.join(out, mainTarball)}`)
