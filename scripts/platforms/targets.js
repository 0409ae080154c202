'use strict'

// How each platform in package.json `napi.targets` is built on this Linux x64 machine, and what its
// artifact must look like. One table, read by the build (scripts/build-all.js), the artifact checks
// (__test__/platforms/artifacts.test.js) and the platform runs (scripts/test-platforms.js).

const path = require('node:path')
const { platformKey } = require('../../lib/native.js')

const root = path.resolve(__dirname, '..', '..')
const { napi } = require('../../package.json')

/**
 * The oldest glibc the gnu binaries need: every GLIBC_x.y symbol version they reference is at most
 * this. 2.17 is napi-rs's own floor (and Rust's for these targets): CentOS/RHEL 7, Amazon Linux 2,
 * Debian 8, Ubuntu 14.04 and everything newer.
 */
const GLIBC_FLOOR = '2.17'

/** Where `cargo zigbuild --target <triple>` leaves the library, by the target's OS. */
function cargoArtifact(triple) {
  const lib = 'vendure_native_session_cache'
  const dir = path.join(root, 'target', triple, 'release')
  if (triple.includes('windows')) return path.join(dir, `${lib}.dll`)
  if (triple.includes('apple')) return path.join(dir, `lib${lib}.dylib`)
  return path.join(dir, `lib${lib}.so`)
}

/**
 * Each target: its napi-rs key, the triple given to cargo-zigbuild (a `.2.17` suffix makes zig link
 * against that glibc's symbol versions), extra rustflags, and the expected artifact.
 * musl: `-crt-static` links musl dynamically, as Node on Alpine is, so the addon shares Node's libc.
 */
function describe(triple) {
  const key = platformKey(triple)
  const [arch] = key.split('-').slice(1)
  const base = { triple, key, arch, file: path.join(root, `${napi.binaryName}.${key}.node`) }
  if (triple.endsWith('-linux-gnu')) {
    return { ...base, buildTriple: `${triple}.${GLIBC_FLOOR}`, rustflags: '', format: 'elf', libc: 'glibc' }
  }
  if (triple.endsWith('-linux-musl')) {
    return { ...base, buildTriple: triple, rustflags: '-C target-feature=-crt-static', format: 'elf', libc: 'musl' }
  }
  if (triple.endsWith('-apple-darwin')) return { ...base, buildTriple: triple, rustflags: '', format: 'macho' }
  if (triple.endsWith('-windows-msvc')) {
    // MSVC's linker, CRT and the Windows SDK's import libraries come only from Microsoft's servers
    // (what cargo-xwin downloads), which this machine cannot reach. The GNU ABI target builds from the
    // same source with MinGW's import libraries and loads into the same Node.exe (napi-rs resolves
    // every napi_* function at run time on Windows): it stands in to prove the code builds and loads.
    const standIn = 'x86_64-pc-windows-gnu'
    return {
      ...base,
      format: 'pe',
      buildable: false,
      whyNot: "MSVC's linker, C runtime and Windows SDK libraries are distributed only by Microsoft, unreachable here",
      standIn: {
        triple: standIn,
        buildTriple: standIn,
        rustflags: '',
        key: platformKey(standIn),
        format: 'pe',
        arch,
        file: path.join(root, '.cache', 'platforms', `${napi.binaryName}.${platformKey(standIn)}.node`),
      },
    }
  }
  throw new Error(`no recipe for ${triple}: add one to scripts/platforms/targets.js`)
}

const TARGETS = napi.targets.map(describe)

module.exports = { TARGETS, GLIBC_FLOOR, cargoArtifact, root }
