/**
 * What the loader reads from a shared object beyond what the scanner needs:
 * every program header, the dynamic section (DT_* entries), the dynamic
 * symbol table and the relocations. Layouts follow the System V gABI and the
 * x86-64 psABI. The file has already passed `parseElf`, which checked the
 * ELF header and the program header table; everything read here is checked
 * against the file before use and a defect raises a LoadError naming it.
 */
import { LoadError } from '../errors.js';
import type { ElfImage } from '../scanner/elf.js';

export const PT_LOAD = 1;
export const PT_DYNAMIC = 2;
export const PT_TLS = 7;
export const PT_GNU_RELRO = 0x6474e552;
export const PF_X = 1;
export const PF_W = 2;
export const PF_R = 4;

const DT = {
  NULL: 0,
  NEEDED: 1,
  PLTRELSZ: 2,
  HASH: 4,
  STRTAB: 5,
  SYMTAB: 6,
  RELA: 7,
  RELASZ: 8,
  RELAENT: 9,
  STRSZ: 10,
  SYMENT: 11,
  INIT: 12,
  FINI: 13,
  SONAME: 14,
  REL: 17,
  PLTREL: 20,
  TEXTREL: 22,
  JMPREL: 23,
  INIT_ARRAY: 25,
  FINI_ARRAY: 26,
  INIT_ARRAYSZ: 27,
  FINI_ARRAYSZ: 28,
  FLAGS: 30,
  PREINIT_ARRAY: 32,
  RELR: 36,
  GNU_HASH: 0x6ffffef5,
} as const;
const DF_TEXTREL = 0x4;
const DT_RELA_TYPE = 7;
const SYM_SIZE = 24;
const RELA_SIZE = 24;

export interface ProgramHeader {
  type: number;
  flags: number;
  fileOffset: number;
  address: number;
  fileSize: number;
  memorySize: number;
  align: number;
}

export interface DynamicSymbol {
  index: number;
  name: string;
  value: number;
  size: number;
  /** STB_LOCAL 0, STB_GLOBAL 1, STB_WEAK 2. */
  binding: number;
  /** STT_NOTYPE 0, OBJECT 1, FUNC 2, TLS 6, GNU_IFUNC 10. */
  type: number;
  /** STV_DEFAULT 0 ... STV_PROTECTED 3. */
  visibility: number;
  /** Section index; 0 (SHN_UNDEF) means the symbol is imported. */
  section: number;
}

export interface Relocation {
  offset: number;
  type: number;
  symbol: number;
  addend: bigint;
}

export interface AddressArray {
  address: number;
  count: number;
}

export interface DynamicInfo {
  headers: ProgramHeader[];
  needed: string[];
  soname: string | null;
  symbols: DynamicSymbol[];
  relocations: Relocation[];
  init: number | null;
  /** Where DT_INIT_ARRAY lies and how many entries it has; read after relocation. */
  initArray: AddressArray | null;
  fini: number | null;
  finiArray: AddressArray | null;
  tls: ProgramHeader | null;
  relro: ProgramHeader | null;
}

/** Bounds-checked reads over the file, reporting defects as LoadErrors. */
class FileView {
  private readonly view: DataView;

  constructor(
    readonly image: ElfImage,
    readonly bytes = image.bytes,
  ) {
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  require(offset: number, length: number, what: string): void {
    if (offset < 0 || length < 0 || offset + length > this.bytes.length) {
      throw LoadError.malformed(this.image.file, `${what} lies outside the file`);
    }
  }

  u8(at: number): number {
    return this.view.getUint8(at);
  }
  u16(at: number): number {
    return this.view.getUint16(at, true);
  }
  u32(at: number): number {
    return this.view.getUint32(at, true);
  }
  i64(at: number): bigint {
    return this.view.getBigInt64(at, true);
  }

  /** A 64-bit field that must be a safe integer (an address, size or offset). */
  u64(at: number, what: string): number {
    const value = this.view.getBigUint64(at, true);
    if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
      throw LoadError.malformed(
        this.image.file,
        `${what} is out of range (0x${value.toString(16)})`,
      );
    }
    return Number(value);
  }

