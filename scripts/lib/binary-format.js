'use strict'

// Reads just enough of an ELF, Mach-O or PE file to check a release artifact built for another
// platform without loading it: architecture, kind, exported and imported symbols, needed libraries,
// and what decides where it can load (glibc symbol versions, Mach-O dynamic lookup, PE subsystem).
// Only the 64-bit little-endian layouts that this package's targets produce are read.
//
// node scripts/lib/binary-format.js <file>...   prints the JSON of each file

const fs = require('node:fs')

/** Compares dotted numeric versions ('2.17' > '2.2.5'); missing components count as 0. */
function compareVersions(a, b) {
  const [left, right] = [a, b].map(version => {
    if (!/^\d+(\.\d+)*$/.test(version)) throw new TypeError(`not a dotted numeric version: ${version}`)
    return version.split('.').map(Number)
  })
  for (let i = 0; i < Math.max(left.length, right.length); i++) {
    if ((left[i] ?? 0) !== (right[i] ?? 0)) return Math.sign((left[i] ?? 0) - (right[i] ?? 0))
  }
  return 0
}

// Every read goes through here, so a truncated or corrupt file fails with a message naming what was
// being read instead of a RangeError or a silently wrong value.
function createReader(buffer, littleEndian = true) {
  const check = (offset, size, what) => {
    if (!Number.isSafeInteger(offset) || offset < 0 || offset + size > buffer.length) {
      throw new Error(`truncated or corrupt: reading ${what} needs ${size} bytes at offset ${offset}, past the ${buffer.length} bytes available`)
    }
    return offset
  }
  const order = littleEndian ? 'LE' : 'BE'
  const reader = {
    length: buffer.length,
    u8: (offset, what) => buffer.readUInt8(check(offset, 1, what)),
    u16: (offset, what) => buffer[`readUInt16${order}`](check(offset, 2, what)),
    u32: (offset, what) => buffer[`readUInt32${order}`](check(offset, 4, what)),
    u64Big: (offset, what) => buffer[`readBigUInt64${order}`](check(offset, 8, what)),
    u64(offset, what) {
      const value = reader.u64Big(offset, what)
      if (value > BigInt(Number.MAX_SAFE_INTEGER)) throw new Error(`corrupt: ${what} (${value}) is implausibly large`)
      return Number(value)
    },
    ensure: check,
    /** A reader over part of this buffer, for formats whose offsets count from the start of that part. */
    sub: (offset, size, what, subLittleEndian = littleEndian) => createReader(buffer.subarray(check(offset, size, what), offset + size), subLittleEndian),
    /** The NUL-terminated string at offset, which must end before `end` (its table's end). */
    cString(offset, end, what, encoding = 'utf8') {
      const bytes = buffer.subarray(check(offset, 1, what), Math.min(end, buffer.length))
      const length = bytes.indexOf(0)
      if (length === -1) throw new Error(`truncated or corrupt: ${what} at offset ${offset} is not NUL-terminated within its table`)
      return bytes.toString(encoding, 0, length)
    },
    /** Offsets of `count` table entries of `stride` bytes, checked to fit before any is read. */
    entries(offset, count, stride, what) {
      check(offset, count * stride, what)
      return Array.from({ length: count }, (_, i) => offset + i * stride)
    },
  }
  return reader
}

const hex = value => `0x${value.toString(16)}`
const sortedUnique = names => [...new Set(names)].sort()
const readTableString = (reader, table, index, what) => {
  if (index >= table.size) throw new Error(`corrupt: ${what} index ${index} lies outside its ${table.size}-byte string table`)
  return reader.cString(table.offset + index, table.offset + table.size, what)
}

// ---- ELF -------------------------------------------------------------------------------------

