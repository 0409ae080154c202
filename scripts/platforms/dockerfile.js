'use strict'

// Runs a Dockerfile's steps in a Debian root, where no container runtime exists: FROM picks the root
// (node:*-bookworm* → Debian bookworm with Node of that major in /usr/local, as the official image has
// it; any other base is run in the same root and said so), WORKDIR, COPY (from the build context, with
// .dockerignore), ENV and RUN are carried out; EXPOSE and CMD are recorded. The build context is
// made as the README tells a developer to: examples/docker's project, the release tarball in vendor/,
// and its lockfile written by npm on the developer's machine (this one). Then the installed app is
// loaded in the root: its Vendure config and a session round trip through the installed package.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { debianRoot, runInRoot } = require('./debian-root.js')
const { nodeBinary } = require('./node-binaries.js')
const { npmCli } = require('./install-check.js')

const root = path.resolve(__dirname, '..', '..')
const { name } = require('../../package.json')
const HOST_CA_BUNDLE = '/etc/ssl/certs/ca-certificates.crt'

/** The instructions of a Dockerfile: continuation lines joined, comments dropped. */
function parseDockerfile(text) {
  const joined = text.replace(/\\\r?\n/g, ' ')
  return joined
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line && !line.startsWith('#'))
    .map((line) => {
      const [instruction, ...rest] = line.split(/\s+/)
      return { instruction: instruction.toUpperCase(), args: rest.join(' ') }
    })
}

/** Paths a .dockerignore excludes (plain names and directories, as examples/docker uses). */
function ignored(context) {
  const file = path.join(context, '.dockerignore')
  if (!fs.existsSync(file)) return []
  return fs.readFileSync(file, 'utf8').split('\n').map((l) => l.trim()).filter((l) => l && !l.startsWith('#'))
}

function copyIntoRoot({ context, rootDir, workdir, args }) {
  const parts = args.split(/\s+/)
  if (parts.some((p) => p.startsWith('--'))) throw new Error(`COPY ${args}: options (--from, --chown) are not run here`)
  const destination = parts.pop()
  const target = path.join(rootDir, path.posix.isAbsolute(destination) ? destination : path.posix.join(workdir, destination))
  const skip = ignored(context)
  for (const source of parts) {
    const from = path.join(context, source)
    if (!fs.existsSync(from)) throw new Error(`COPY ${source}: not in the build context (${path.relative(root, context)})`)
    const into = destination.endsWith('/') && !fs.statSync(from).isDirectory() ? path.join(target, path.basename(source)) : target
    fs.cpSync(from, into, { recursive: true, filter: (file) => !skip.includes(path.relative(context, file).split(path.sep)[0]) })
  }
}

/** Debian bookworm with Node `major` in /usr/local, npm beside it, as node:<major>-bookworm-slim. */
function imageRoot(image) {
  const major = Number(image.match(/^node:(\d+)/)?.[1])
  if (!major) throw new Error(`FROM ${image}: only node:<major>-... images are run here`)
  const rootDir = debianRoot('bookworm')
  const local = path.join(rootDir, 'usr', 'local')
  fs.mkdirSync(path.join(local, 'bin'), { recursive: true })
  // Copied beside, then renamed over: a Node still running from the old file keeps it.
  fs.copyFileSync(nodeBinary('linux-x64', major), path.join(local, 'bin', 'node.new'))
  fs.chmodSync(path.join(local, 'bin', 'node.new'), 0o755)
  fs.renameSync(path.join(local, 'bin', 'node.new'), path.join(local, 'bin', 'node'))
  const npmDir = path.join(local, 'lib', 'node_modules', 'npm')
  fs.rmSync(npmDir, { recursive: true, force: true })
  fs.cpSync(path.resolve(path.dirname(npmCli()), '..'), npmDir, { recursive: true })
  fs.rmSync(path.join(local, 'bin', 'npm'), { force: true })
  fs.symlinkSync('../lib/node_modules/npm/bin/npm-cli.js', path.join(local, 'bin', 'npm'))
  // The image's CA certificates (the official image has Debian's): this machine's bundle, which also
  // holds what its registry access needs.
  fs.mkdirSync(path.join(rootDir, 'etc', 'ssl', 'certs'), { recursive: true })
  fs.copyFileSync(HOST_CA_BUNDLE, path.join(rootDir, HOST_CA_BUNDLE))
  return rootDir
}

