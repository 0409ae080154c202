'use strict'

// npm run chaos -- [--minutes N | --seconds N] [--processes P] [--faults a,b,...] [--json] [--seed S] [--think-ms T] [--strict-timing]
//
// The fault-injecting checker of the Redis tier's guarantee (see chaos/checker.js for the rules):
// P processes, each with its own fault proxy to one real redis-server, run random get/set/delete/
// clear on shared tokens while this process injects one fault at a time, heals it, and moves on.
// Every operation is recorded with its start and end; at the end the whole history is checked.
// Exits 1 on any violation. Only loopback is used.

const { fork } = require('node:child_process')
const path = require('node:path')
const { TestRedis } = require('../__test__/helpers/redis-server')
const { FaultProxy } = require('./proxy')
const { check } = require('./checker')

function arg(flag, fallback) {
  const i = process.argv.indexOf(flag)
  return i === -1 ? fallback : process.argv[i + 1]
}
const seconds = process.argv.includes('--minutes') ? Number(arg('--minutes')) * 60 : Number(arg('--seconds', '30'))
const processes = Number(arg('--processes', '3'))
const asJson = process.argv.includes('--json')
const seed = Number(arg('--seed', String(Date.now() % 1_000_000)))
/** Also fail on any call of 50 ms or more (by default they are reported: see checker.js, rule 4). */
const strictTiming = process.argv.includes('--strict-timing')
/** Each loop waits up to this long between operations (ms): lower, more operations and memory. */
const thinkMs = Number(arg('--think-ms', process.argv.includes('--minutes') ? '8' : '2'))
const BOUND_MS = 100
const PREFIX = 'chaos:'
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/** The PRNG the benchmarks use (mulberry32): a seed replays a run's choices. */
const { random } = require('../bench/population')
const rand = random(seed)
const between = (lo, hi) => lo + Math.floor(rand() * (hi - lo))

function child(index) {
  const proc = fork(path.join(__dirname, 'client.js'), [], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
    env: { ...process.env, CHAOS_PROCESS: String(index) },
  })
  proc.on('error', () => {})
  let next = 0
  const pending = new Map()
  proc.on('message', ({ id, result, error }) => {
    const { resolve, reject } = pending.get(id)
    pending.delete(id)
    if (error !== undefined) reject(new Error(error))
    else resolve(result)
  })
  proc.on('exit', (code, signal) => {
    for (const { reject } of pending.values()) reject(new Error(`process ${index} exited (${code ?? signal})`))
    pending.clear()
  })
  return {
    index,
    label: String(index),
    pid: proc.pid,
    call(op, args) {
      const id = ++next
      return new Promise((resolve, reject) => {
        pending.set(id, { resolve, reject })
        proc.send({ id, op, args })
      })
    },
    kill() {
      proc.kill('SIGKILL')
    },
  }
}

/**
 * The faults, one at a time. Each takes the run's context, injects, waits, heals, and returns what
 * it did. `p` picks a process.
 */
