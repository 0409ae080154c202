'use strict'

// What happens at the edges of a process: exit, and workers that load the addon alone and leave.

const { spawnSync } = require('node:child_process')
const path = require('node:path')

const root = path.resolve(__dirname, '..')

function runNode(source) {
  const started = Date.now()
  const result = spawnSync(process.execPath, ['-e', source], { cwd: root, encoding: 'utf8', timeout: 60_000 })
  return { ...result, seconds: (Date.now() - started) / 1000 }
}

test('a process that creates a strategy and returns exits on its own: the sweeper never holds it', () => {
  const { status, stderr, seconds } = runNode(`
    const { NativeSessionCacheStrategy } = require('.')
    const cache = new NativeSessionCacheStrategy({ ttl: '1h' })
    cache.init()
    cache.set({ cacheExpiry: Date.now() / 1000 + 60, id: 1, token: 'x'.repeat(64), expires: new Date(Date.now() + 6e4) })
  `)
  expect(stderr).toBe('')
  expect(status).toBe(0)
  // Against a process that loads the addon (and Vendure's logger, which init() loads) the same way and
  // lets go of its strategy: the same start-up cost on this machine (or under an emulator, ten times
  // slower), so what is left is what the live strategy kept the process alive for.
  const baseline = runNode(`
    const { NativeSessionCacheStrategy } = require('.')
    const cache = new NativeSessionCacheStrategy({ ttl: '1h' })
    cache.init()
    cache.destroy()
  `)
  expect(baseline.status).toBe(0)
  expect(seconds - baseline.seconds).toBeLessThan(3)
})

test('workers that alone load the addon and exit, 50 times, crash nothing (napi-rs #3443)', () => {
  const { status, stdout, stderr, signal } = runNode(`
    const { Worker } = require('node:worker_threads')
    const source = \`
      const { NativeSessionCacheStrategy } = require(${JSON.stringify(root)})
      const cache = new NativeSessionCacheStrategy({ name: 'unload', ttl: 50 })
      cache.set({ cacheExpiry: Date.now() / 1000 + 60, id: 1, token: 't'.repeat(64), expires: new Date(Date.now() + 6e4) })
      if (!cache.get('t'.repeat(64))) throw new Error('miss')
    \`
    ;(async () => {
      for (let i = 0; i < 50; i++) {
        await new Promise((resolve, reject) => {
          const w = new Worker(source, { eval: true })
          w.on('error', reject)
          w.on('exit', (code) => (code === 0 ? resolve() : reject(new Error('worker exit ' + code))))
        })
        // Give the sweeper time to wake with no store left and to run while no JS holds the addon.
        if (i % 10 === 0) await new Promise((r) => setTimeout(r, 300))
      }
      console.log('done')
    })()
  `)
  expect({ status, signal, stderr }).toEqual({ status: 0, signal: null, stderr: '' })
  expect(stdout.trim()).toBe('done')
})
