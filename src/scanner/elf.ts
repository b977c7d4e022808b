/**
 * A reader for x86-64 ELF64 executables and shared objects, as far as the
 * scanner needs one: the PT_LOAD segments and which of them are executable,
 * the section headers (to tell code sections from data that shares an
 * executable segment), symbols from .dynsym and .symtab, and function starts
 * from the .eh_frame_hdr search table.
 *
 * Every offset, size and count read from the file is checked against the
 * file before use, so any input either parses or raises a ScanError that
 * names the defect. Layouts follow the System V gABI ("ELF-64 Object File
 * Format") and the x86-64 psABI.
 */
import { ScanError } from '../errors.js';
import { hex } from './findings.js';

/** Loadable segments map whole pages: bytes that share a page with code are executable too. */
export const PAGE_SIZE = 0x1000;

const ELF_MAGIC = 0x464c457f; // "\x7fELF" read little-endian
const ELFCLASS64 = 2;
const ELFDATA2LSB = 1;
const EM_X86_64 = 62;
const ET_EXEC = 2;
const ET_DYN = 3;
const PT_LOAD = 1;
const PT_GNU_EH_FRAME = 0x6474e550;
const PF_X = 1;
const SHT_SYMTAB = 2;
/** Sections of this type occupy memory but no file bytes (.bss, .tbss). */
export const SHT_NOBITS = 8;
const SHT_DYNSYM = 11;
const SHF_EXECINSTR = 4;
const STT_NOTYPE = 0;
const STT_OBJECT = 1;
const STT_FUNC = 2;
const STT_GNU_IFUNC = 10;
const HEADER_SIZE = 64;
const PHDR_SIZE = 56;
const SHDR_SIZE = 64;
const SYM_SIZE = 24;

/** A PT_LOAD program header. */
export interface ElfSegment {
  index: number;
  fileOffset: number;
  fileSize: number;
  address: number;
  memorySize: number;
  executable: boolean;
}

/** A section header, with its name resolved. */
export interface ElfSection {
  index: number;
  name: string;
  type: number;
  address: number;
  fileOffset: number;
  size: number;
  /** sh_link: for a symbol table, the index of its string table. */
  link: number;
  /** SHF_EXECINSTR: the linker placed instructions here. */
  code: boolean;
}

/**
 * Defined symbols with an address, from .symtab and .dynsym, sorted by
 * address. Names are decoded only when asked for: a large executable has
 * hundreds of thousands of symbols and a scan needs a handful.
 */
export interface SymbolTable {
  count: number;
  addresses: Float64Array;
  sizes: Float64Array;
  /** 1 for STT_FUNC and STT_GNU_IFUNC: the address starts an instruction. */
  functions: Uint8Array;
  /** Returns the name of symbol `index`; throws ScanError when it is not a valid string. */
  name(index: number): string;
}

/** The parts of an ELF file the scanner uses. */
export interface ElfImage {
  file: string;
  bytes: Uint8Array;
  type: 'executable' | 'shared';
  segments: ElfSegment[];
  sections: ElfSection[];
  /** Defined symbols sorted by address; parsed on first use. */
  symbols(): SymbolTable;
  /** Function start addresses from .eh_frame_hdr, sorted; parsed on first use. */
  functionStarts(): Float64Array;
}

/** Bounds-checked little-endian reads that report defects against one file. */
class Reader {
  private readonly view: DataView;

  constructor(
    readonly bytes: Uint8Array,
    readonly file: string,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  defect(message: string): ScanError {
    return ScanError.malformed(this.file, message);
  }

  /** Throws unless [offset, offset + length) lies inside the file. */
  require(offset: number, length: number, what: string): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw this.defect(
        `${what} (${hex(offset)}, ${length} bytes) lies outside the file ` +
          `(${this.bytes.length} bytes)`,
      );
    }
  }

  u8(offset: number): number {
    return this.view.getUint8(offset);
  }

  u16(offset: number): number {
    return this.view.getUint16(offset, true);
  }

  u32(offset: number): number {
    return this.view.getUint32(offset, true);
  }

  i32(offset: number): number {
    return this.view.getInt32(offset, true);
  }

  /** Returns a 64-bit field as a number; values past 2^53 cannot be addresses or sizes here. */
  u64(offset: number, what: string | (() => string)): number {
    const high = this.view.getUint32(offset + 4, true);
    if (high >= 0x200000) {
      const name = typeof what === 'string' ? what : what();
      throw this.defect(`${name} is ${hex64(this.view.getBigUint64(offset, true))}`);
    }
    return high * 0x1_0000_0000 + this.view.getUint32(offset, true);
  }

  /** Returns the NUL-terminated string at `offset` inside the table [start, end). */
  string(start: number, end: number, offset: number, what: string): string {
    const at = start + offset;
    if (offset < 0 || at >= end) {
      throw this.defect(`${what} name offset ${hex(offset)} is outside its string table`);
    }
    const terminator = this.bytes.indexOf(0, at);
    if (terminator < 0 || terminator >= end) {
      throw this.defect(`${what} name is not terminated inside its string table`);
    }
    return Buffer.from(this.bytes.buffer, this.bytes.byteOffset + at, terminator - at).toString(
      'latin1',
    );
  }
}

