'use strict'

// Checks a history of session-cache operations, as Jepsen checks histories: every operation is
// recorded with when it started and ended (ms, one clock for all processes), and the rules are
// checked over the whole history, not answer by answer.
//
// An operation: { p: process, op: 'get' | 'set' | 'delete' | 'clear', token, value, start, end,
// threw }. A set's `value` is the unique id it wrote; a get's is the id it returned, or null.
//
// The rules (`boundMs` is the guarantee's window, 100 ms):
// 1. A get returns only what some set of that token wrote.
// 2. Stale: a get that returns the value of set S is a violation if some write X of the same token
//    (another set, a delete) or a clear() started after S ended and ended more than `boundMs` before
//    the get started. This covers "no deleted or cleared session is served later than the delete
//    returned + boundMs" and "no value older than a completed set". Operations that overlap may be
//    ordered either way: no violation.
// 3. No call throws.
// 4. No call takes `callLimitMs` (Vendure's 50 ms) or more, except calls that overlap a pause of
//    their own process (SIGSTOP), which no code can answer through. Counted apart (`slowCalls`):
//    a call's time includes the wait for its process's event loop, which on a loaded machine is
//    not the cache's doing, so callers decide how to weigh it.

const RULE_OF = { set: 'older than a completed set', delete: 'deleted session served', clear: 'cleared session served' }

function check(history, { boundMs = 100, callLimitMs = 50, pauses = [] } = {}) {
  const violations = []
  const sets = new Map()
  const writersByToken = new Map()
  const clears = []
  for (const op of history) {
    if (op.op === 'set') sets.set(op.value, op)
    if (op.op === 'clear') clears.push(op)
    else if (op.op === 'set' || op.op === 'delete') {
      let list = writersByToken.get(op.token)
      if (list === undefined) writersByToken.set(op.token, (list = []))
      list.push(op)
    }
  }
  const indexes = new Map()
  const indexFor = (token) => {
    let index = indexes.get(token)
    if (index === undefined) indexes.set(token, (index = invalidatorIndex([...(writersByToken.get(token) ?? []), ...clears])))
    return index
  }
  let longest = { ms: 0, op: null }
  let slowCalls = 0
  const slow = []
  for (const op of history) {
    const ms = op.end - op.start
    const paused = pauses.some((p) => p.p === op.p && p.start < op.end && op.start < p.end)
    if (!paused && ms > longest.ms) longest = { ms, op: op.op }
    if (op.threw != null) violations.push({ rule: 'threw', op, detail: op.threw })
    if (!paused && ms >= callLimitMs) {
      slowCalls++
      if (slow.length < 10) slow.push({ rule: 'slow', op, detail: `${ms.toFixed(1)} ms` })
    }
    if (op.op !== 'get' || op.value == null) continue
    const writer = sets.get(op.value)
    if (writer === undefined || writer.token !== op.token) {
      violations.push({ rule: 'never written', op, detail: `value ${op.value}` })
      continue
    }
    const newer = indexFor(op.token).firstEndedBefore(writer.end, op.start - boundMs)
    if (newer !== null) {
      violations.push({
        rule: RULE_OF[newer.op],
        op,
        detail: `wrote ${writer.value} [${writer.start.toFixed(1)}, ${writer.end.toFixed(1)}]; ${newer.op} by p${newer.p} [${newer.start.toFixed(1)}, ${newer.end.toFixed(1)}]; get [${op.start.toFixed(1)}, ${op.end.toFixed(1)}], ${(op.start - newer.end).toFixed(1)} ms after it returned`,
      })
    }
  }
  return { violations, longest, slowCalls, slow }
}

/**
 * Invalidators of one token sorted by start, with the suffix minimum of their ends: "is there one
 * that started after t0 and ended before t1?" is a binary search.
 */
function invalidatorIndex(ops) {
  const sorted = ops.slice().sort((a, b) => a.start - b.start)
  const suffixMin = new Array(sorted.length)
  let best = null
  for (let i = sorted.length - 1; i >= 0; i--) {
    if (best === null || sorted[i].end < best.end) best = sorted[i]
    suffixMin[i] = best
  }
  return {
    firstEndedBefore(startedAfter, endedBefore) {
      let lo = 0
      let hi = sorted.length
      while (lo < hi) {
        const mid = (lo + hi) >> 1
        if (sorted[mid].start > startedAfter) hi = mid
        else lo = mid + 1
      }
      const candidate = lo < sorted.length ? suffixMin[lo] : null
      return candidate !== null && candidate.end < endedBefore ? candidate : null
    },
  }
}

module.exports = { check }