const ELF_MACHINES = { 62: 'x64', 183: 'arm64' }
const ELF_KINDS = { 1: 'relocatable', 2: 'executable', 3: 'shared-library', 4: 'core' }
const PT = { LOAD: 1, DYNAMIC: 2, INTERP: 3 }
const SHT = { DYNSYM: 11, GNU_VERNEED: 0x6ffffffe }
const DT = { NEEDED: 1, HASH: 4, STRTAB: 5, SYMTAB: 6, STRSZ: 10, GNU_HASH: 0x6ffffef5, VERNEED: 0x6ffffffe, VERNEEDNUM: 0x6fffffff }
const ELF_SYMBOL_SIZE = 24
const GLOBAL_BINDINGS = new Set([1, 2, 10]) // STB_GLOBAL, STB_WEAK, STB_GNU_UNIQUE (libstdc++ uses it)
const VISIBLE = new Set([0, 3]) // STV_DEFAULT, STV_PROTECTED: hidden symbols are not exported

function inspectElf(reader) {
  if (reader.u8(4, 'EI_CLASS') !== 2) throw new Error('unsupported ELF: only 64-bit (ELFCLASS64) files are read')
  if (reader.u8(5, 'EI_DATA') !== 1) throw new Error('unsupported ELF: only little-endian files are read')
  const machine = reader.u16(18, 'e_machine')
  const type = reader.u16(16, 'e_type')
  const segments = readElfTable(reader, { offset: 32, stride: 54, count: 56 }, 56, 'program headers', at => ({
    type: reader.u32(at, 'p_type'), offset: reader.u64(at + 8, 'p_offset'), address: reader.u64(at + 16, 'p_vaddr'), size: reader.u64(at + 32, 'p_filesz'),
  }))
  const sections = readElfTable(reader, { offset: 40, stride: 58, count: 60 }, 64, 'section headers', at => ({
    type: reader.u32(at + 4, 'sh_type'), offset: reader.u64(at + 24, 'sh_offset'), size: reader.u64(at + 32, 'sh_size'),
    link: reader.u32(at + 40, 'sh_link'), info: reader.u32(at + 44, 'sh_info'),
  }))
  const { dynsym, verneed, dynamicStrings, dynamic } = locateElfTables(reader, segments, sections)
  const symbolVersions = verneed ? readElfVersionNeeds(reader, verneed) : []
  const glibcVersions = symbolVersions.map(name => /^GLIBC_(\d+(?:\.\d+)+)$/.exec(name)?.[1]).filter(Boolean)
  const interp = segments.find(segment => segment.type === PT.INTERP)
  return {
    format: 'elf',
    arch: ELF_MACHINES[machine] ?? `elf-machine-${machine}`,
    bits: 64,
    kind: ELF_KINDS[type] ?? `elf-type-${hex(type)}`,
    ...(dynsym ? readElfSymbols(reader, dynsym) : { exports: [], imports: [] }),
    needed: dynamic(DT.NEEDED).map(index => readTableString(reader, dynamicStrings(), index, 'DT_NEEDED name')),
    symbolVersions,
    maxGlibc: glibcVersions.reduce((max, version) => (max === null || compareVersions(version, max) > 0 ? version : max), null),
    interpreter: interp ? reader.cString(interp.offset, interp.offset + interp.size, 'PT_INTERP') : null,
  }
}

/** Reads the header table whose offset, entry size and count are at the given ELF header fields. */
function readElfTable(reader, fields, minimumStride, what, readEntry) {
  const count = reader.u16(fields.count, `${what} count`)
  const stride = reader.u16(fields.stride, `${what} entry size`)
  if (!count) return []
  if (stride < minimumStride) throw new Error(`corrupt ELF: ${what} entry size ${stride} is below ${minimumStride}`)
  return reader.entries(reader.u64(fields.offset, `${what} offset`), count, stride, what).map(readEntry)
}

