'use strict'

// A process started the ways shops run several Vendure processes on one machine: as the primary of a
// Node `cluster` with WORKERS workers (each starting a strategy, as Vendure's bootstrap would, with
// Vendure's DefaultLogger installed first as bootstrap does), or, with WORKERS=0, as one plain process
// (the environment may then say it is a PM2 instance). Each process prints what it logged.

const cluster = require('node:cluster')
const path = require('node:path')

const workers = Number(process.env.WORKERS ?? '0')

if (cluster.isPrimary && workers > 0) {
  cluster.setupPrimary({ silent: false })
  for (let i = 0; i < workers; i++) cluster.fork()
} else {
  const { Logger, DefaultLogger, LogLevel } = require('@vendure/core')
  Logger.useLogger(new DefaultLogger({ level: LogLevel.Info }))
  const { NativeSessionCacheStrategy } = require(path.resolve(__dirname, '..', '..'))
  // Two strategies in one process (as a server with its populate step has): one warning per process.
  for (const label of ['a', 'b']) {
    const strategy = new NativeSessionCacheStrategy({ name: `cluster-app-${process.pid}-${label}` })
    strategy.init()
    strategy.destroy()
  }
  process.exit(0)
}