/** The build context a developer would have: the example project, vendor/<tarball>, a fresh lockfile. */
function makeContext(tarball, context) {
  fs.rmSync(context, { recursive: true, force: true })
  fs.cpSync(path.join(root, 'examples', 'docker'), context, { recursive: true })
  const reference = JSON.parse(fs.readFileSync(path.join(context, 'package.json'), 'utf8')).dependencies[name]
  if (reference !== `file:vendor/${path.basename(tarball)}`) {
    throw new Error(`examples/docker/package.json names ${reference}, the release tarball is vendor/${path.basename(tarball)}`)
  }
  fs.mkdirSync(path.join(context, 'vendor'), { recursive: true })
  fs.copyFileSync(tarball, path.join(context, 'vendor', path.basename(tarball)))
  // The README's step on the developer's machine: npm records the tarball's integrity in the lockfile.
  execFileSync(process.execPath, [npmCli(), 'install', '--package-lock-only', '--no-audit', '--no-fund', `./vendor/${path.basename(tarball)}`], {
    cwd: context,
    stdio: 'inherit',
  })
}

const SMOKE = `
  require('./dist/vendure-config.js')
  const { NativeSessionCacheStrategy } = require('${name}')
  const cache = new NativeSessionCacheStrategy()
  const session = { cacheExpiry: Date.now() / 1000 + 60, id: 1, token: 'b'.repeat(64), expires: new Date(Date.now() + 6e4) }
  cache.set(session)
  if (cache.get(session.token)?.id !== 1) throw new Error('round-trip failed')
  const binary = Object.keys(require.cache).find((file) => file.endsWith('.node'))
  console.log('the image loads dist/vendure-config.js and ' + require('node:path').basename(binary) + '; a session round-tripped')
`

function runDockerfileInstall({ dockerfile, tarball, work }) {
  const context = path.join(work, 'context')
  makeContext(tarball, context)
  const steps = parseDockerfile(fs.readFileSync(dockerfile, 'utf8'))
  const from = steps.filter((s) => s.instruction === 'FROM')
  if (from.length !== 1) throw new Error(`${path.basename(dockerfile)}: one stage expected, found ${from.length}`)
  const image = from[0].args
  const rootDir = imageRoot(image)
  const env = {
    PATH: '/usr/local/bin:/usr/bin:/bin',
    npm_config_cache: '/root/.npm',
    npm_config_cafile: HOST_CA_BUNDLE,
    npm_config_update_notifier: 'false',
  }
  let workdir = '/'
  const done = []
  for (const { instruction, args } of steps) {
    if (instruction === 'FROM') continue
    if (instruction === 'WORKDIR') {
      workdir = args
      fs.rmSync(path.join(rootDir, workdir), { recursive: true, force: true })
      fs.mkdirSync(path.join(rootDir, workdir), { recursive: true })
    } else if (instruction === 'COPY') {
      copyIntoRoot({ context, rootDir, workdir, args })
    } else if (instruction === 'ENV') {
      for (const match of args.matchAll(/(\w+)=("[^"]*"|\S+)/g)) env[match[1]] = match[2].replace(/^"|"$/g, '')
    } else if (instruction === 'RUN') {
      console.log(`RUN ${args}`)
      runInRoot(rootDir, `cd ${workdir} && ${args}`, { binds: ['/root/.npm'], env })
    } else if (['EXPOSE', 'CMD', 'LABEL'].includes(instruction)) {
      continue // what the image declares, not a step of its build
    } else {
      throw new Error(`${instruction} is not run here`)
    }
    done.push(instruction)
  }
  // The image's node_modules holds the binary of every Linux platform the tarball carries: glibc and
  // musl images install the same lockfile, and the loader picks by the libc it runs on.
  const installed = path.join(rootDir, workdir, 'node_modules', name)
  const linuxBinaries = fs.readdirSync(installed).filter((f) => /\.linux-.*\.node$/.test(f))
  if (!linuxBinaries.some((f) => f.includes('-musl')) || !linuxBinaries.some((f) => f.includes('-gnu'))) {
    throw new Error(`the installed package holds ${linuxBinaries.join(', ') || 'no Linux binary'}: expected glibc and musl ones`)
  }
  const smoke = path.join(rootDir, workdir, '.smoke.js')
  fs.writeFileSync(smoke, SMOKE)
  runInRoot(rootDir, `cd ${workdir} && node .smoke.js && rm .smoke.js`, { env })
  const note = image.includes('bookworm') ? '' : ` (run in Debian bookworm: no ${image} root here)`
  return `FROM ${image}${note}: ${done.join(', ')} run; the app loaded its config and the cache`
}

module.exports = { runDockerfileInstall, parseDockerfile }