// Section headers, when present, say where .dynsym and .gnu.version_r are; they are optional at run time
// (sstrip removes them), and then the dynamic segment leads to the same tables by virtual address.
function locateElfTables(reader, segments, sections) {
  const dynamic = readElfDynamic(reader, segments)
  const toOffset = (tag, what) => elfAddressToOffset(segments, dynamic(tag)[0], what)
  const dynamicStrings = () => {
    if (!dynamic(DT.STRTAB).length) throw new Error('corrupt ELF: the dynamic segment has no DT_STRTAB')
    return { offset: toOffset(DT.STRTAB, 'DT_STRTAB'), size: dynamic(DT.STRSZ)[0] ?? 0 }
  }
  const linkedStrings = section => {
    const strings = sections[section.link]
    if (!strings) throw new Error(`corrupt ELF: a section links to missing string table ${section.link}`)
    return { offset: strings.offset, size: strings.size }
  }
  const dynsymSection = sections.find(section => section.type === SHT.DYNSYM)
  const verneedSection = sections.find(section => section.type === SHT.GNU_VERNEED)
  const dynsym = dynsymSection
    ? { offset: dynsymSection.offset, count: Math.floor(dynsymSection.size / ELF_SYMBOL_SIZE), strings: linkedStrings(dynsymSection) }
    : dynamic(DT.SYMTAB).length
      ? { offset: toOffset(DT.SYMTAB, 'DT_SYMTAB'), count: countElfDynsym(reader, dynamic, toOffset), strings: dynamicStrings() }
      : null
  const verneed = verneedSection
    ? { offset: verneedSection.offset, count: verneedSection.info, strings: linkedStrings(verneedSection) }
    : dynamic(DT.VERNEED).length
      ? { offset: toOffset(DT.VERNEED, 'DT_VERNEED'), count: dynamic(DT.VERNEEDNUM)[0] ?? 0, strings: dynamicStrings() }
      : null
  return { dynsym, verneed, dynamicStrings, dynamic }
}

/** A lookup from dynamic tag to the values of its PT_DYNAMIC entries, in file order. */
function readElfDynamic(reader, segments) {
  const segment = segments.find(candidate => candidate.type === PT.DYNAMIC)
  const entries = []
  for (let at = segment?.offset ?? 0, end = at + (segment?.size ?? 0); at + 16 <= end; at += 16) {
    const tag = reader.u64Big(at, 'dynamic tag')
    if (tag === 0n) break // DT_NULL
    entries.push({ tag: Number(tag), at })
  }
  return tag => entries.filter(entry => entry.tag === tag).map(entry => reader.u64(entry.at + 8, `dynamic entry ${hex(tag)}`))
}

// Dynamic entries hold virtual addresses; the PT_LOAD segment containing one says where it is in the file.
function elfAddressToOffset(segments, address, what) {
  const segment = segments.find(candidate => candidate.type === PT.LOAD && address >= candidate.address && address < candidate.address + candidate.size)
  if (!segment) throw new Error(`corrupt ELF: ${what} address ${hex(address)} lies in no loaded segment`)
  return segment.offset + (address - segment.address)
}

// Without section headers nothing records the .dynsym size; the hash tables imply it.
function countElfDynsym(reader, dynamic, toOffset) {
  if (dynamic(DT.HASH).length) return reader.u32(toOffset(DT.HASH, 'DT_HASH') + 4, 'DT_HASH nchain')
  if (!dynamic(DT.GNU_HASH).length) throw new Error('corrupt ELF: without section headers, DT_HASH or DT_GNU_HASH is needed to size .dynsym')
  const table = toOffset(DT.GNU_HASH, 'DT_GNU_HASH')
  const bucketCount = reader.u32(table, 'GNU hash nbuckets')
  const firstHashed = reader.u32(table + 4, 'GNU hash symoffset')
  const buckets = table + 16 + reader.u32(table + 8, 'GNU hash bloom size') * 8
  let last = 0
  for (const at of reader.entries(buckets, bucketCount, 4, 'GNU hash buckets')) last = Math.max(last, reader.u32(at, 'GNU hash bucket'))
  if (last < firstHashed) return firstHashed
  // The highest bucket's chain runs to the last symbol; the chain entry with the low bit set ends it.
  const chains = buckets + bucketCount * 4
  while (!(reader.u32(chains + (last - firstHashed) * 4, 'GNU hash chain') & 1)) last++
  return last + 1
}

function readElfSymbols(reader, dynsym) {
  const exports = []
  const imports = []
  for (const at of reader.entries(dynsym.offset, dynsym.count, ELF_SYMBOL_SIZE, '.dynsym').slice(1)) {
    if (!GLOBAL_BINDINGS.has(reader.u8(at + 4, 'st_info') >> 4)) continue
    const name = readTableString(reader, dynsym.strings, reader.u32(at, 'st_name'), 'symbol name')
    if (!name) continue
    if (reader.u16(at + 6, 'st_shndx') === 0) imports.push(name) // SHN_UNDEF
    else if (VISIBLE.has(reader.u8(at + 5, 'st_other') & 3)) exports.push(name)
  }
  return { exports: sortedUnique(exports), imports: sortedUnique(imports) }
}