function hex64(value: bigint): string {
  return `0x${value.toString(16)}`;
}

/** Parses the headers of an x86-64 ELF executable or shared object. */
export function parseElf(bytes: Uint8Array, file: string): ElfImage {
  const reader = new Reader(bytes, file);
  const { type, segments, sections } = guarded(reader, () => ({
    type: readIdentity(reader),
    segments: readSegments(reader),
    sections: readSections(reader),
  }));

  let symbols: SymbolTable | undefined;
  let functionStarts: Float64Array | undefined;
  return {
    file,
    bytes,
    type,
    segments,
    sections,
    symbols: () => (symbols ??= guarded(reader, () => readSymbols(reader, sections))),
    functionStarts: () => (functionStarts ??= guarded(reader, () => readFunctionStarts(reader))),
  };
}

/**
 * Runs a table reader. Each reader checks its bounds before it reads, so a
 * RangeError from DataView means a check is missing; it still becomes a
 * ScanError, because a malformed file must never crash the caller.
 */
function guarded<T>(reader: Reader, read: () => T): T {
  try {
    return read();
  } catch (error) {
    if (!(error instanceof RangeError)) throw error;
    throw reader.defect(`a field lies outside the file (${error.message})`);
  }
}

/** Returns true when the bytes begin with the ELF magic number. */
export function looksLikeElf(bytes: Uint8Array): boolean {
  return (
    bytes.length >= 4 &&
    new DataView(bytes.buffer, bytes.byteOffset, 4).getUint32(0, true) === ELF_MAGIC
  );
}

/** Checks e_ident, e_machine and e_type; returns the kind of file. */
function readIdentity(reader: Reader): ElfImage['type'] {
  if (!looksLikeElf(reader.bytes)) throw reader.defect('no ELF magic number');
  if (reader.bytes.length < HEADER_SIZE) {
    throw reader.defect(`file is ${reader.bytes.length} bytes, shorter than an ELF64 header`);
  }
  const elfClass = reader.u8(4);
  if (elfClass !== ELFCLASS64) {
    throw ScanError.unsupported(reader.file, `ELF class ${elfClass}, not 64-bit (ELFCLASS64)`);
  }
  if (reader.u8(5) !== ELFDATA2LSB) throw ScanError.unsupported(reader.file, 'big-endian ELF');

  const machine = reader.u16(18);
  if (machine !== EM_X86_64) {
    throw ScanError.unsupported(reader.file, `machine ${machine}, not x86-64 (62)`);
  }
  const type = reader.u16(16);
  if (type === ET_EXEC) return 'executable';
  if (type === ET_DYN) return 'shared';
  throw ScanError.unsupported(
    reader.file,
    `ELF type ${type}, neither an executable nor a shared object`,
  );
}