  string(table: number, tableSize: number, offset: number, what: string): string {
    if (offset >= tableSize)
      throw LoadError.malformed(this.image.file, `${what} lies outside the string table`);
    const end = this.bytes.indexOf(0, table + offset);
    if (end < 0 || end >= table + tableSize) {
      throw LoadError.malformed(
        this.image.file,
        `${what} is not terminated inside the string table`,
      );
    }
    return Buffer.from(this.bytes.subarray(table + offset, end)).toString('latin1');
  }
}

function readProgramHeaders(file: FileView): ProgramHeader[] {
  const table = file.u64(32, 'e_phoff');
  const count = file.u16(56);
  const headers: ProgramHeader[] = [];
  for (let index = 0; index < count; index++) {
    const at = table + index * 56;
    headers.push({
      type: file.u32(at),
      flags: file.u32(at + 4),
      fileOffset: file.u64(at + 8, `program header ${index} offset`),
      address: file.u64(at + 16, `program header ${index} address`),
      fileSize: file.u64(at + 32, `program header ${index} file size`),
      memorySize: file.u64(at + 40, `program header ${index} memory size`),
      align: file.u64(at + 48, `program header ${index} alignment`),
    });
  }
  return headers;
}

/** Translates a virtual address of the file to a file offset through its PT_LOAD headers. */
function fileOffsetOf(
  headers: ProgramHeader[],
  address: number,
  length: number,
  file: string,
  what: string,
): number {
  for (const header of headers) {
    if (header.type !== PT_LOAD) continue;
    if (address >= header.address && address + length <= header.address + header.fileSize) {
      return header.fileOffset + (address - header.address);
    }
  }
  throw LoadError.malformed(
    file,
    `${what} (0x${address.toString(16)}) is not backed by file contents`,
  );
}

/** Number of dynamic symbols, from DT_HASH's chain count or by walking DT_GNU_HASH. */
function symbolCount(
  file: FileView,
  headers: ProgramHeader[],
  hash: number | null,
  gnuHash: number | null,
): number {
  const name = file.image.file;
  if (hash !== null) return file.u32(fileOffsetOf(headers, hash, 8, name, 'DT_HASH') + 4);
  if (gnuHash === null)
    throw LoadError.malformed(
      name,
      'neither DT_HASH nor DT_GNU_HASH, so the symbols cannot be counted',
    );

  const at = fileOffsetOf(headers, gnuHash, 16, name, 'DT_GNU_HASH');
  const buckets = file.u32(at);
  const first = file.u32(at + 4);
  const bloomWords = file.u32(at + 8);
  const bucketTable = at + 16 + bloomWords * 8;
  file.require(bucketTable, buckets * 4, 'DT_GNU_HASH buckets');
  let last = 0;
  for (let i = 0; i < buckets; i++) last = Math.max(last, file.u32(bucketTable + i * 4));
  if (last < first) return first;
  const chains = bucketTable + buckets * 4;
  for (let index = last; ; index++) {
    file.require(chains + (index - first) * 4, 4, 'DT_GNU_HASH chain');
    if (file.u32(chains + (index - first) * 4) & 1) return index + 1;
  }
}

function readRelocations(
  file: FileView,
  headers: ProgramHeader[],
  address: number | null,
  size: number,
): Relocation[] {
  if (address === null || size === 0) return [];
  const at = fileOffsetOf(headers, address, size, file.image.file, 'relocation table');
  const relocations: Relocation[] = [];
  for (let entry = at; entry < at + size; entry += RELA_SIZE) {
    const info = file.i64(entry + 8);
    relocations.push({
      offset: file.u64(entry, 'relocation offset'),
      type: Number(info & 0xffffffffn),
      symbol: Number(BigInt.asUintN(64, info) >> 32n),
      addend: file.i64(entry + 16),
    });
  }
  return relocations;
}

function addressArray(address: number | null, size: number | null): AddressArray | null {
  return address === null || !size ? null : { address, count: Math.floor(size / 8) };
}

