'use strict'

// Every release binary `npm run build:all` made, read as a file: the format and architecture its
// platform loads, the N-API entry point exported, and what it asks of the system's libraries (glibc
// symbol versions at most the floor; musl's libc; on macOS and Windows, no napi_* function bound to a
// library: napi-rs finds them in the process that loads the addon). Run by `npm run test:platforms`,
// after the build.

const fs = require('node:fs')
const { TARGETS, GLIBC_FLOOR } = require('../../scripts/platforms/targets.js')
const { inspectBinary, compareVersions } = require('../../scripts/lib/binary-format.js')

const ENTRY_POINT = 'napi_register_module_v1'
const recipes = TARGETS.map((t) => (t.buildable === false ? { ...t.standIn, standInFor: t.key } : t))

describe.each(recipes.map((r) => [r.key, r]))('%s', (key, recipe) => {
  let binary
  beforeAll(() => {
    if (!fs.existsSync(recipe.file)) throw new Error(`${recipe.file} is missing: run npm run build:all first`)
    binary = inspectBinary(recipe.file)
  })

  test(`is a ${recipe.format} library for ${recipe.arch} exporting ${ENTRY_POINT}`, () => {
    expect(binary.format).toBe(recipe.format)
    expect(binary.arch).toBe(recipe.arch)
    expect(binary.bits).toBe(64)
    expect(binary.exports).toContain(ENTRY_POINT)
  })

  if (recipe.libc === 'glibc') {
    test(`needs glibc ${GLIBC_FLOOR} at most, and no musl`, () => {
      expect(binary.needed).toContain('libc.so.6')
      expect(binary.maxGlibc).not.toBeNull()
      expect(compareVersions(binary.maxGlibc, GLIBC_FLOOR)).toBeLessThanOrEqual(0)
      expect(binary.needed.filter((lib) => /musl/.test(lib))).toEqual([])
    })
  }

  if (recipe.libc === 'musl') {
    test("links musl's C library dynamically, and nothing of glibc", () => {
      // musl's loader answers a NEEDED libc.so (zig's name) or libc.musl-<arch>.so.1 with itself.
      expect(binary.needed.some((lib) => lib === 'libc.so' || /^libc\.musl-/.test(lib))).toBe(true)
      expect(binary.needed).not.toContain('libc.so.6')
      expect(binary.symbolVersions.filter((v) => v.startsWith('GLIBC_'))).toEqual([])
      expect(binary.interpreter).toBeNull()
    })
  }

  if (recipe.format === 'macho') {
    // napi-build links macOS addons with -undefined dynamic_lookup, for N-API functions found in the
    // process that loads the addon; with napi-rs's dyn-symbols the addon finds them with dlsym at load
    // instead, so it imports none. Everything else it imports must bind to a library every Mac has.
    test('imports no napi_* function, and binds every import to a system library', () => {
      expect(binary.imports.filter((name) => name.startsWith('napi_'))).toEqual([])
      expect(binary.imports).toContain('dlsym')
      expect(binary.twoLevelNamespace).toBe(true)
      expect(binary.dynamicLookupImports).toEqual([])
      expect(binary.needed.length).toBeGreaterThan(0)
      expect(binary.needed.filter((lib) => !/^\/(usr\/lib|System\/Library\/Frameworks)\//.test(lib))).toEqual([])
    })
  }

  if (recipe.format === 'pe') {
    test('is a DLL that imports no napi_* function (napi-rs finds them in node.exe at run time)', () => {
      expect(binary.kind).toBe('dll')
      expect(binary.imports.filter((name) => name.startsWith('napi_'))).toEqual([])
      const dlls = binary.needed.map((dll) => dll.toLowerCase())
      expect(dlls).not.toContain('node.exe')
      expect(dlls).not.toContain('libnode.dll')
    })
  }
})