/** Version names (GLIBC_2.17, GCC_3.0, ...) required through .gnu.version_r, in file order. */
function readElfVersionNeeds(reader, verneed) {
  const names = []
  for (let file = 0, at = verneed.offset; file < verneed.count; file++) {
    const auxiliaryCount = reader.u16(at + 2, 'vn_cnt')
    for (let i = 0, aux = at + reader.u32(at + 8, 'vn_aux'); i < auxiliaryCount; i++) {
      names.push(readTableString(reader, verneed.strings, reader.u32(aux + 8, 'vna_name'), 'version name'))
      aux += reader.u32(aux + 12, 'vna_next')
    }
    const next = reader.u32(at + 12, 'vn_next')
    if (!next) break
    at += next
  }
  return [...new Set(names)]
}

// ---- Mach-O ----------------------------------------------------------------------------------

const MH_MAGIC_64 = 0xfeedfacf
const OTHER_MACHO_MAGICS = [0xfeedface, 0xcefaedfe, 0xcffaedfe] // 32-bit and big-endian ones, read little-endian
const FAT_MAGICS = [0xcafebabe, 0xcafebabf] // 32- and 64-bit fat_arch tables
const MAX_FAT_SLICES = 32 // Java class files share 0xcafebabe; their next word (a version, 45 and up) is larger
const MACHO_CPU_TYPES = { 0x01000007: 'x64', 0x0100000c: 'arm64' }
const MACHO_KINDS = { 1: 'object', 2: 'executable', 6: 'shared-library', 8: 'bundle' }
const MH_TWOLEVEL = 0x80
const LC = { SYMTAB: 0x2, DYLD_INFO: 0x22, DYLD_INFO_ONLY: 0x80000022, DYLD_EXPORTS_TRIE: 0x80000033, DYLD_CHAINED_FIXUPS: 0x80000034 }
const DYLIB_LOADS = new Set([0xc, 0x80000018, 0x8000001f, 0x80000023]) // LOAD, LOAD_WEAK, REEXPORT, LOAD_UPWARD
const N = { STAB: 0xe0, PEXT: 0x10, TYPE: 0x0e, EXT: 0x01, UNDF: 0x0, SECT: 0xe }
const DYNAMIC_LOOKUP_ORDINAL = 0xfe
const CHAINED_IMPORT_SIZES = { 1: 4, 2: 8, 3: 16 } // DYLD_CHAINED_IMPORT, _ADDEND, _ADDEND64
const FLAT_LOOKUP_ORDINAL = -2 // BIND_SPECIAL_DYLIB_FLAT_LOOKUP, and the same -2 in chained-fixups imports
const BIND = { SET_DYLIB_ORDINAL_IMM: 0x10, SET_DYLIB_ORDINAL_ULEB: 0x20, SET_DYLIB_SPECIAL_IMM: 0x30, SET_SYMBOL: 0x40, THREADED: 0xd0 }
const BIND_LEB_OPERANDS = { 0x00: 0, 0x50: 0, 0x60: 1, 0x70: 1, 0x80: 1, 0x90: 0, 0xa0: 1, 0xb0: 0, 0xc0: 2 } // the other opcodes
const BIND_DOES_BIND = new Set([0x90, 0xa0, 0xb0, 0xc0]) // DO_BIND and its three variants
const latin1ToUtf8 = text => Buffer.from(text, 'latin1').toString('utf8')

