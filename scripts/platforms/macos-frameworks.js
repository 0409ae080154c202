'use strict'

// Link-time stubs of the two macOS frameworks the addon links (Security and CoreFoundation, through
// rustls-native-certs, which reads the Keychain's CA certificates for rediss://), for building the macOS
// binaries on Linux, where Apple's SDK cannot be downloaded. A stub is what the SDK itself ships: a
// text file (.tbd) naming the framework's install path and the symbols it exports. Here the symbols are
// the ones the Rust bindings declare (security-framework-sys, core-foundation-sys, at the versions in
// Cargo.lock), each under the framework its crate links, so every binding in the binary names the
// framework that really provides it; the stubs carry no code.

const { execFileSync } = require('node:child_process')
const crypto = require('node:crypto')
const fs = require('node:fs')
const path = require('node:path')

const root = path.resolve(__dirname, '..', '..')
const FRAMEWORKS = [
  { crate: 'security-framework-sys', name: 'Security' },
  { crate: 'core-foundation-sys', name: 'CoreFoundation' },
]

/** The source directory of each crate in this build's dependency graph for `triple`. */
function crateDirs(triple) {
  const metadata = JSON.parse(
    execFileSync('cargo', ['metadata', '--format-version', '1', '--filter-platform', triple, '--locked'], { cwd: root, encoding: 'utf8', maxBuffer: 256 * 2 ** 20 }),
  )
  return new Map(metadata.packages.map((p) => [p.name, path.dirname(p.manifest_path)]))
}

/**
 * Every `pub fn` / `pub static` a bindings crate declares, as Mach-O symbol names, and the constants
 * its macros declare as `Name => kSymbol` (security-framework-sys's key algorithms).
 */
function declaredSymbols(dir) {
  const names = new Set()
  for (const file of fs.readdirSync(path.join(dir, 'src'), { recursive: true })) {
    if (!file.endsWith('.rs')) continue
    const source = fs.readFileSync(path.join(dir, 'src', file), 'utf8')
    for (const match of source.matchAll(/\bpub\s+(?:fn|static)\s+([A-Za-z_][A-Za-z0-9_]*)/g)) names.add(`_${match[1]}`)
    for (const match of source.matchAll(/=>\s*(k[A-Z][A-Za-z0-9_]*)\b/g)) names.add(`_${match[1]}`)
  }
  return [...names].sort()
}

function tbd(name, symbols) {
  const targets = '[ x86_64-macos, arm64-macos ]'
  return [
    '--- !tapi-tbd',
    'tbd-version: 4',
    `targets: ${targets}`,
    `install-name: '/System/Library/Frameworks/${name}.framework/Versions/A/${name}'`,
    'exports:',
    `  - targets: ${targets}`,
    `    symbols: [ ${symbols.join(', ')} ]`,
    '...',
    '',
  ].join('\n')
}

/**
 * Writes the stubs for `triple` into a directory of `outDir` named by their content, and returns it (a
 * -F framework search path). A new path when the stubs change makes cargo link again: it does not
 * watch the files a link argument names.
 */
function writeFrameworkStubs(triple, outDir) {
  const dirs = crateDirs(triple)
  const stubs = FRAMEWORKS.map(({ crate, name }) => {
    const dir = dirs.get(crate)
    if (!dir) throw new Error(`${crate} is not in the dependency graph for ${triple}: update scripts/platforms/macos-frameworks.js`)
    return { name, text: tbd(name, declaredSymbols(dir)) }
  })
  const hash = crypto.createHash('sha256')
  for (const { name, text } of stubs) hash.update(name).update(text)
  const searchPath = path.join(outDir, hash.digest('hex').slice(0, 16))
  for (const { name, text } of stubs) {
    fs.mkdirSync(path.join(searchPath, `${name}.framework`), { recursive: true })
    fs.writeFileSync(path.join(searchPath, `${name}.framework`, `${name}.tbd`), text)
  }
  return searchPath
}

module.exports = { writeFrameworkStubs, FRAMEWORKS }
