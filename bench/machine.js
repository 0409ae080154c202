'use strict'

// What the figures were measured on: they mean little without it (2 shared cores are noisy).

const os = require('node:os')

/** The 1-minute load average: above ~0 before a run, something else is using the cores. */
const loadAverage1m = () => os.loadavg()[0]

function machineInfo() {
  const cpus = os.cpus()
  return {
    cpuModel: cpus[0]?.model?.trim() ?? 'unknown',
    cores: cpus.length,
    availableParallelism: os.availableParallelism?.() ?? cpus.length,
    loadAverage1m: loadAverage1m(),
    totalMemoryBytes: os.totalmem(),
    platform: `${os.platform()} ${os.release()} ${os.arch()}`,
    node: process.version,
    v8: process.versions.v8,
    date: new Date().toISOString(),
  }
}

module.exports = { machineInfo, loadAverage1m }