function inspectMachO(reader) {
  const magic = reader.u32(0, 'Mach-O magic')
  if (magic !== MH_MAGIC_64) throw new Error(`unsupported Mach-O: magic ${hex(magic)}, only 64-bit little-endian (0xfeedfacf) is read`)
  const cpuType = reader.u32(4, 'cputype')
  const fileType = reader.u32(12, 'filetype')
  const twoLevelNamespace = Boolean(reader.u32(24, 'flags') & MH_TWOLEVEL)
  const commands = readMachOCommands(reader)
  const command = cmd => commands.find(candidate => candidate.cmd === cmd)
  // linkedit_data_command and dyld_info_command both locate their data as (offset, size) at a fixed place.
  const data = (found, at) => found && reader.sub(reader.u32(found.at + at, 'linkedit offset'), reader.u32(found.at + at + 4, 'linkedit size'), 'linkedit data')
  const dropUnderscore = name => (name.startsWith('_') ? name.slice(1) : name)
  const symbols = readMachOSymbols(reader, command(LC.SYMTAB))
  const fixups = data(command(LC.DYLD_CHAINED_FIXUPS), 8)
  const dyldInfo = command(LC.DYLD_INFO_ONLY) ?? command(LC.DYLD_INFO)
  const bound = [...(fixups ? readChainedImports(fixups) : []), ...(dyldInfo ? [16, 32].flatMap(at => readBindOpcodes(data(dyldInfo, at))) : [])]
  const { imports, dynamicLookupImports } = classifyMachOImports(symbols, bound, twoLevelNamespace)
  let exports = symbols.filter(symbol => (symbol.type & N.TYPE) === N.SECT && !(symbol.type & N.PEXT)).map(symbol => symbol.name)
  // A stripped file may keep its exports only in dyld's trie.
  const trie = !exports.length && (data(command(LC.DYLD_EXPORTS_TRIE), 8) || data(dyldInfo, 40))
  if (trie && trie.length) exports = readExportTrie(trie)
  return {
    format: 'macho',
    arch: MACHO_CPU_TYPES[cpuType] ?? `macho-cputype-${hex(cpuType)}`,
    bits: 64,
    kind: MACHO_KINDS[fileType] ?? `macho-filetype-${hex(fileType)}`,
    exports: sortedUnique(exports.map(dropUnderscore)),
    imports: sortedUnique(imports.map(dropUnderscore)),
    needed: commands.filter(found => DYLIB_LOADS.has(found.cmd))
      .map(found => reader.cString(found.at + reader.u32(found.at + 8, 'dylib name offset'), found.at + found.size, 'dylib name')),
    dynamicLookupImports: sortedUnique(dynamicLookupImports.map(dropUnderscore)),
    twoLevelNamespace,
  }
}

// What dyld binds is the authority on where a symbol is looked up: zig's linker, for one, leaves n_desc's
// ordinal at 0 under -undefined dynamic_lookup and says flat lookup only in its bind opcodes.
function classifyMachOImports(symbols, bound, twoLevelNamespace) {
  const undefinedSymbols = symbols.filter(symbol => (symbol.type & N.TYPE) === N.UNDF)
  const imports = [...undefinedSymbols, ...bound].map(symbol => symbol.name)
  const dynamicLookupImports = [
    ...undefinedSymbols.filter(symbol => !twoLevelNamespace || ((symbol.description >> 8) & 0xff) === DYNAMIC_LOOKUP_ORDINAL),
    ...bound.filter(symbol => symbol.ordinal === FLAT_LOOKUP_ORDINAL),
  ].map(symbol => symbol.name)
  return { imports, dynamicLookupImports }
}

function readMachOCommands(reader) {
  const count = reader.u32(16, 'ncmds')
  const end = 32 + reader.u32(20, 'sizeofcmds') // after the 32-byte mach_header_64
  reader.ensure(32, end - 32, 'load commands')
  const commands = []
  for (let i = 0, at = 32; i < count; i++) {
    const cmd = reader.u32(at, 'load command')
    const size = reader.u32(at + 4, 'cmdsize')
    if (size < 8 || at + size > end) throw new Error(`corrupt Mach-O: load command ${i} (${hex(cmd)}) claims ${size} bytes, past sizeofcmds`)
    commands.push({ cmd, at, size })
    at += size
  }
  return commands
}

