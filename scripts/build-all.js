'use strict'

// npm run build:all [-- --only linux-arm64-gnu,darwin-arm64]
//
// Builds the addon for every platform in package.json `napi.targets` on this Linux x64 machine, with
// cargo-zigbuild (zig as the cross linker and C compiler for ring and blake3), and leaves each binary
// where the loader (binding.js) looks first: <binaryName>.<platform>.node beside package.json, so that
// `npm pack` afterwards makes the release tarball carrying every binary. The gnu targets link against
// glibc 2.17's symbol versions. Windows MSVC cannot be built here (see scripts/platforms/targets.js):
// its GNU-ABI stand-in is built into .cache/platforms/ instead, kept out of the package.
//
// Obtains what it needs, once, into .cache/tools: the Rust targets (rustup), zig (the `ziglang`
// wheel from PyPI) and cargo-zigbuild (crates.io).

const { execFileSync, spawnSync } = require('node:child_process')
const fs = require('node:fs')
const path = require('node:path')
const { TARGETS, cargoArtifact, root } = require('./platforms/targets.js')
const { writeFrameworkStubs } = require('./platforms/macos-frameworks.js')

const TOOLS = path.join(root, '.cache', 'tools')
const ZIGLANG_VERSION = '0.17.1'
const CARGO_ZIGBUILD_VERSION = '0.24.1'

const log = (line) => console.log(`[build:all] ${line}`)
const run = (command, args, options = {}) => {
  log(`$ ${command} ${args.join(' ')}`)
  const result = spawnSync(command, args, { cwd: root, stdio: 'inherit', ...options })
  if (result.status !== 0) throw new Error(`${command} ${args.join(' ')} failed (exit ${result.status ?? result.signal})`)
}
const has = (command, args = ['--version'], env = process.env) => spawnSync(command, args, { stdio: 'ignore', env }).status === 0

/** PATH with zig and cargo-zigbuild from .cache/tools first, each installed there when missing. */
function toolPath() {
  const zigDir = path.join(TOOLS, 'ziglang', 'ziglang')
  const binDir = path.join(TOOLS, 'bin')
  const PATH = [zigDir, binDir, process.env.PATH].join(path.delimiter)
  const env = { ...process.env, PATH }
  if (!fs.existsSync(path.join(zigDir, 'zig'))) {
    log(`zig ${ZIGLANG_VERSION} from PyPI (the ziglang wheel) into ${path.relative(root, TOOLS)}`)
    run('python3', ['-m', 'pip', 'install', '--quiet', '--disable-pip-version-check', '--target', path.join(TOOLS, 'ziglang'), `ziglang==${ZIGLANG_VERSION}`])
  }
  if (!has('cargo-zigbuild', ['--version'], env)) {
    log(`cargo-zigbuild ${CARGO_ZIGBUILD_VERSION} from crates.io into ${path.relative(root, TOOLS)}`)
    run('cargo', ['install', '--quiet', '--locked', '--root', TOOLS, 'cargo-zigbuild', '--version', CARGO_ZIGBUILD_VERSION])
  }
  return PATH
}

function installedRustTargets() {
  return execFileSync('rustup', ['target', 'list', '--installed'], { encoding: 'utf8' }).split('\n').filter(Boolean)
}

/**
 * napi-build expects, for windows-gnu, a libnode.dll to link against (MSYS2's Node is one). napi-rs
 * resolves every napi_* function at run time here (dyn-symbols), so nothing is imported from it: an
 * empty DLL of that name satisfies the build, and the artifact check proves the binary names no
 * libnode.dll, so that Node.exe, which exports N-API itself, loads it.
 */
function libnodeStub(PATH) {
  const dir = path.join(TOOLS, 'libnode-stub')
  const dll = path.join(dir, 'libnode.dll')
  if (!fs.existsSync(dll)) {
    fs.mkdirSync(dir, { recursive: true })
    fs.writeFileSync(path.join(dir, 'empty.c'), 'int libnode_stub;\n')
    run('zig', ['cc', '-target', 'x86_64-windows-gnu', '-shared', '-o', dll, path.join(dir, 'empty.c')], { env: { ...process.env, PATH } })
    // The linker wants `-lnode` as an import library, under one of MinGW's names for it.
    for (const name of ['node.lib', 'libnode.dll.a', 'libnode.a']) fs.copyFileSync(path.join(dir, 'empty.lib'), path.join(dir, name))
  }
  return dir
}

/** Builds one recipe (a target, or a stand-in) and copies its library to recipe.file. */
function build(recipe, PATH) {
  const started = Date.now()
  const envName = `CARGO_TARGET_${recipe.triple.toUpperCase().replace(/-/g, '_')}_RUSTFLAGS`
  let rustflags = recipe.rustflags
  if (recipe.triple.endsWith('-apple-darwin')) {
    // No Apple SDK here: the frameworks' link stubs (see macos-frameworks.js) on the framework path.
    const stubs = writeFrameworkStubs(recipe.triple, path.join(TOOLS, 'macos-frameworks'))
    rustflags = `${rustflags} -C link-arg=-F${stubs}`.trim()
  }
  const env = { ...process.env, PATH, [envName]: rustflags }
  if (recipe.triple.endsWith('-windows-gnu')) env.LIBNODE_PATH = libnodeStub(PATH)
  run('cargo', ['zigbuild', '--release', '--lib', '--target', recipe.buildTriple], { env })
  fs.mkdirSync(path.dirname(recipe.file), { recursive: true })
  fs.copyFileSync(cargoArtifact(recipe.triple), recipe.file)
  const seconds = Math.round((Date.now() - started) / 1000)
  log(`${recipe.key}: ${path.relative(root, recipe.file)} (${fs.statSync(recipe.file).size} bytes, ${seconds} s)`)
  return { key: recipe.key, file: path.relative(root, recipe.file), seconds }
}

function main() {
  const i = process.argv.indexOf('--only')
  const only = i === -1 ? undefined : process.argv[i + 1].split(',')
  const selected = TARGETS.filter((t) => !only || only.includes(t.key))
  if (selected.length === 0) throw new Error(`--only matched none of ${TARGETS.map((t) => t.key).join(', ')}`)
  const recipes = selected.map((t) => (t.buildable === false ? t.standIn : t))

  const missing = recipes.map((r) => r.triple).filter((t) => !installedRustTargets().includes(t))
  if (missing.length > 0) run('rustup', ['target', 'add', ...missing])
  const PATH = toolPath()

  const built = []
  for (const recipe of recipes) built.push(build(recipe, PATH))
  for (const t of selected.filter((t) => t.buildable === false)) {
    log(`${t.key}: not built here: ${t.whyNot}; stand-in ${t.standIn.key} built instead`)
  }
  fs.mkdirSync(path.join(root, '.cache', 'platforms'), { recursive: true })
  fs.writeFileSync(path.join(root, '.cache', 'platforms', 'built.json'), JSON.stringify({ at: new Date().toISOString(), built }, null, 2))
}

try {
  main()
} catch (error) {
  console.error(`[build:all] ${error.message}`)
  process.exit(1)
}