const FAULTS = {
  'hang-pubsub': async (ctx, p) => {
    const n = ctx.proxies[p].hang('pubsub')
    await sleep(between(100, 1500))
    ctx.proxies[p].release('pubsub')
    return `p${p}: ${n} invalidation connection(s) held`
  },
  'hang-data': async (ctx, p) => {
    const n = ctx.proxies[p].hang('data')
    await sleep(between(50, 800))
    ctx.proxies[p].release('data')
    return `p${p}: ${n} data connection(s) held`
  },
  'cut-pubsub': async (ctx, p) => `p${p}: ${ctx.proxies[p].cut('pubsub')} invalidation connection(s) reset`,
  'cut-data': async (ctx, p) => `p${p}: ${ctx.proxies[p].cut('data')} data connection(s) reset`,
  delay: async (ctx, p) => {
    const ms = between(5, 60)
    ctx.proxies[p].delay(ms)
    await sleep(between(300, 1500))
    ctx.proxies[p].delay(0)
    return `p${p}: ${ms} ms each way`
  },
  pause: async (ctx, p) => {
    const pause = { p: ctx.children[p].label, start: Date.now(), end: Infinity }
    ctx.pauses.push(pause)
    process.kill(ctx.children[p].pid, 'SIGSTOP')
    await sleep(between(50, 600))
    process.kill(ctx.children[p].pid, 'SIGCONT')
    pause.end = Date.now() + 5
    return `p${ctx.children[p].label}: SIGSTOP ${Math.round(pause.end - pause.start)} ms`
  },
  jitter: async (ctx, p) => {
    // Small delays: answers arrive late but within the call's timeout, so reads stay in flight
    // across other calls of the same process.
    const ms = between(1, 9)
    ctx.proxies[p].delay(ms)
    await sleep(between(1000, 3000))
    ctx.proxies[p].delay(0)
    return `p${p}: ${ms} ms each way`
  },
  'late-packet': async (ctx, p) => {
    // The data connection holds its bytes; then the requests sent in the first 15 ms of the hold
    // arrive late, long after their callers gave up, and the connection dies with whatever was
    // sent after them (their repairs among it). A writing process: the reader sends no writes.
    p = 1 + (p % (ctx.proxies.length - 1))
    ctx.proxies[p].hang('data')
    await sleep(between(60, 400))
    return `p${p}: ${ctx.proxies[p].passEarlyThenCut('data', 15)} request(s) delivered late, then the connection reset`
  },
  'restart-everything-old-data': async (ctx) => {
    // Every process stops; Redis restarts from an old snapshot; new processes start: nobody who
    // saw the old server is left to notice it restarted.
    await ctx.stopGeneration()
    await ctx.redis.kill()
    await ctx.redis.restart()
    ctx.redis.cli('REPLICAOF', 'NO', 'ONE')
    await ctx.startGeneration()
    return `new processes ${ctx.children.map((c) => 'p' + c.label).join(', ')} on a Redis restarted from a snapshot ${Math.round((Date.now() - ctx.lastSnapshot) / 1000)} s old`
  },
  stall: async (ctx) => {
    const s = between(100, 500) / 1000
    await new Promise((resolve) => {
      const { spawn } = require('node:child_process')
      spawn('redis-cli', ['-p', String(ctx.redis.port), 'DEBUG', 'SLEEP', String(s)], { stdio: 'ignore' }).on('exit', resolve)
    })
    return `DEBUG SLEEP ${s}`
  },
  'failover-stale-replica': async (ctx) => {
    // The replica stops hearing the master for a while (writes since are lost to it), then it is
    // promoted behind the same address: every process's connections are cut and new ones reach
    // it; the old master becomes its replica (and so loses those writes too).
    const { redis: master, replica, replicationLink } = ctx
    replicationLink.hang('any')
    await sleep(between(50, 500))
    replica.cli('REPLICAOF', 'NO', 'ONE')
    for (const proxy of ctx.proxies) {
      proxy.setUpstream(replica.port)
      proxy.cut('any')
    }
    replicationLink.cut('any')
    replicationLink.setUpstream(replica.port)
    master.cli('REPLICAOF', '127.0.0.1', String(ctx.replicationLink.port))
    ;[ctx.redis, ctx.replica] = [replica, master]
    return `replica :${replica.port} promoted after missing writes; old master :${master.port} now replicates from it`
  },
  'restart-old-data': async (ctx) => {
    // The snapshot was taken a while ago (see snapshots below): deletes and sets since are lost.
    await ctx.redis.kill()
    await sleep(between(0, 300))
    await ctx.redis.restart()
    // Started with --replicaof if it was the replica once (see failover-stale-replica): a master now.
    ctx.redis.cli('REPLICAOF', 'NO', 'ONE')
    return `killed, restarted from a snapshot ${Math.round((Date.now() - ctx.lastSnapshot) / 1000)} s old`
  },
  'delete-tier-keys': async (ctx) => {
    const which = rand() < 0.5 ? `${PREFIX}ns` : `${PREFIX}srv`
    ctx.redis.cli('DEL', which)
    return `DEL ${which}`
  },
  'allkeys-lru': async (ctx) => {
    const used = Number(/used_memory:(\d+)/.exec(ctx.redis.cli('INFO', 'memory'))?.[1] ?? 2e6)
    ctx.redis.cli('CONFIG', 'SET', 'maxmemory-policy', rand() < 0.5 ? 'allkeys-lru' : 'allkeys-random')
    ctx.redis.cli('CONFIG', 'SET', 'maxmemory', String(used + 200_000))
    // Other data of a shared Redis pushes ours out.
    const filler = 'f'.repeat(20_000)
    for (let i = 0; i < 60; i++) ctx.redis.cli('SET', `other:${i}`, filler)
    await sleep(between(200, 800))
    ctx.redis.cli('CONFIG', 'SET', 'maxmemory', '0')
    ctx.redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
    const left = Number(/keys=(\d+)/.exec(ctx.redis.cli('INFO', 'keyspace'))?.[1] ?? 0)
    return `allkeys eviction under ${Math.round(used / 1e3)} kB + 200 kB (${left} keys left)`
  },
  'oom-noeviction': async (ctx) => {
    const used = Number(/used_memory:(\d+)/.exec(ctx.redis.cli('INFO', 'memory'))?.[1] ?? 2e6)
    ctx.redis.cli('CONFIG', 'SET', 'maxmemory-policy', 'noeviction')
    ctx.redis.cli('CONFIG', 'SET', 'maxmemory', String(Math.max(1, used - 100_000)))
    await sleep(between(200, 1000))
    ctx.redis.cli('CONFIG', 'SET', 'maxmemory', '0')
    return `maxmemory ${Math.round(used / 1e3)} kB - 100 kB, noeviction`
  },
}

