'use strict'

// A throw-away redis-server on a free 127.0.0.1 port, started by the bench and stopped at its end
// (also if the process exits early). Nothing is persisted.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { freePort } = require('../__test__/helpers/free-port')

/** Why Redis cannot be benchmarked here, or null if it can. */
function unavailableReason() {
  const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
  if (probe.error) return 'redis-server is not on the PATH (apt-get install -y redis-server)'
  try {
    require.resolve('ioredis')
  } catch {
    return "the 'ioredis' package RedisCacheStrategy needs is not installed (npm i -D ioredis)"
  }
  return null
}


/** Starts redis-server; resolves to `{ port, version, admin, stop() }` once it answers PING. */
async function startRedis() {
  const port = await freePort()
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'bench-redis-'))
  // No persistence, loopback only, quiet.
  const args = ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no']
  const child = spawn('redis-server', [...args, '--dir', dir, '--loglevel', 'warning'], { stdio: ['ignore', 'ignore', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk) => (stderr += chunk))
  let exited = false
  child.on('exit', () => (exited = true))
  const killOnExit = () => exited || child.kill('SIGKILL')
  process.on('exit', killOnExit)
  // A signal ends the process without 'exit' handlers: stop the server first.
  const onSignal = (signal) => {
    killOnExit()
    process.exit(128 + (signal === 'SIGINT' ? 2 : signal === 'SIGHUP' ? 1 : 15))
  }
  const SIGNALS = ['SIGINT', 'SIGTERM', 'SIGHUP']
  for (const signal of SIGNALS) process.once(signal, onSignal)

  const Redis = require('ioredis')
  const admin = new Redis({ host: '127.0.0.1', port, lazyConnect: true, maxRetriesPerRequest: 0, retryStrategy: () => null })
  admin.on('error', () => {})
  const deadline = Date.now() + 10_000
  for (;;) {
    try {
      await admin.connect()
      await admin.ping()
      break
    } catch (error) {
      if (exited || Date.now() > deadline) {
        killOnExit()
        throw new Error(`redis-server did not start on port ${port}: ${stderr.trim() || error.message}`)
      }
      admin.disconnect()
      await new Promise((resolve) => setTimeout(resolve, 50))
    }
  }
  const version = /redis_version:(\S+)/.exec(await admin.info('server'))?.[1]

  async function stop() {
    admin.disconnect()
    if (!exited) {
      const gone = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await Promise.race([gone, new Promise((resolve) => setTimeout(resolve, 3000))])
      killOnExit()
    }
    process.off('exit', killOnExit)
    for (const signal of SIGNALS) process.off(signal, onSignal)
    fs.rmSync(dir, { recursive: true, force: true })
  }
  return { port, version, admin, stop }
}

module.exports = { unavailableReason, startRedis }