/** The external, non-debugging nlist_64 entries of LC_SYMTAB, with their names. */
function readMachOSymbols(reader, symtab) {
  if (!symtab) return []
  const strings = { offset: reader.u32(symtab.at + 16, 'stroff'), size: reader.u32(symtab.at + 20, 'strsize') }
  return reader.entries(reader.u32(symtab.at + 8, 'symoff'), reader.u32(symtab.at + 12, 'nsyms'), 16, 'nlist_64 table')
    .map(at => ({ at, type: reader.u8(at + 4, 'n_type'), description: reader.u16(at + 6, 'n_desc') }))
    .filter(symbol => !(symbol.type & N.STAB) && symbol.type & N.EXT)
    .map(symbol => ({ ...symbol, name: readTableString(reader, strings, reader.u32(symbol.at, 'n_strx'), 'symbol name') }))
}

// The trie spells each exported name along the edge labels from the root to a node with terminal data.
function readExportTrie(trie) {
  const names = []
  const visited = new Set()
  const pending = [{ node: 0, prefix: '' }]
  while (pending.length) {
    const { node, prefix } = pending.pop()
    if (visited.has(node)) throw new Error(`corrupt Mach-O: the export trie revisits node ${node}`)
    visited.add(node)
    const terminal = readUleb128(trie, node, 'export trie terminal size')
    // Labels are decoded byte for byte (latin1), so a UTF-8 name split across edges is reassembled intact.
    if (terminal.value) names.push(latin1ToUtf8(prefix))
    let at = terminal.next + terminal.value
    const childCount = trie.u8(at++, 'export trie child count')
    for (let i = 0; i < childCount; i++) {
      const label = trie.cString(at, trie.length, 'export trie edge', 'latin1')
      const child = readUleb128(trie, at + label.length + 1, 'export trie child offset')
      pending.push({ node: child.value, prefix: prefix + label })
      at = child.next
    }
  }
  return names
}

// Values past 2^53 come out inexact, which is harmless: used as an offset, the reader rejects them.
function readUleb128(reader, offset, what) {
  let value = 0
  for (let at = offset, scale = 1; ; scale *= 128) {
    if (at - offset === 10) throw new Error(`corrupt: ${what} runs past 64 bits`)
    const byte = reader.u8(at++, what)
    value += (byte & 0x7f) * scale
    if (!(byte & 0x80)) return { value, next: at }
  }
}

/** Each symbol the bind (or lazy bind) opcodes of LC_DYLD_INFO bind, with its signed library ordinal. */
function readBindOpcodes(stream) {
  const binds = []
  let ordinal = 0
  let name = ''
  for (let at = 0; at < stream.length; ) {
    const byte = stream.u8(at++, 'bind opcode')
    const [opcode, immediate] = [byte & 0xf0, byte & 0x0f]
    let operands = BIND_LEB_OPERANDS[opcode]
    if (opcode === BIND.SET_DYLIB_ORDINAL_IMM) ordinal = immediate
    else if (opcode === BIND.SET_DYLIB_ORDINAL_ULEB) ({ value: ordinal, next: at } = readUleb128(stream, at, 'bind dylib ordinal'))
    else if (opcode === BIND.SET_DYLIB_SPECIAL_IMM) ordinal = immediate ? immediate - 16 : 0 // a sign-extended 4-bit value
    else if (opcode === BIND.SET_SYMBOL) {
      name = stream.cString(at, stream.length, 'bind symbol name', 'latin1')
      at += name.length + 1
    }
    else if (opcode === BIND.THREADED) operands = immediate === 0 ? 1 : 0 // SET_BIND_ORDINAL_TABLE_SIZE_ULEB, or APPLY
    else if (operands === undefined) throw new Error(`corrupt Mach-O: unknown bind opcode ${hex(byte)}`)
    for (let i = 0; i < (operands ?? 0); i++) at = readUleb128(stream, at, 'bind operand').next
    if (BIND_DOES_BIND.has(opcode)) binds.push({ name: latin1ToUtf8(name), ordinal })
  }
  return binds
}