/** Reads the program header table and returns its PT_LOAD entries. */
function readSegments(reader: Reader): ElfSegment[] {
  const tableOffset = reader.u64(32, 'program header offset (e_phoff)');
  const entrySize = reader.u16(54);
  const count = reader.u16(56);
  if (count === 0) throw reader.defect('no program headers, so nothing would be loaded');
  if (count === 0xffff) {
    throw reader.defect('program header count in section 0 (PN_XNUM) is not supported');
  }
  if (entrySize !== PHDR_SIZE) {
    throw reader.defect(`program header size is ${entrySize}, not ${PHDR_SIZE}`);
  }
  reader.require(tableOffset, count * PHDR_SIZE, 'program header table');

  const segments: ElfSegment[] = [];
  for (let index = 0; index < count; index++) {
    const at = tableOffset + index * PHDR_SIZE;
    if (reader.u32(at) !== PT_LOAD) continue;
    const what = `segment ${index}`;
    const segment: ElfSegment = {
      index,
      executable: (reader.u32(at + 4) & PF_X) !== 0,
      fileOffset: reader.u64(at + 8, `${what} file offset`),
      address: reader.u64(at + 16, `${what} address`),
      fileSize: reader.u64(at + 32, `${what} file size`),
      memorySize: reader.u64(at + 40, `${what} memory size`),
    };
    reader.require(segment.fileOffset, segment.fileSize, `${what} contents`);
    if (segment.fileSize > segment.memorySize) {
      throw reader.defect(
        `${what} has more bytes in the file (${segment.fileSize}) ` +
          `than in memory (${segment.memorySize})`,
      );
    }
    if (segment.address + segment.memorySize > Number.MAX_SAFE_INTEGER) {
      throw reader.defect(`${what} ends past the largest address keycell handles`);
    }
    if ((segment.fileOffset - segment.address) % PAGE_SIZE !== 0) {
      throw reader.defect(
        `${what} file offset ${hex(segment.fileOffset)} and address ${hex(segment.address)} ` +
          'differ within a page, so it cannot be mapped',
      );
    }
    segments.push(segment);
  }
  if (segments.length === 0) throw reader.defect('no PT_LOAD segment');
  return segments;
}

/** Reads the section header table, if any, with names from e_shstrndx. */
function readSections(reader: Reader): ElfSection[] {
  const tableOffset = reader.u64(40, 'section header offset (e_shoff)');
  const entrySize = reader.u16(58);
  const count = reader.u16(60);
  const namesIndex = reader.u16(62);
  if (tableOffset === 0 || count === 0) return [];
  if (entrySize !== SHDR_SIZE) {
    throw reader.defect(`section header size is ${entrySize}, not ${SHDR_SIZE}`);
  }
  reader.require(tableOffset, count * SHDR_SIZE, 'section header table');
  if (namesIndex >= count) {
    throw reader.defect(
      `section name table index ${namesIndex} is not below the section count ${count}`,
    );
  }

  const header = (index: number) => tableOffset + index * SHDR_SIZE;
  const namesAt = header(namesIndex);
  const namesOffset = reader.u64(namesAt + 24, 'section name table offset');
  const namesSize = reader.u64(namesAt + 32, 'section name table size');
  reader.require(namesOffset, namesSize, 'section name table');

  const sections: ElfSection[] = [];
  for (let index = 0; index < count; index++) {
    const at = header(index);
    const what = `section ${index}`;
    const section: ElfSection = {
      index,
      name: reader.string(namesOffset, namesOffset + namesSize, reader.u32(at), what),
      type: reader.u32(at + 4),
      code: (reader.u64(at + 8, `${what} flags`) & SHF_EXECINSTR) !== 0,
      address: reader.u64(at + 16, `${what} address`),
      fileOffset: reader.u64(at + 24, `${what} file offset`),
      size: reader.u64(at + 32, `${what} size`),
      link: reader.u32(at + 40),
    };
    if (section.type !== SHT_NOBITS && index !== 0) {
      reader.require(section.fileOffset, section.size, `${what} (${section.name}) contents`);
    }
    sections.push(section);
  }
  return sections;
}

