'use strict'

// A Debian root (debootstrap) in .cache/roots/<suite>, entered with chroot: an older glibc than this
// machine's, or a clean system to run a Dockerfile's steps in, without a container runtime. Needs
// root and debootstrap (installed with apt-get when missing, as scripts/test-servers.js does).

const { spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..', '..')
const ROOTS = path.join(root, '.cache', 'roots')
const MIRROR = 'http://deb.debian.org/debian'

function sh(command, args, options = {}) {
  const result = spawnSync(command, args, { stdio: 'inherit', ...options })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`)
  return result
}

function requireRootUser() {
  if (process.getuid?.() !== 0) throw new Error('a Debian root needs chroot and mount: run as root')
  if (spawnSync('debootstrap', ['--version'], { stdio: 'ignore' }).error) {
    console.log('Installing debootstrap (apt-get), which makes the Debian roots')
    sh('apt-get', ['install', '-y', '-q', '--no-install-recommends', 'debootstrap'], { env: { ...process.env, DEBIAN_FRONTEND: 'noninteractive' } })
  }
}

/** The path of a minimal Debian <suite> root, made once (a marker file says it completed). */
function debianRoot(suite) {
  requireRootUser()
  const dir = path.join(ROOTS, suite)
  const marker = path.join(dir, '.debootstrap-complete')
  if (!fs.existsSync(marker)) {
    console.log(`Making a Debian ${suite} root in ${path.relative(root, dir)} (debootstrap, a few minutes, once)`)
    fs.rmSync(dir, { recursive: true, force: true })
    fs.mkdirSync(dir, { recursive: true })
    sh('debootstrap', ['--variant=minbase', suite, dir, MIRROR], { stdio: ['ignore', 'ignore', 'inherit'] })
    fs.writeFileSync(marker, new Date().toISOString())
  }
  return dir
}

/** The glibc version a root runs, from its libc.so.6's own banner. */
function glibcVersion(rootDir) {
  const out = spawnSync('chroot', [rootDir, '/usr/bin/ldd', '--version'], { encoding: 'utf8' }).stdout ?? ''
  return out.match(/(\d+\.\d+)\s*$/m)?.[1]
}

/**
 * Runs `script` (bash) inside the root, with /proc, /dev and the given host directories bind-mounted
 * at the same paths, so paths in and out agree; unmounts them after, whatever happened.
 */
function runInRoot(rootDir, script, { binds = [], env = {}, check = true } = {}) {
  const mounts = []
  const mount = (source, target, args) => {
    fs.mkdirSync(target, { recursive: true })
    sh('mount', [...args, source, target])
    mounts.push(target)
  }
  try {
    mount('proc', path.join(rootDir, 'proc'), ['-t', 'proc'])
    mount('/dev', path.join(rootDir, 'dev'), ['--bind'])
    mount('/dev/pts', path.join(rootDir, 'dev', 'pts'), ['--bind'])
    for (const dir of binds) mount(dir, path.join(rootDir, dir), ['--bind'])
    const cleanEnv = { PATH: '/usr/local/bin:/usr/bin:/bin', HOME: '/root', LANG: 'C.UTF-8', ...env }
    const result = spawnSync('chroot', [rootDir, '/usr/bin/env', '-i', ...Object.entries(cleanEnv).map(([k, v]) => `${k}=${v}`), '/bin/bash', '-euo', 'pipefail', '-c', script], {
      stdio: 'inherit',
    })
    if (check && result.status !== 0) throw new Error(`in the ${path.basename(rootDir)} root, the script failed (exit ${result.status ?? result.signal})`)
    return result.status
  } finally {
    for (const target of mounts.reverse()) spawnSync('umount', ['-l', target], { stdio: 'inherit' })
  }
}

module.exports = { debianRoot, runInRoot, glibcVersion }
