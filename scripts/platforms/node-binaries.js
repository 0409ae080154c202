'use strict'

// Node's own binaries from the npm registry (the node-<os>-<arch> packages), fetched once into
// .cache/node/<os-arch>/<major>: the Node matrix, the arm64 runs under qemu, the Debian roots and wine
// all use these.

const { execFileSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..', '..')

/** `platform` is 'linux-x64', 'linux-arm64' or 'win-x64'; returns the path of that Node's executable. */
function nodeBinary(platform, major) {
  const dir = path.join(root, '.cache', 'node', platform, String(major))
  const binary = path.join(dir, 'package', 'bin', platform.startsWith('win') ? 'node.exe' : 'node')
  if (fs.existsSync(binary)) return binary
  fs.rmSync(dir, { recursive: true, force: true })
  fs.mkdirSync(dir, { recursive: true })
  console.log(`Fetching Node ${major} for ${platform} from the npm registry (node-${platform}@${major})`)
  const tarball = execFileSync('npm', ['pack', `node-${platform}@${major}`, '--silent', '--pack-destination', dir], { encoding: 'utf8' })
    .trim()
    .split('\n')
    .pop()
  execFileSync('tar', ['-xzf', path.join(dir, tarball), '-C', dir])
  fs.rmSync(path.join(dir, tarball))
  if (!fs.existsSync(binary)) throw new Error(`node-${platform}@${major} holds no ${path.relative(dir, binary)}`)
  return binary
}

module.exports = { nodeBinary }
