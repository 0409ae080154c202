'use strict'

// NativeSessionCachePlugin: `plugins: [NativeSessionCachePlugin.init(options)]` installs the strategy in
// the server and in the worker (through the plugin's configuration hook, which both run), adds the Admin
// API query `sessionCacheStats`, and reports the figures as OpenTelemetry metrics (lib/metrics.js).
//
// Plain JavaScript, so the decorators Vendure's TypeScript plugins write with `@` are applied by hand,
// in the order TypeScript would. NestJS and GraphQL are required through @vendure/core's own
// dependencies: the decorators must come from the very copies Vendure reads the metadata with.

const { createRequire } = require('node:module')
const { NativeSessionCacheStrategy } = require('./strategy.js')
const { parseOptions } = require('./options.js')
const { observeMetrics } = require('./metrics.js')
const { STORE_FIELDS, REDIS_FIELDS } = require('./stats-fields.js')

const vendure = require('@vendure/core')
const fromVendure = createRequire(require.resolve('@vendure/core'))
const { Inject } = fromVendure('@nestjs/common')
const { Resolver, Query } = fromVendure('@nestjs/graphql')
const { parse } = fromVendure('graphql')

const describe = (text) => JSON.stringify(text)

function graphqlFields(fields) {
  return fields
    .map(({ name, kind, description }) => `  ${describe(description)}\n  ${name}: ${kind === 'flag' ? 'Boolean' : 'Float'}!`)
    .join('\n')
}

/** The schema extension, made from the same field lists as stats() and the metrics. */
const ADMIN_SCHEMA = `
"The Redis tier's figures, for this process (shared by every strategy with the same name in it)."
type SessionCacheRedisStats {
${graphqlFields(REDIS_FIELDS)}
}

"""
The session cache's counters and sizes in the process that answered this request: each server
process (and the worker) has its own store, so with several processes each answers for itself.
Counters are Float because they outgrow Int.
"""
type SessionCacheStats {
  "The store's name (strategies with the same name in one process share one store)."
  name: String!
${graphqlFields(STORE_FIELDS)}
  "With the redis option: the tier's figures, or null while it is not connected; null without it."
  redis: SessionCacheRedisStats
}

extend type Query {
  """
  The session cache's figures in the server process that answers (not a sum over processes). Null
  when authOptions.sessionCacheStrategy is not a NativeSessionCacheStrategy. Needs ReadSystem.
  """
  sessionCacheStats: SessionCacheStats
}
`

/** Applies decorators the way TypeScript's emitted `__decorate` does. */
function decorateMethod(prototype, method, decorators) {
  let descriptor = Object.getOwnPropertyDescriptor(prototype, method)
  for (const decorator of [...decorators].reverse()) descriptor = decorator(prototype, method, descriptor) ?? descriptor
  Object.defineProperty(prototype, method, descriptor)
}

function decorateClass(target, decorators) {
  let result = target
  for (const decorator of [...decorators].reverse()) result = decorator(result) ?? result
  return result
}

/** The strategy Vendure uses in this app, if it is ours. */
function configuredStrategy(configService) {
  const strategy = configService.authOptions.sessionCacheStrategy
  return strategy instanceof NativeSessionCacheStrategy ? strategy : undefined
}

class SessionCacheStatsResolver {
  constructor(configService) {
    this.configService = configService
  }

  sessionCacheStats() {
    const strategy = configuredStrategy(this.configService)
    if (strategy === undefined) return null
    return { name: strategy.options.name, ...strategy.stats() }
  }
}
Inject(vendure.ConfigService)(SessionCacheStatsResolver, undefined, 0)
decorateMethod(SessionCacheStatsResolver.prototype, 'sessionCacheStats', [Query(), vendure.Allow(vendure.Permission.ReadSystem)])
const StatsResolver = decorateClass(SessionCacheStatsResolver, [Resolver()])

/**
 * Installs a NativeSessionCacheStrategy as `authOptions.sessionCacheStrategy` in the server and the
 * worker, adds the Admin API query `sessionCacheStats` (ReadSystem), and exports OpenTelemetry metrics
 * when `@opentelemetry/api` is installed and an SDK registered.
 */
class NativeSessionCachePlugin {
  /** The options given to init(), validated. */
  static options = {}

  /** @param options the strategy's options (see NativeSessionCacheStrategy). @throws TypeError naming a wrong option. */
  static init(options = {}) {
    // Validated now, so that a wrong option fails where the config is written, not at bootstrap.
    parseOptions(options)
    NativeSessionCachePlugin.options = options
    return NativeSessionCachePlugin
  }

  constructor(configService) {
    this.configService = configService
    this.stopMetrics = () => {}
  }

  onApplicationBootstrap() {
    const strategy = configuredStrategy(this.configService)
    if (strategy !== undefined) this.stopMetrics = observeMetrics(strategy)
  }

  onApplicationShutdown() {
    this.stopMetrics()
    this.stopMetrics = () => {}
  }
}
Inject(vendure.ConfigService)(NativeSessionCachePlugin, undefined, 0)

/** The strategies this plugin put into a config. */
const installed = new WeakSet()

const Plugin = decorateClass(NativeSessionCachePlugin, [
  vendure.VendurePlugin({
    imports: [vendure.PluginCommonModule],
    adminApiExtensions: { schema: parse(ADMIN_SCHEMA), resolvers: [StatsResolver] },
    configuration: (config) => {
      // A server and a worker bootstrapped in one process run this on one config: the strategy made
      // for the first is kept (it reopens after the other app's destroy()), not replaced unclosed.
      if (!installed.has(config.authOptions.sessionCacheStrategy)) {
        const strategy = new NativeSessionCacheStrategy(NativeSessionCachePlugin.options)
        installed.add(strategy)
        config.authOptions.sessionCacheStrategy = strategy
      }
      return config
    },
    compatibility: '>=3.1.0',
  }),
])

module.exports = { NativeSessionCachePlugin: Plugin, ADMIN_SCHEMA }
