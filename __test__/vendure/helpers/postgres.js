'use strict'

// A private PostgreSQL cluster for the two-servers e2e test and bench/e2e-two-servers.js: initdb into a
// temp dir, `postgres` run as user postgres (it refuses to run as root) on a free loopback port, trust
// auth, fsync off, nothing kept. stop() removes it; it is also stopped if the process exits first.

const { spawn, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const os = require('node:os')
const path = require('node:path')
const { freePort } = require('../../helpers/free-port')

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
/** A sleep that does not keep the process waiting once the race it guards is over. */
const grace = (ms) => new Promise((resolve) => setTimeout(resolve, ms).unref())

function postgresBinDir() {
  const root = '/usr/lib/postgresql'
  const versions = fs.existsSync(root) ? fs.readdirSync(root).filter((v) => fs.existsSync(path.join(root, v, 'bin', 'initdb'))) : []
  if (versions.length === 0) {
    throw new Error(
      'PostgreSQL binaries not found (/usr/lib/postgresql/<version>/bin/initdb): .ci/run installs them (apt-get install -y postgresql)',
    )
  }
  versions.sort((a, b) => Number(b) - Number(a))
  return path.join(root, versions[0], 'bin')
}

/** A private PostgreSQL cluster on 127.0.0.1, run as user postgres, trust auth, nothing kept. */
class TestPostgres {
  static async start() {
    const bin = postgresBinDir()
    const pg = new TestPostgres()
    pg.bin = bin
    pg.dir = fs.mkdtempSync(path.join(os.tmpdir(), 'vsc-pg-'))
    pg.data = path.join(pg.dir, 'data')
    pg.socketDir = path.join(pg.dir, 'sock')
    fs.mkdirSync(pg.socketDir)
    spawnSync('chown', ['-R', 'postgres:postgres', pg.dir])
    pg.port = await freePort()
    const init = pg.runAsPostgres('initdb', ['-D', pg.data, '-U', 'postgres', '--auth=trust', '--no-sync', '-E', 'UTF8'])
    if (init.status !== 0) throw new Error(`initdb failed: ${init.stderr}${init.stdout}`)
    const args = ['-u', 'postgres', '--', path.join(bin, 'postgres'), '-D', pg.data, '-p', String(pg.port), '-k', pg.socketDir, '-h', '127.0.0.1', '-c', 'fsync=off']
    pg.child = spawn('runuser', args, { stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    pg.child.stderr.on('data', (chunk) => (stderr += chunk))
    pg.exited = new Promise((resolve) => pg.child.once('exit', resolve))
    process.on('exit', pg.killOnExit)
    const deadline = Date.now() + 20_000
    while (pg.runAsPostgres('pg_isready', ['-h', '127.0.0.1', '-p', String(pg.port)]).status !== 0) {
      if (pg.child.exitCode !== null || Date.now() > deadline) {
        await pg.stop()
        throw new Error(`postgres did not start on port ${pg.port}: ${stderr.trim()}`)
      }
      await sleep(100)
    }
    return pg
  }

  killOnExit = () => {
    spawnSync('runuser', ['-u', 'postgres', '--', path.join(this.bin, 'pg_ctl'), '-D', this.data, 'stop', '-m', 'immediate'])
  }

  runAsPostgres(tool, args) {
    return spawnSync('runuser', ['-u', 'postgres', '--', path.join(this.bin, tool), ...args], { encoding: 'utf8', timeout: 30_000 })
  }

  createDatabase(name) {
    const out = this.runAsPostgres('psql', ['-h', '127.0.0.1', '-p', String(this.port), '-U', 'postgres', '-c', `CREATE DATABASE ${name}`])
    if (out.status !== 0) throw new Error(`CREATE DATABASE failed: ${out.stderr}`)
  }

  async stop() {
    if (this.child && this.child.exitCode === null) {
      this.runAsPostgres('pg_ctl', ['-D', this.data, 'stop', '-m', 'fast', '-t', '10'])
      await Promise.race([this.exited, grace(10_000)])
      if (this.child.exitCode === null) this.killOnExit()
    }
    process.off('exit', this.killOnExit)
    fs.rmSync(this.dir, { recursive: true, force: true })
  }
}

module.exports = { TestPostgres, postgresBinDir }