/** Reads the dynamic section and everything it points to. */
export function readDynamic(image: ElfImage): DynamicInfo {
  const file = new FileView(image);
  const name = image.file;
  const headers = readProgramHeaders(file);
  const dynamic = headers.find((header) => header.type === PT_DYNAMIC);
  if (!dynamic)
    throw LoadError.malformed(name, 'no PT_DYNAMIC header: not a shared object keycell can link');
  file.require(dynamic.fileOffset, dynamic.fileSize, 'the dynamic section');

  const entries = new Map<number, number[]>();
  for (let at = dynamic.fileOffset; at + 16 <= dynamic.fileOffset + dynamic.fileSize; at += 16) {
    const tag = Number(file.i64(at));
    if (tag === DT.NULL) break;
    entries.set(tag, [...(entries.get(tag) ?? []), file.u64(at + 8, `dynamic entry ${tag}`)]);
  }
  const one = (tag: number): number | null => entries.get(tag)?.[0] ?? null;

  if (entries.has(DT.TEXTREL) || (one(DT.FLAGS) ?? 0) & DF_TEXTREL) {
    throw LoadError.unsupported(name, 'text relocations would make code writable');
  }
  if (entries.has(DT.REL) || entries.has(DT.RELR) || entries.has(DT.PREINIT_ARRAY)) {
    throw LoadError.unsupported(
      name,
      'DT_REL, DT_RELR and DT_PREINIT_ARRAY are not supported on x86-64 shared objects',
    );
  }
  if (one(DT.PLTREL) !== null && one(DT.PLTREL) !== DT_RELA_TYPE) {
    throw LoadError.unsupported(name, 'PLT relocations are not RELA');
  }
  for (const [tag, size] of [
    [DT.SYMENT, SYM_SIZE],
    [DT.RELAENT, RELA_SIZE],
  ] as const) {
    if (one(tag) !== null && one(tag) !== size)
      throw LoadError.malformed(name, `dynamic entry ${tag} says ${one(tag)}, not ${size}`);
  }

  const strtab = one(DT.STRTAB);
  const symtab = one(DT.SYMTAB);
  const strsz = one(DT.STRSZ) ?? 0;
  if (strtab === null || symtab === null)
    throw LoadError.malformed(name, 'no DT_STRTAB or DT_SYMTAB');
  const strings = fileOffsetOf(headers, strtab, strsz, name, 'DT_STRTAB');
  const str = (offset: number, what: string) => file.string(strings, strsz, offset, what);

  const count = symbolCount(file, headers, one(DT.HASH), one(DT.GNU_HASH));
  const symbolTable = fileOffsetOf(headers, symtab, count * SYM_SIZE, name, 'DT_SYMTAB');
  const symbols: DynamicSymbol[] = [];
  for (let index = 0; index < count; index++) {
    const at = symbolTable + index * SYM_SIZE;
    const info = file.u8(at + 4);
    symbols.push({
      index,
      name: str(file.u32(at), `symbol ${index}`),
      binding: info >> 4,
      type: info & 0xf,
      visibility: file.u8(at + 5) & 3,
      section: file.u16(at + 6),
      value: file.u64(at + 8, `symbol ${index} value`),
      size: file.u64(at + 16, `symbol ${index} size`),
    });
  }

  const relocations = [
    ...readRelocations(file, headers, one(DT.RELA), one(DT.RELASZ) ?? 0),
    ...readRelocations(file, headers, one(DT.JMPREL), one(DT.PLTRELSZ) ?? 0),
  ];
  for (const relocation of relocations) {
    if (relocation.symbol >= count)
      throw LoadError.malformed(name, `a relocation names symbol ${relocation.symbol} of ${count}`);
  }

  return {
    headers,
    needed: (entries.get(DT.NEEDED) ?? []).map((offset) => str(offset, 'DT_NEEDED')),
    soname: one(DT.SONAME) === null ? null : str(one(DT.SONAME)!, 'DT_SONAME'),
    symbols,
    relocations,
    init: one(DT.INIT),
    initArray: addressArray(one(DT.INIT_ARRAY), one(DT.INIT_ARRAYSZ)),
    fini: one(DT.FINI),
    finiArray: addressArray(one(DT.FINI_ARRAY), one(DT.FINI_ARRAYSZ)),
    tls: headers.find((header) => header.type === PT_TLS) ?? null,
    relro: headers.find((header) => header.type === PT_GNU_RELRO) ?? null,
  };
}
