'use strict'

const { NativeSessionCacheStrategy } = require('./lib/strategy.js')
const { DEFAULTS: DEFAULT_OPTIONS } = require('./lib/options.js')

module.exports = { NativeSessionCacheStrategy, DEFAULT_OPTIONS }

// The plugin needs @vendure/core (and loads NestJS): required on first use only, so that the strategy
// alone stays cheap to load (every worker_thread that uses the cache loads this file).
let NativeSessionCachePlugin
const exported = module.exports
Object.defineProperty(exported, 'NativeSessionCachePlugin', {
  enumerable: true,
  get: () => (NativeSessionCachePlugin ??= require('./lib/plugin.js').NativeSessionCachePlugin),
})
// Names every export for Node's ESM `import { ... }` of this CommonJS file: cjs-module-lexer reads
// this statement; it never runs.
0 && (module.exports = { NativeSessionCacheStrategy, DEFAULT_OPTIONS, NativeSessionCachePlugin })
