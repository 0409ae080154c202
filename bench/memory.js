'use strict'

// What holding `size` sessions costs a process, each strategy measured in a fresh process of its own
// (see memory-child.js): RSS and V8 heapUsed growth after global.gc().

const { execFileSync } = require('node:child_process')
const path = require('node:path')

const CHILD = path.join(__dirname, 'memory-child.js')

/** `{ held, tagged, rssBytes, heapBytes, bytesPerSession }` of `size` sessions in `strategyId`. */
function measureMemory(strategyId, size) {
  // The same node flags as this process (run.js gives it --expose-gc and a larger old space).
  const output = execFileSync(process.execPath, [...process.execArgv, CHILD, strategyId, String(size)], {
    encoding: 'utf8',
    stdio: ['ignore', 'pipe', 'inherit'],
    maxBuffer: 1 << 20,
  })
  // The figures are the child's last line (a warning logged by a strategy may come before).
  const figures = JSON.parse(output.trim().split('\n').pop())
  // JS caches grow the V8 heap (whose RSS can lag, re-using pages the heap already had); native memory
  // shows only in RSS. Whichever grew more is what a held session costs.
  return { ...figures, bytesPerSession: Math.max(figures.rssBytes, figures.heapBytes) / figures.held }
}

module.exports = { measureMemory }