async function main() {
  const faultKinds = arg('--faults', Object.keys(FAULTS).join(',')).split(',')
  for (const kind of faultKinds) if (!(kind in FAULTS)) throw new Error(`unknown fault '${kind}' (known: ${Object.keys(FAULTS).join(', ')})`)
  const redis = await TestRedis.start(['--enable-debug-command', 'yes'])
  // A replica, replicating through a proxy that can hold its link (see failover-stale-replica).
  const replicationLink = await FaultProxy.start(redis.port)
  const replica = await TestRedis.start(['--enable-debug-command', 'yes', '--replicaof', '127.0.0.1', String(replicationLink.port)])
  const proxies = await Promise.all(Array.from({ length: processes }, () => FaultProxy.start(redis.port)))
  const tokens = Array.from({ length: 12 }, (_, i) => `chaos-token-${i}-${seed}`)
  const durationMs = seconds * 1000
  const runUntil = Date.now() + durationMs + 2000
  const history = []
  const stats = []
  const ctx = { redis, replica, replicationLink, proxies, children: [], running: null, generation: 0, pauses: [], lastSnapshot: Date.now() }
  /** Starts one process per proxy; process 0 of each generation only reads (a server that writes nothing still must hear every delete). */
  ctx.startGeneration = async () => {
    const first = ctx.generation * processes
    ctx.generation++
    ctx.children = proxies.map((_, i) => child(first + i))
    await Promise.all(
      ctx.children.map((c, i) =>
        c.call('init', {
          options: {
            name: 'chaos',
            nearCacheSize: 1000,
            redis: { url: `redis://127.0.0.1:${proxies[i].port}`, secret: 'chaos-secret', keyPrefix: PREFIX },
          },
        }),
      ),
    )
    ctx.running = Promise.all(
      ctx.children.map((c, i) =>
        c.call('run', {
          durationMs: runUntil - Date.now(),
          loops: 4,
          tokens,
          seed: seed + (first + i) * 104729,
          mix: i === 0 ? { get: 1, set: 0, delete: 0, clear: 0 } : { get: 0.7, set: 0.15, delete: 0.1495, clear: 0.0005 },
          pauseMs: thinkMs,
        }),
      ),
    )
  }
  /** Stops the processes' loops, takes their histories and stats, and kills them. */
  ctx.stopGeneration = async () => {
    await Promise.all(ctx.children.map((c) => c.call('stop')))
    await ctx.running
    for (const c of ctx.children) {
      for (;;) {
        const batch = await c.call('take', { max: 20_000 })
        if (batch.length === 0) break
        for (const op of batch) history.push(op)
      }
      stats.push(await c.call('stats'))
      c.kill()
    }
  }
  const faultsDone = []
  try {
    await ctx.startGeneration()
    const until = Date.now() + durationMs - 1000
    let order = []
    let snapshotDue = Date.now() + 1000
    await sleep(1000)
    while (Date.now() < until) {
      if (Date.now() >= snapshotDue) {
        ctx.redis.cli('SAVE')
        ctx.lastSnapshot = Date.now()
        snapshotDue = Date.now() + between(1000, 4000)
      }
      if (order.length === 0) order = faultKinds.slice().sort(() => rand() - 0.5)
      const kind = order.pop()
      const p = between(0, processes)
      const start = Date.now()
      const what = await FAULTS[kind](ctx, p)
      faultsDone.push({ kind, start, end: Date.now(), what })
      if (!asJson) console.log(`${new Date().toISOString().slice(11, 23)} ${kind}: ${what}`)
      await sleep(between(200, 700))
    }
    await ctx.stopGeneration()
    const { violations, longest, slowCalls, slow } = check(history, { boundMs: BOUND_MS, pauses: ctx.pauses })
    const byRule = {}
    for (const v of violations) byRule[v.rule] = (byRule[v.rule] ?? 0) + 1
    const ops = {}
    for (const op of history) ops[op.op] = (ops[op.op] ?? 0) + 1
    const served = history.filter((op) => op.op === 'get' && op.value !== null).length
    const faults = {}
    for (const f of faultsDone) faults[f.kind] = (faults[f.kind] ?? 0) + 1
    const report = {
      seed,
      seconds,
      processes,
      operations: history.length,
      ops,
      getsServed: served,
      faults,
      violations: byRule,
      examples: violations.slice(0, 10).map((v) => `${v.rule}: p${v.op.p} ${v.op.op} ${v.op.token ?? ''} → ${v.detail}`),
      longestCallMs: Math.round(longest.ms * 10) / 10,
      slowCalls,
      slowExamples: slow.map((v) => `p${v.op.p} ${v.op.op} ${v.op.token ?? ''}: ${v.detail}`),
      redis: stats.map((s) => s.redis && { lateWrites: s.redis.lateWrites, repairs: s.redis.repairs, lostWrites: s.redis.lostWrites, links: s.redis.links, incarnationBumps: s.redis.incarnationBumps, outages: s.redis.outages }),
    }
    if (asJson) console.log(JSON.stringify(report))
    else {
      console.log(`\n${report.operations} operations (${Object.entries(ops).map(([k, v]) => `${k} ${v}`).join(', ')}; ${served} gets served a session) in ${seconds} s by ${processes} processes, seed ${seed}`)
      console.log(`faults: ${Object.entries(faults).map(([k, v]) => `${k} ${v}`).join(', ')}`)
      console.log(`longest call (outside pauses): ${report.longestCallMs} ms; calls >= 50 ms: ${slowCalls}${slowCalls > 0 ? ` (${report.slowExamples.slice(0, 3).join('; ')})` : ''}`)
      console.log(`violations: ${violations.length === 0 ? 0 : JSON.stringify(byRule)}`)
      for (const line of report.examples) console.log(`  ${line}`)
    }
    process.exitCode = violations.length === 0 && (slowCalls === 0 || !strictTiming) ? 0 : 1
  } finally {
    for (const c of ctx.children) c.kill()
    for (const proxy of [...proxies, replicationLink]) await proxy.close().catch(() => {})
    await ctx.redis.stop()
    await ctx.replica.stop()
  }
}

main().catch((error) => {
  console.error(error)
  process.exit(2)
})
