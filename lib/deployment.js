'use strict'

// What a process can tell, by itself, of whether it is one of several serving the same shop: each
// would then keep its own cache, and without the redis option a logout in one is not seen by the others.

/**
 * Names the evidence that this process is one of several, or returns undefined: a Node `cluster`
 * worker (PM2's cluster mode is one too), or a PM2 instance of an app started with more than one
 * (PM2 sets `pm_id`, `NODE_APP_INSTANCE` and `instances` in each instance's environment).
 */
function peerProcessEvidence(env = process.env, cluster = require('node:cluster')) {
  if (cluster.isWorker) return `this process is a Node cluster worker (id ${cluster.worker?.id ?? '?'})`
  if (env.pm_id !== undefined && env.pm_id !== '') {
    const instance = Number(env.NODE_APP_INSTANCE ?? 0)
    // 'max', 0 and negative numbers mean "one per CPU (less n)".
    const instances = env.instances === undefined ? 1 : Number(env.instances)
    if (instance > 0 || !(instances === 1)) {
      return `this process is PM2 instance ${env.NODE_APP_INSTANCE ?? '?'} of app '${env.name ?? '?'}' (instances: ${env.instances ?? '?'})`
    }
  }
  return undefined
}

module.exports = { peerProcessEvidence }
