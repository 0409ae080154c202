'use strict'

// Refuses to go on unless the binary of every platform in package.json `napi.targets` is beside the
// loader: the release workflow runs it before `npm publish`, so a release never lacks a platform.

const fs = require('node:fs')
const path = require('node:path')
const { TARGETS } = require('./targets.js')

const missing = TARGETS.filter((t) => !fs.existsSync(t.file)).map((t) => path.basename(t.file))
if (missing.length > 0) {
  console.error(`The release must carry every platform's binary; missing: ${missing.join(', ')}`)
  process.exit(1)
}
console.log(`every platform's binary is here: ${TARGETS.map((t) => t.key).join(', ')}`)