/** Reads .symtab and .dynsym into one table sorted by address. */
function readSymbols(reader: Reader, sections: ElfSection[]): SymbolTable {
  const tables = sections.filter(
    (section) => section.type === SHT_SYMTAB || section.type === SHT_DYNSYM,
  );
  const capacity = tables.reduce((sum, table) => sum + Math.floor(table.size / SYM_SIZE), 0);
  const addresses = new Float64Array(capacity);
  const sizes = new Float64Array(capacity);
  const functions = new Uint8Array(capacity);
  const nameOffsets = new Uint32Array(capacity);
  const tableOf = new Uint16Array(capacity);
  let count = 0;

  for (const table of tables) {
    reader.require(table.fileOffset, table.size, `${table.name} contents`);
    const strings = sections[table.link];
    if (!strings) throw reader.defect(`${table.name} links to a missing string table section`);
    reader.require(strings.fileOffset, strings.size, `${table.name} string table`);

    const entries = Math.floor(table.size / SYM_SIZE);
    for (let index = 1; index < entries; index++) {
      const at = table.fileOffset + index * SYM_SIZE;
      const symbolType = reader.u8(at + 4) & 0xf;
      const sectionIndex = reader.u16(at + 6);
      const nameOffset = reader.u32(at);
      // Keep named code and data in real sections: undefined (0) and special
      // (0xff00 and up: ABS, COMMON...) sections hold no code.
      const named = symbolType <= STT_FUNC || symbolType === STT_GNU_IFUNC;
      if (!named || nameOffset === 0 || sectionIndex === 0 || sectionIndex >= 0xff00) continue;
      const address = reader.u64(at + 8, 'symbol value');
      if (address === 0) continue;
      addresses[count] = address;
      sizes[count] = reader.u64(at + 16, 'symbol size');
      functions[count] = symbolType === STT_NOTYPE || symbolType === STT_OBJECT ? 0 : 1;
      nameOffsets[count] = nameOffset;
      tableOf[count] = table.index;
      count++;
    }
  }

  const order = sortedOrder(addresses.subarray(0, count));
  return {
    count,
    addresses: Float64Array.from(order, (index) => addresses[index]),
    sizes: Float64Array.from(order, (index) => sizes[index]),
    functions: Uint8Array.from(order, (index) => functions[index]),
    name: (index) => {
      const table = sections[tableOf[order[index]]];
      const strings = sections[table.link];
      const end = strings.fileOffset + strings.size;
      return reader.string(
        strings.fileOffset,
        end,
        nameOffsets[order[index]],
        `${table.name} symbol`,
      );
    },
  };
}

/**
 * Returns the indices of `values` in ascending order of value. Sorting the
 * values natively and matching indices back is several times faster than a
 * comparator sort over hundreds of thousands of symbols.
 */
function sortedOrder(values: Float64Array): Uint32Array {
  const sorted = Float64Array.from(values).sort();
  const order = new Uint32Array(values.length);
  const firstSlot = new Map<number, number>();
  for (let index = sorted.length - 1; index >= 0; index--) firstSlot.set(sorted[index], index);
  for (let index = 0; index < values.length; index++) {
    const slot = firstSlot.get(values[index])!;
    order[slot] = index;
    firstSlot.set(values[index], slot + 1);
  }
  return order;
}

/**
 * Reads the binary search table of .eh_frame_hdr (found through
 * PT_GNU_EH_FRAME): one initial location per function with unwind
 * information, which covers static functions that have no symbol in a
 * stripped library. Only the encodings that toolchains emit are read; others
 * leave the table empty, since the scan does not depend on it.
 */
function readFunctionStarts(reader: Reader): Float64Array {
  const empty = new Float64Array(0);
  const tableOffset = reader.u64(32, 'program header offset (e_phoff)');
  const count = reader.u16(56);
  let header: { offset: number; address: number; size: number } | undefined;
  for (let index = 0; index < count; index++) {
    const at = tableOffset + index * PHDR_SIZE;
    if (reader.u32(at) !== PT_GNU_EH_FRAME) continue;
    header = {
      offset: reader.u64(at + 8, 'PT_GNU_EH_FRAME file offset'),
      address: reader.u64(at + 16, 'PT_GNU_EH_FRAME address'),
      size: reader.u64(at + 32, 'PT_GNU_EH_FRAME size'),
    };
  }
  if (!header || header.size < 12) return empty;
  reader.require(header.offset, header.size, '.eh_frame_hdr');

  const version = reader.u8(header.offset);
  const pointerEncoding = reader.u8(header.offset + 1);
  const countEncoding = reader.u8(header.offset + 2);
  const tableEncoding = reader.u8(header.offset + 3);
  // DW_EH_PE_sdata4 (any application) for the pointer, udata4 for the count,
  // datarel|sdata4 for the table: what GNU ld and lld write.
  if (
    version !== 1 ||
    (pointerEncoding & 0x0f) !== 0x0b ||
    countEncoding !== 0x03 ||
    tableEncoding !== 0x3b
  ) {
    return empty;
  }
  const entries = reader.u32(header.offset + 8);
  const tableAt = header.offset + 12;
  if (entries * 8 > header.size - 12) {
    throw reader.defect(`.eh_frame_hdr claims ${entries} entries, more than it holds`);
  }

  const starts = new Float64Array(entries);
  for (let index = 0; index < entries; index++) {
    starts[index] = header.address + reader.i32(tableAt + index * 8);
  }
  return starts.sort();
}