/** The imports of LC_DYLD_CHAINED_FIXUPS, each with its signed library ordinal (-2: dynamic lookup). */
function readChainedImports(fixups) {
  const importsOffset = fixups.u32(8, 'imports_offset')
  const symbolsOffset = fixups.u32(12, 'symbols_offset')
  const format = fixups.u32(20, 'imports_format')
  if (!CHAINED_IMPORT_SIZES[format]) throw new Error(`unsupported Mach-O: chained-fixups imports_format ${format}`)
  if (fixups.u32(24, 'symbols_format') !== 0) throw new Error('unsupported Mach-O: compressed chained-fixups symbol names')
  return fixups.entries(importsOffset, fixups.u32(16, 'imports_count'), CHAINED_IMPORT_SIZES[format], 'chained imports').map(at => {
    // Formats 1 and 2 pack lib_ordinal:8, weak_import:1, name_offset:23; format 3 lib_ordinal:16, ..., name_offset:32.
    const word = fixups.u32(at, 'chained import')
    const ordinal = format === 3 ? (word << 16) >> 16 : (word << 24) >> 24
    const nameOffset = format === 3 ? fixups.u32(at + 4, 'chained import name offset') : word >>> 9
    return { ordinal, name: fixups.cString(symbolsOffset + nameOffset, fixups.length, 'chained import name') }
  })
}

function inspectFat(reader) {
  const wide = reader.u32(0, 'fat magic') === FAT_MAGICS[1]
  const count = reader.u32(4, 'nfat_arch')
  if (!count || count > MAX_FAT_SLICES) throw new Error(`not a universal Mach-O: it claims ${count} slices (Java class files start with the same 0xcafebabe)`)
  const slices = reader.entries(8, count, wide ? 32 : 20, 'fat_arch table').map((at, index) => withContext(`slice ${index}`, () => {
    const offset = wide ? reader.u64(at + 8, 'slice offset') : reader.u32(at + 8, 'slice offset')
    const size = wide ? reader.u64(at + 16, 'slice size') : reader.u32(at + 12, 'slice size')
    return inspectMachO(reader.sub(offset, size, 'slice', true)) // the fat header is big-endian, its slices are not
  }))
  return { ...slices[0], slices }
}

// ---- PE --------------------------------------------------------------------------------------

const PE_MACHINES = { 0x8664: 'x64', 0xaa64: 'arm64' }
const PE_SIGNATURE = 0x00004550 // 'PE\0\0'
const PE32_PLUS = 0x20b
const IMAGE_FILE_DLL = 0x2000
const IMPORT_BY_ORDINAL = 1n << 63n

function inspectPe(reader) {
  const signatureAt = reader.u32(0x3c, 'e_lfanew')
  if (reader.u32(signatureAt, 'PE signature') !== PE_SIGNATURE) throw new Error(`not a PE file: 'MZ' header, but no 'PE\\0\\0' at e_lfanew ${signatureAt}`)
  const coff = signatureAt + 4
  const machine = reader.u16(coff, 'Machine')
  const optional = coff + 20
  const magic = reader.u16(optional, 'optional header magic')
  if (magic !== PE32_PLUS) throw new Error(`unsupported PE: optional header magic ${hex(magic)}, only PE32+ (0x20b) is read`)
  const directoryCount = reader.u32(optional + 108, 'NumberOfRvaAndSizes')
  const directoryRva = index => (index < directoryCount ? reader.u32(optional + 112 + index * 8, `data directory ${index}`) : 0)
  const sectionTable = optional + reader.u16(coff + 16, 'SizeOfOptionalHeader')
  const sections = reader.entries(sectionTable, reader.u16(coff + 2, 'NumberOfSections'), 40, 'section table').map(at => ({
    rva: reader.u32(at + 12, 'VirtualAddress'), virtualSize: reader.u32(at + 8, 'VirtualSize'),
    rawOffset: reader.u32(at + 20, 'PointerToRawData'), rawSize: reader.u32(at + 16, 'SizeOfRawData'),
  }))
  // RVAs are addresses in the loaded image; the section holding one says where its bytes are in the file.
  const toOffset = (rva, what) => {
    const section = sections.find(candidate => rva >= candidate.rva && rva - candidate.rva < Math.max(candidate.virtualSize, candidate.rawSize))
    if (!section || rva - section.rva >= section.rawSize) throw new Error(`corrupt PE: ${what} RVA ${hex(rva)} lies in no section's file data`)
    return section.rawOffset + (rva - section.rva)
  }
  const stringAt = (rva, what) => reader.cString(toOffset(rva, what), reader.length, what)
  const { needed, imports } = readPeImports(reader, directoryRva(1), toOffset, stringAt)
  return {
    format: 'pe',
    arch: PE_MACHINES[machine] ?? `pe-machine-${hex(machine)}`,
    bits: 64,
    kind: reader.u16(coff + 18, 'Characteristics') & IMAGE_FILE_DLL ? 'dll' : 'executable',
    exports: sortedUnique(readPeExports(reader, directoryRva(0), toOffset, stringAt)),
    imports: sortedUnique(imports),
    needed,
    subsystem: reader.u16(optional + 68, 'Subsystem'),
  }
}

