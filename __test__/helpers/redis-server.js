'use strict'

// A throw-away redis-server for the tests: 127.0.0.1, a free port, nothing persisted. kill() and
// restart() (same port, empty) stand for an outage; stop() in afterAll. Also stopped if the test
// process exits first.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { freePort } = require('./free-port')


const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

class TestRedis {
  #child = null
  #exited = Promise.resolve()
  #killOnExit = () => this.#child?.kill('SIGKILL')

  constructor(port, dir, extraArgs) {
    this.port = port
    this.dir = dir
    this.extraArgs = extraArgs
    this.password = extraArgs[extraArgs.indexOf('--requirepass') + 1]
    if (!extraArgs.includes('--requirepass')) this.password = undefined
    process.on('exit', this.#killOnExit)
  }

  /** Starts redis-server with `--port <free> --save '' --appendonly no`; resolves once it answers PING. */
  static async start(extraArgs = []) {
    const probe = spawnSync('redis-server', ['--version'], { encoding: 'utf8' })
    if (probe.error) throw new Error('redis-server is not installed (apt-get install -y redis-server; .ci/run does)')
    const redis = new TestRedis(await freePort(), fs.mkdtempSync(path.join(os.tmpdir(), 'vsc-redis-')), extraArgs)
    await redis.#launch()
    return redis
  }

  get url() {
    return `redis://127.0.0.1:${this.port}`
  }

  async #launch() {
    const args = ['--port', String(this.port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no', '--dir', this.dir, '--loglevel', 'warning', ...this.extraArgs]
    const child = spawn('redis-server', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    this.#child = child
    this.#exited = new Promise((resolve) => child.once('exit', resolve))
    const deadline = Date.now() + 10_000
    while (this.cli('PING').trim() !== 'PONG') {
      if (child.exitCode !== null || Date.now() > deadline) {
        this.#killOnExit()
        throw new Error(`redis-server did not start on port ${this.port}: ${stderr.trim()}`)
      }
      await sleep(20)
    }
  }

  /** Runs redis-cli against this server; returns its output. */
  cli(...args) {
    const auth = this.password === undefined ? [] : ['-a', this.password, '--no-auth-warning']
    const out = spawnSync('redis-cli', ['-h', '127.0.0.1', '-p', String(this.port), ...auth, ...args], { encoding: 'utf8', timeout: 5000 })
    return out.stdout ?? ''
  }

  /** SIGKILL, as a crash. */
  async kill() {
    const child = this.#child
    if (child === null) return
    this.#child = null
    if (child.exitCode === null) child.kill('SIGKILL')
    await this.#exited
  }

  /** Starts again on the same port, empty. */
  async restart() {
    await this.kill()
    await this.#launch()
  }

  async stop() {
    await this.kill()
    process.off('exit', this.#killOnExit)
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

module.exports = { TestRedis }
