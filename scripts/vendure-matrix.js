'use strict'

// node scripts/vendure-matrix.js [--versions 3.7.0,...]
//
// The Vendure end-to-end tests (__test__/vendure/) against every @vendure/core the peer range names
// beside the one the devDependencies install (which the whole suite runs): for each part of
// `peerDependencies['@vendure/core']`, its lowest version (`~3.7.0` → 3.7.0) or the exact pre-release
// it names. Each runs in a scratch project in .cache/vendure-matrix/<version>: the devDependencies with
// @vendure/* at that version (npm overrides), and a copy of the package and its tests, so that every
// require of @vendure/core, in Jest and in the server threads, resolves to it. Node: the primary, 24.
// Where @vendure/testing has no release of that version (3.8 pre-releases), its newest release runs
// with that core.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { nodeBinary } = require('./platforms/node-binaries.js')

const root = path.resolve(__dirname, '..')
const pkg = require('../package.json')
const PRIMARY_MAJOR = 24
const COPIED = ['index.js', 'index.d.ts', 'binding.js', 'binding.d.ts', 'lib', '__test__', 'jest.config.js']

/** The versions the peer range names, beside the devDependency's. */
function rangeVersions() {
  return pkg.peerDependencies['@vendure/core'].split('||').map((part) => {
    const exact = part.trim().match(/^~?(\d+\.\d+\.\d+(?:-[\w.-]+)?)$/)
    if (!exact) throw new Error(`peerDependencies['@vendure/core'] part '${part.trim()}': expected ~x.y.z or an exact version`)
    return exact[1]
  })
}

/**
 * The @vendure/common to install with this core: its own, or, where the registry lacks it (the 3.8
 * pre-releases of @vendure/core name a @vendure/common 3.8 pre-release that was never published, so
 * nobody can install them as they are), the newest published one.
 */
function commonOf(version) {
  const wanted = execFileSync('npm', ['view', `@vendure/core@${version}`, 'dependencies.@vendure/common'], { encoding: 'utf8' }).trim()
  const matching = spawnSync('npm', ['view', `@vendure/common@${wanted}`, 'version'], { encoding: 'utf8' })
  if (matching.status === 0 && matching.stdout.trim()) return wanted
  const newest = execFileSync('npm', ['view', '@vendure/common', 'version'], { encoding: 'utf8' }).trim()
  console.log(`@vendure/core ${version} names @vendure/common ${wanted}, which the registry does not have: installing it with @vendure/common ${newest}`)
  return newest
}
const published = (name) => JSON.parse(execFileSync('npm', ['view', name, 'versions', '--json'], { encoding: 'utf8' }))

function scratchProject(version) {
  const dir = path.join(root, '.cache', 'vendure-matrix', version)
  const testing = published('@vendure/testing').includes(version) ? version : execFileSync('npm', ['view', '@vendure/testing', 'version'], { encoding: 'utf8' }).trim()
  const telemetry = published('@vendure/telemetry-plugin').includes(version) ? version : pkg.devDependencies['@vendure/telemetry-plugin']
  const manifest = {
    name: `vendure-matrix-${version}`,
    private: true,
    devDependencies: { ...pkg.devDependencies, '@vendure/core': version, '@vendure/testing': testing, '@vendure/telemetry-plugin': telemetry },
    // One @vendure/common, the one this core was released with (@vendure/testing names its own).
    overrides: { '@vendure/core': version, '@vendure/common': commonOf(version) },
  }
  fs.mkdirSync(dir, { recursive: true })
  const manifestFile = path.join(dir, 'package.json')
  const wanted = JSON.stringify(manifest, null, 2)
  if (!fs.existsSync(manifestFile) || fs.readFileSync(manifestFile, 'utf8') !== wanted || !fs.existsSync(path.join(dir, 'node_modules'))) {
    fs.writeFileSync(manifestFile, wanted)
    console.log(`Installing @vendure/core ${version} (with @vendure/testing ${testing}) into ${path.relative(root, dir)}`)
    execFileSync('npm', ['install', '--no-audit', '--no-fund', '--prefer-offline', '--ignore-scripts'], { cwd: dir, stdio: 'inherit' })
  }
  for (const entry of COPIED) {
    fs.rmSync(path.join(dir, entry), { recursive: true, force: true })
    fs.cpSync(path.join(root, entry), path.join(dir, entry), { recursive: true, filter: (file) => !file.includes(`${path.sep}__data__`) })
  }
  for (const file of fs.readdirSync(root).filter((f) => f.endsWith('.node'))) fs.copyFileSync(path.join(root, file), path.join(dir, file))
  // The package's own manifest (the loader and lib/ read it), with the scratch project's dependencies.
  fs.writeFileSync(manifestFile, JSON.stringify({ ...pkg, ...manifest, name: pkg.name, version: pkg.version }, null, 2))
  return dir
}

function main() {
  const i = process.argv.indexOf('--versions')
  const versions = i === -1 ? rangeVersions().filter((v) => v !== require('@vendure/core/package.json').version) : process.argv[i + 1].split(',')
  const node = process.platform === 'linux' && process.arch === 'x64' ? nodeBinary('linux-x64', PRIMARY_MAJOR) : process.execPath
  const results = []
  for (const version of versions) {
    const started = Date.now()
    const dir = scratchProject(version)
    const installed = require(path.join(dir, 'node_modules', '@vendure', 'core', 'package.json')).version
    if (installed !== version) throw new Error(`${dir} installed @vendure/core ${installed}, not ${version}`)
    console.log(`\n=== @vendure/core ${installed}: __test__/vendure/`)
    const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` }
    const run = spawnSync(node, [path.join(dir, 'node_modules', 'jest', 'bin', 'jest.js'), '__test__/vendure/'], { cwd: dir, env, stdio: 'inherit' })
    results.push({ version: installed, ok: run.status === 0, seconds: Math.round((Date.now() - started) / 1000) })
  }
  console.log('\n| @vendure/core | Vendure tests | time |\n|---|---|---|')
  for (const r of results) console.log(`| ${r.version} | ${r.ok ? 'passed' : 'FAILED'} | ${r.seconds} s |`)
  if (results.some((r) => !r.ok)) process.exit(1)
}

main()
