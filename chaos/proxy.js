'use strict'

// A TCP proxy on loopback between one process and Redis that the checker can hang, cut and delay,
// per kind of connection: the invalidation channel ('pubsub': it sent SUBSCRIBE) or the data
// connections ('data'). A hang holds every byte on the connections open at that moment, without
// closing them (new connections pass, as after a half-open TCP link); a cut resets them; a delay
// holds every chunk, both ways, for that long (in order).

const net = require('node:net')

class FaultProxy {
  #server
  #conns = new Set()
  #delayMs = 0

  static async start(upstreamPort) {
    const proxy = new FaultProxy(upstreamPort)
    await new Promise((resolve) => proxy.#server.listen(0, '127.0.0.1', resolve))
    return proxy
  }

  #upstreamPort

  constructor(upstreamPort) {
    this.#upstreamPort = upstreamPort
    this.#server = net.createServer((client) => this.#accept(client, this.#upstreamPort))
  }

  /** New connections go to this port from now on (a failover behind the same address). */
  setUpstream(port) {
    this.#upstreamPort = port
  }

  get port() {
    return this.#server.address().port
  }

  #accept(client, upstreamPort) {
    const upstream = net.connect(upstreamPort, '127.0.0.1')
    client.setNoDelay(true)
    upstream.setNoDelay(true)
    const conn = { client, upstream, kind: 'data', hung: false, queues: [[], []], flushing: [false, false] }
    this.#conns.add(conn)
    const close = () => {
      this.#conns.delete(conn)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', close)
    upstream.on('error', close)
    const closed = () => {
      if (client.destroyed && upstream.destroyed) this.#conns.delete(conn)
    }
    client.on('close', () => this.#afterDrain(conn, 0, () => (upstream.end(), closed())))
    upstream.on('close', () => this.#afterDrain(conn, 1, () => (client.end(), closed())))
    client.on('data', (chunk) => {
      if (conn.kind === 'data' && /SUBSCRIBE/i.test(chunk.toString('latin1'))) conn.kind = 'pubsub'
      this.#forward(conn, 0, chunk)
    })
    upstream.on('data', (chunk) => this.#forward(conn, 1, chunk))
  }

  /** Direction 0: client to Redis; 1: Redis to client. Chunks leave in order, after the delay, unless held. */
  #forward(conn, direction, chunk) {
    conn.queues[direction].push({ chunk, arrived: Date.now(), due: Date.now() + this.#delayMs })
    this.#flush(conn, direction)
  }

  #flush(conn, direction) {
    if (conn.flushing[direction] || conn.hung) return
    const queue = conn.queues[direction]
    const to = direction === 0 ? conn.upstream : conn.client
    while (queue.length > 0) {
      const wait = queue[0].due - Date.now()
      if (wait > 0) {
        conn.flushing[direction] = true
        setTimeout(() => {
          conn.flushing[direction] = false
          this.#flush(conn, direction)
        }, wait)
        return
      }
      if (!to.destroyed) to.write(queue.shift().chunk)
      else queue.shift()
    }
    conn.onDrained?.[direction]?.()
  }

  #afterDrain(conn, direction, then) {
    if (conn.queues[direction].length === 0 && !conn.hung) return then()
    conn.onDrained ??= []
    conn.onDrained[direction] = then
  }

  #each(kind, fn) {
    for (const conn of this.#conns) if (kind === 'any' || conn.kind === kind) fn(conn)
  }

  /** Holds every byte on the open connections of this kind. Returns how many were hung. */
  hang(kind) {
    let n = 0
    this.#each(kind, (conn) => {
      conn.hung = true
      conn.hungAt = Date.now()
      n++
    })
    return n
  }

  /** Forwards what was held, and everything after. */
  release(kind = 'any') {
    this.#each(kind, (conn) => {
      conn.hung = false
      this.#flush(conn, 0)
      this.#flush(conn, 1)
    })
  }

  /**
   * Late packets: forwards what each held connection of this kind received from its client in the
   * first `windowMs` of the hold (requests sent then; none of them can have been followed by its
   * caller's repair yet, which comes only after its timeout), drops the rest, and resets the
   * connection. Returns how many requests it delivered late.
   */
  passEarlyThenCut(kind, windowMs) {
    let n = 0
    this.#each(kind, (conn) => {
      if (!conn.hung) return
      const until = conn.hungAt + windowMs
      for (const { chunk, arrived } of conn.queues[0]) {
        if (arrived > until || conn.upstream.destroyed) break
        conn.upstream.write(chunk)
        n++
      }
      conn.queues = [[], []]
      // Let the chunks leave before the reset.
      setTimeout(() => {
        conn.client.resetAndDestroy()
        conn.upstream.resetAndDestroy()
      }, 5)
      this.#conns.delete(conn)
    })
    return n
  }

  /** Resets the open connections of this kind. Returns how many were cut. */
  cut(kind) {
    let n = 0
    this.#each(kind, (conn) => {
      conn.client.resetAndDestroy()
      conn.upstream.resetAndDestroy()
      this.#conns.delete(conn)
      n++
    })
    return n
  }

  /** Delays every chunk forwarded from now on, both ways (0 to stop). */
  delay(ms) {
    this.#delayMs = ms
  }

  async close() {
    this.cut('any')
    await new Promise((resolve) => this.#server.close(resolve))
  }
}

module.exports = { FaultProxy }
