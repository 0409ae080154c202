'use strict'

// Logs through Vendure's Logger when @vendure/core is present (it is the peer dependency), so the
// operator sees cache messages where Vendure's own go; falls back to the console without it.

const LOGGER_CONTEXT = 'NativeSessionCache'

let vendureLogger

function logger() {
  if (vendureLogger === undefined) {
    try {
      vendureLogger = require('@vendure/core').Logger
    } catch {
      vendureLogger = null
    }
  }
  return vendureLogger
}

function warn(message) {
  const vendure = logger()
  if (vendure) vendure.warn(message, LOGGER_CONTEXT)
  else console.warn(`[${LOGGER_CONTEXT}] ${message}`)
}

function info(message) {
  const vendure = logger()
  if (vendure) vendure.info(message, LOGGER_CONTEXT)
}

module.exports = { warn, info, LOGGER_CONTEXT }
