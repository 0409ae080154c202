'use strict'

const net = require('node:net')

/** A TCP port that was free on 127.0.0.1 a moment ago (for servers the tests and benches start). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = net.createServer()
    probe.unref()
    probe.on('error', reject)
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address()
      probe.close(() => resolve(port))
    })
  })
}

module.exports = { freePort }
