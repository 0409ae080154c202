'use strict'

const { NativeSessionCacheStrategy } = require('./lib/strategy.js')
const { DEFAULTS } = require('./lib/options.js')

module.exports = { NativeSessionCacheStrategy, DEFAULT_OPTIONS: DEFAULTS }