function readPeExports(reader, directoryRva, toOffset, stringAt) {
  if (!directoryRva) return []
  const directory = toOffset(directoryRva, 'export directory')
  const nameCount = reader.u32(directory + 24, 'NumberOfNames')
  if (!nameCount) return []
  return reader.entries(toOffset(reader.u32(directory + 32, 'AddressOfNames'), 'export name table'), nameCount, 4, 'export name table')
    .map(at => stringAt(reader.u32(at, 'export name RVA'), 'export name'))
}

// Each import descriptor names a DLL and a zero-terminated list of 64-bit thunks; a zeroed descriptor ends the table.
function readPeImports(reader, directoryRva, toOffset, stringAt) {
  const needed = []
  const imports = []
  for (let at = directoryRva && toOffset(directoryRva, 'import directory'); directoryRva; at += 20) {
    const nameRva = reader.u32(at + 12, 'import DLL name RVA')
    if (!nameRva) break
    needed.push(stringAt(nameRva, 'import DLL name'))
    const lookupRva = reader.u32(at, 'OriginalFirstThunk') || reader.u32(at + 16, 'FirstThunk')
    for (let thunk = toOffset(lookupRva, 'import lookup table'); ; thunk += 8) {
      const entry = reader.u64Big(thunk, 'import thunk')
      if (!entry) break
      if (entry & IMPORT_BY_ORDINAL) continue // imported by ordinal: there is no name to report
      imports.push(reader.cString(toOffset(Number(entry & 0x7fffffffn), 'import name') + 2, reader.length, 'import name')) // past the 2-byte hint
    }
  }
  return { needed, imports }
}

// ---- entry points ----------------------------------------------------------------------------

function withContext(context, read) {
  try {
    return read()
  } catch (error) {
    throw new Error(`${context}: ${error.message}`, { cause: error })
  }
}

function inspectBuffer(buffer) {
  if (buffer.length < 4) throw new Error(`${buffer.length} bytes is too short for an ELF, Mach-O or PE file`)
  const magic = buffer.readUInt32LE(0)
  if (buffer.readUInt32BE(0) === 0x7f454c46) return inspectElf(createReader(buffer))
  if (magic === MH_MAGIC_64 || OTHER_MACHO_MAGICS.includes(magic)) return inspectMachO(createReader(buffer))
  if (FAT_MAGICS.includes(buffer.readUInt32BE(0))) return inspectFat(createReader(buffer, false))
  if (buffer.toString('latin1', 0, 2) === 'MZ') return inspectPe(createReader(buffer))
  const seen = [...buffer.subarray(0, 4)].map(byte => byte.toString(16).padStart(2, '0')).join(' ')
  throw new Error(`not an ELF, Mach-O or PE file: it starts with bytes ${seen} (expected 7f 45 4c 46, cf fa ed fe, ca fe ba be or 4d 5a)`)
}

/** What a native library or executable is built for and links against; see the top of this file. */
function inspectBinary(filePath) {
  const buffer = fs.readFileSync(filePath)
  return withContext(filePath, () => inspectBuffer(buffer))
}

module.exports = { inspectBinary, compareVersions }

if (require.main === module) {
  const files = process.argv.slice(2)
  if (!files.length) {
    console.error('usage: node scripts/lib/binary-format.js <file>...')
    process.exitCode = 2
  }
  for (const file of files) {
    try {
      console.log(JSON.stringify({ file, ...inspectBinary(file) }, null, 2))
    } catch (error) {
      console.error(error.message)
      process.exitCode = 1
    }
  }
}
