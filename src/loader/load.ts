/**
 * The ELF loader: places unmodified shared objects, with the libraries they
 * need, inside a domain's image area and links them there.
 *
 * Order of work, so that nothing half-checked ever becomes executable:
 *   1. read each file once into host memory, parse it, reserve its place;
 *   2. build every page as it will be mapped, in host memory;
 *   3. scan the executable pages, exactly those bytes, at their domain
 *      addresses: any finding refuses the load (ScanError);
 *   4. resolve every import (the sandbox-side runtime first, so C library
 *      imports never reach the host's libc) and apply the relocations to the
 *      host copies: a missing import refuses the load, listing them all;
 *   5. copy the pages in, then set their final protections (never writable
 *      and executable at once; RELRO read-only);
 *   6. run DT_INIT and DT_INIT_ARRAY inside the domain, dependencies first.
 */
import fs from 'node:fs';
import path from 'node:path';

import { callDomainFunction, domainSyscallGate, type Domain } from '../domain.js';
import {
  copyFromDomain,
  copyIntoDomain,
  domainLayout,
  PAGE_SIZE,
  protectDomainPages,
  Protection,
  setThreadVector,
} from '../domain-memory.js';
import { LoadError } from '../errors.js';
import { addonPath } from '../native.js';
import { elfCodeMap } from '../scanner/code-map.js';
import { parseElf, type ElfImage } from '../scanner/elf.js';
import { assertNoFindings } from '../scanner/scan.js';
import { KEYCELL_RUNTIME_MAGIC, KEYCELL_RUNTIME_VERSION } from './runtime-block.js';
import {
  PF_W,
  PF_X,
  PT_LOAD,
  readDynamic,
  type DynamicInfo,
  type DynamicSymbol,
  type ProgramHeader,
} from './elf-dynamic.js';

/** The sandbox-side runtime built beside the addon. */
export const runtimePath = path.join(path.dirname(addonPath), 'keycell-runtime.so');

/** Libraries whose functions the runtime provides: they are never loaded themselves. */
const PROVIDED_BY_RUNTIME = new Set([
  'libc.so.6',
  'ld-linux-x86-64.so.2',
  'libpthread.so.0',
  'libdl.so.2',
  'librt.so.1',
]);

const SEARCH_PATH = ['/lib/x86_64-linux-gnu', '/usr/lib/x86_64-linux-gnu', '/lib64', '/usr/lib64'];

/** Heap the runtime's malloc serves, carved from the image area. */
const HEAP_SIZE = 40 << 20;
/** Dynamic thread vector: a count and one slot per TLS module. */
const DTV_SLOTS = 64;

const R = {
  NONE: 0,
  X64: 1,
  GLOB_DAT: 6,
  JUMP_SLOT: 7,
  RELATIVE: 8,
  DTPMOD64: 16,
  DTPOFF64: 17,
} as const;
const STB_LOCAL = 0;
const STB_WEAK = 2;
const STV_DEFAULT = 0;
const STV_PROTECTED = 3;

/** A library linked into a domain. */
export interface LoadedLibrary {
  path: string;
  soname: string | null;
  /** Domain address of the library's address 0. */
  base: number;
  /** Image offset and length of its pages. */
  offset: number;
  size: number;
  dynamic: DynamicInfo;
  /** Symbols it defines for others, by name. */
  exports: Map<string, DynamicSymbol>;
  /** TLS module id (1-based), or 0 without PT_TLS. */
  tlsModule: number;
  /** Domain address of its TLS block. */
  tlsBlock: number;
  /** Milliseconds from reading the file to running its initialisers. */
  loadMs: number;
}

interface ImageState {
  /** Next free image offset. */
  next: number;
  imageBase: number;
  imageSize: number;
  libraries: LoadedLibrary[];
  dtvOffset: number;
  tlsModules: number;
}

const images = new WeakMap<Domain, ImageState>();

/** A library on its way in: its file, where it goes and its pages in host memory. */
interface Pending {
  library: LoadedLibrary;
  image: ElfImage;
  bytes: Uint8Array;
  /** performance.now() when the load of this library began. */
  started: number;
  /** Host copies of the pages, by image offset of the first page. */
  pages: Uint8Array;
  executable: [number, number][];
}

function reserve(state: ImageState, file: string, length: number, align = PAGE_SIZE): number {
  const offset = Math.ceil(state.next / align) * align;
  if (offset + length > state.imageSize)
    throw LoadError.domainFull(file, length, state.imageSize - state.next);
  state.next = offset + length;
  return offset;
}

function pageFloor(value: number): number {
  return value - (value % PAGE_SIZE);
}

function pageCeil(value: number): number {
  return Math.ceil(value / PAGE_SIZE) * PAGE_SIZE;
}

function loads(dynamic: DynamicInfo): ProgramHeader[] {
  return dynamic.headers.filter((header) => header.type === PT_LOAD && header.memorySize > 0);
}

/** Reads and parses one library and reserves its place; its pages are built later. */
function prepare(state: ImageState, file: string): Pending {
  const started = performance.now();
  let bytes: Uint8Array;
  try {
    bytes = fs.readFileSync(file);
  } catch (error) {
    throw LoadError.malformed(file, `cannot read: ${(error as Error).message}`);
  }
  const image = parseElf(bytes, file);
  if (image.type !== 'shared')
    throw LoadError.unsupported(file, 'only shared objects are loaded into domains');
  const dynamic = readDynamic(image);
  const segments = loads(dynamic);
  const span = pageCeil(
    Math.max(...segments.map((segment) => segment.address + segment.memorySize)),
  );
  if (pageFloor(Math.min(...segments.map((segment) => segment.address))) !== 0) {
    throw LoadError.unsupported(file, 'its first PT_LOAD does not start at address 0');
  }

  // One guard page after each library keeps neighbours from running into each other.
  const offset = reserve(state, file, span + PAGE_SIZE);
  const pages = new Uint8Array(span);
  const executable: [number, number][] = [];
  const others: [number, number][] = [];
  for (const segment of segments) {
    const start = pageFloor(segment.address);
    const end = pageCeil(segment.address + segment.memorySize);
    const from = segment.fileOffset - (segment.address - start);
    pages.set(bytes.subarray(from, segment.fileOffset + segment.fileSize), start);
    (segment.flags & PF_X ? executable : others).push([start, end]);
  }
  // Each page gets one protection: code must not share a page with data.
  for (const [start, end] of executable) {
    if (others.some(([otherStart, otherEnd]) => start < otherEnd && otherStart < end)) {
      throw LoadError.unsupported(file, 'an executable segment shares a page with another segment');
    }
  }

  const exports = new Map<string, DynamicSymbol>();
  for (const symbol of dynamic.symbols) {
    const visible = symbol.visibility === STV_DEFAULT || symbol.visibility === STV_PROTECTED;
    if (symbol.section !== 0 && symbol.binding !== STB_LOCAL && visible && symbol.name)
      exports.set(symbol.name, symbol);
  }
  const base = state.imageBase + offset;
  const library: LoadedLibrary = {
    path: file,
    soname: dynamic.soname,
    base,
    offset,
    size: span,
    dynamic,
    exports,
    tlsModule: 0,
    tlsBlock: 0,
    loadMs: 0,
  };
  return { library, image, bytes, started, pages, executable };
}

/** Finds a DT_NEEDED library next to the one that needs it, then in the system directories. */
function locate(needed: string, wantedBy: string): string {
  if (needed.includes('/')) return needed;
  const searched = [path.dirname(wantedBy), ...SEARCH_PATH];
  for (const dir of searched) {
    const candidate = path.join(dir, needed);
    if (fs.existsSync(candidate)) return candidate;
  }
  throw LoadError.notFound(wantedBy, needed, searched);
}

/** Looks a symbol up in load order: the runtime first, then every library in the domain. */
function lookup(
  scope: readonly LoadedLibrary[],
  name: string,
): { library: LoadedLibrary; symbol: DynamicSymbol } | null {
  for (const library of scope) {
    const symbol = library.exports.get(name);
    if (symbol && symbol.section !== 0) return { library, symbol };
  }
  return null;
}

function write64(pages: Uint8Array, at: number, value: bigint, file: string): void {
  if (at < 0 || at + 8 > pages.length)
    throw LoadError.malformed(
      file,
      `a relocation writes outside the library (0x${at.toString(16)})`,
    );
  new DataView(pages.buffer, pages.byteOffset).setBigUint64(at, BigInt.asUintN(64, value), true);
}

/** Applies one library's relocations to its host pages; records imports nothing provides. */
function relocate(
  pending: Pending,
  scope: readonly LoadedLibrary[],
  missing: { symbol: string; library: string }[],
): void {
  const { library, pages, executable } = pending;
  for (const relocation of library.dynamic.relocations) {
    if (relocation.type === R.NONE) continue;
    if (
      executable.some(([start, end]) => relocation.offset < end && relocation.offset + 8 > start)
    ) {
      throw LoadError.unsupported(
        library.path,
        `a relocation at 0x${relocation.offset.toString(16)} would write to code`,
      );
    }

    let target: { library: LoadedLibrary; symbol: DynamicSymbol } | null = null;
    if (relocation.symbol !== 0) {
      const symbol = library.dynamic.symbols[relocation.symbol];
      target = symbol.binding === STB_LOCAL ? { library, symbol } : lookup(scope, symbol.name);
      if (!target && symbol.section !== 0) target = { library, symbol };
      if (!target && symbol.binding !== STB_WEAK) {
        missing.push({ symbol: symbol.name, library: library.path });
        continue;
      }
    }
    const address = target ? BigInt(target.library.base + target.symbol.value) : 0n;

    let value: bigint;
    switch (relocation.type) {
      case R.RELATIVE:
        value = BigInt(library.base) + relocation.addend;
        break;
      case R.X64:
        value = address + relocation.addend;
        break;
      case R.GLOB_DAT:
      case R.JUMP_SLOT:
        value = address;
        break;
      case R.DTPMOD64:
        value = BigInt((target?.library ?? library).tlsModule);
        break;
      case R.DTPOFF64:
        value = BigInt(target?.symbol.value ?? 0) + relocation.addend;
        break;
      default:
        throw LoadError.unsupported(
          library.path,
          `relocation type ${relocation.type} at 0x${relocation.offset.toString(16)} ` +
            '(supported: RELATIVE, 64, GLOB_DAT, JUMP_SLOT, DTPMOD64, DTPOFF64)',
        );
    }
    write64(pages, relocation.offset, value, library.path);
  }
}

/** Gives a library with PT_TLS its module id and block, and enters it in the domain's DTV. */
function placeTls(state: ImageState, domain: Domain, pending: Pending): void {
  const tls = pending.library.dynamic.tls;
  if (!tls || tls.memorySize === 0) return;
  if (state.tlsModules + 1 >= DTV_SLOTS)
    throw LoadError.unsupported(
      pending.library.path,
      `more than ${DTV_SLOTS - 1} TLS modules in one domain`,
    );
  const offset = reserve(
    state,
    pending.library.path,
    pageCeil(tls.memorySize),
    Math.max(PAGE_SIZE, tls.align),
  );
  protectDomainPages(domain, offset, pageCeil(tls.memorySize), Protection.readWrite);
  if (tls.fileSize > 0) {
    copyIntoDomain(
      domain,
      offset,
      pending.bytes.subarray(tls.fileOffset, tls.fileOffset + tls.fileSize),
    );
  }

  pending.library.tlsModule = ++state.tlsModules;
  pending.library.tlsBlock = state.imageBase + offset;
  const entries = new DataView(new ArrayBuffer(16));
  entries.setBigUint64(0, BigInt(state.tlsModules), true);
  copyIntoDomain(domain, state.dtvOffset, new Uint8Array(entries.buffer, 0, 8));
  entries.setBigUint64(8, BigInt(pending.library.tlsBlock), true);
  copyIntoDomain(
    domain,
    state.dtvOffset + 8 * pending.library.tlsModule,
    new Uint8Array(entries.buffer, 8, 8),
  );
}

/** Copies a library's pages in and gives every segment its final protection. */
function map(domain: Domain, pending: Pending): void {
  const { library, pages } = pending;
  protectDomainPages(domain, library.offset, library.size, Protection.readWrite);
  copyIntoDomain(domain, library.offset, pages);

  for (const segment of loads(library.dynamic)) {
    const start = pageFloor(segment.address);
    const length = pageCeil(segment.address + segment.memorySize) - start;
    const protection =
      segment.flags & PF_X
        ? Protection.readExecute
        : segment.flags & PF_W
          ? Protection.readWrite
          : Protection.read;
    protectDomainPages(domain, library.offset + start, length, protection);
  }
  const relro = library.dynamic.relro;
  if (relro && relro.memorySize > 0) {
    const start = pageFloor(relro.address);
    const end = pageFloor(relro.address + relro.memorySize);
    if (end > start)
      protectDomainPages(domain, library.offset + start, end - start, Protection.read);
  }
}

function readArray(pages: Uint8Array, address: number, count: number): number[] {
  const view = new DataView(pages.buffer, pages.byteOffset);
  return Array.from({ length: count }, (_, i) => Number(view.getBigUint64(address + i * 8, true)));
}

/** Runs DT_INIT, then DT_INIT_ARRAY, inside the domain. A fault there is a SandboxFault. */
function initialise(domain: Domain, pending: Pending): void {
  const { library, pages } = pending;
  const entries: number[] = [];
  if (library.dynamic.init !== null) entries.push(library.base + library.dynamic.init);
  const array = library.dynamic.initArray;
  if (array)
    entries.push(
      ...readArray(pages, array.address, array.count).filter(
        (entry) => entry !== 0 && entry !== -1,
      ),
    );
  for (const entry of entries) callDomainFunction(domain, entry);
}

function imageState(domain: Domain): ImageState {
  let state = images.get(domain);
  if (state) return state;
  const layout = domainLayout(domain);
  state = {
    next: 0,
    imageBase: layout.imageBase,
    imageSize: layout.imageSize,
    libraries: [],
    dtvOffset: 0,
    tlsModules: 0,
  };
  state.dtvOffset = reserve(state, runtimePath, PAGE_SIZE);
  protectDomainPages(domain, state.dtvOffset, PAGE_SIZE, Protection.readWrite);
  setThreadVector(domain, state.dtvOffset);
  images.set(domain, state);
  return state;
}

/**
 * Runs DT_FINI_ARRAY (last entry first) and DT_FINI of every library in the
 * domain, newest library first, as the domain closes. A destructor that
 * faults poisons the domain and stops the rest: closing goes on regardless.
 */
export function finaliseLibraries(domain: Domain): void {
  const state = images.get(domain);
  if (!state) return;
  const { imageBase } = state;
  for (const library of [...state.libraries].reverse()) {
    const entries: number[] = [];
    const array = library.dynamic.finiArray;
    if (array) {
      const bytes = copyFromDomain(
        domain,
        library.base - imageBase + array.address,
        array.count * 8,
      );
      entries.push(
        ...readArray(bytes, 0, array.count)
          .reverse()
          .filter((entry) => entry !== 0 && entry !== -1),
      );
    }
    if (library.dynamic.fini !== null) entries.push(library.base + library.dynamic.fini);
    try {
      for (const entry of entries) callDomainFunction(domain, entry);
    } catch {
      return;
    }
  }
}

/** Reserves `length` bytes of read-write image for keycell's own use; returns the offset. */
export function reserveDomainMemory(domain: Domain, length: number, purpose: string): number {
  const state = imageState(domain);
  const offset = reserve(state, purpose, pageCeil(length));
  protectDomainPages(domain, offset, pageCeil(length), Protection.readWrite);
  return offset;
}

/** Fills the runtime's block: magic, version and the heap it serves malloc from. */
function prepareRuntime(domain: Domain, state: ImageState, pending: Pending): void {
  const block = pending.library.exports.get('keycell_runtime');
  if (!block || block.size < 48)
    throw LoadError.malformed(runtimePath, 'the runtime lacks its keycell_runtime block');
  const heap = reserve(state, runtimePath, HEAP_SIZE);
  protectDomainPages(domain, heap, HEAP_SIZE, Protection.readWrite);
  const view = new DataView(pending.pages.buffer, pending.pages.byteOffset);
  view.setBigUint64(block.value, KEYCELL_RUNTIME_MAGIC, true);
  view.setUint32(block.value + 8, KEYCELL_RUNTIME_VERSION, true);
  view.setBigUint64(block.value + 16, BigInt(domainSyscallGate(domain)), true);
  view.setBigUint64(block.value + 24, BigInt(state.imageBase + heap), true);
  view.setBigUint64(block.value + 32, BigInt(HEAP_SIZE), true);
}

/**
 * Loads `file` and the libraries it needs into `domain` and returns it
 * linked and initialised. The runtime is loaded first, once per domain.
 * Throws ScanError, LoadError or SandboxFault (a constructor faulted).
 */
export async function loadLibrary(domain: Domain, file: string): Promise<LoadedLibrary> {
  const state = imageState(domain);
  const known = (candidate: string) =>
    state.libraries.find(
      (library) => library.path === candidate || library.soname === path.basename(candidate),
    );

  const pending: Pending[] = [];
  if (state.libraries.length === 0) pending.push(prepare(state, runtimePath));
  const queue = [path.resolve(file)];
  while (queue.length) {
    const next = queue.shift()!;
    if (known(next) || pending.some((entry) => entry.library.path === next)) continue;
    const entry = prepare(state, next);
    pending.push(entry);
    for (const needed of entry.library.dynamic.needed) {
      if (!PROVIDED_BY_RUNTIME.has(needed) && !known(needed)) queue.push(locate(needed, next));
    }
  }

  for (const entry of pending) {
    await assertNoFindings(
      entry.executable.map(([start, end]) => ({
        bytes: entry.pages.subarray(start, end),
        address: entry.library.base + start,
      })),
      { file: entry.library.path, codeMap: elfCodeMap(entry.image, entry.library.base) },
    );
  }

  for (const entry of pending) placeTls(state, domain, entry);
  if (pending[0]?.library.path === runtimePath) prepareRuntime(domain, state, pending[0]);
  const scope = [...state.libraries, ...pending.map((entry) => entry.library)];
  const missing: { symbol: string; library: string }[] = [];
  for (const entry of pending) relocate(entry, scope, missing);
  if (missing.length) {
    const unique = [
      ...new Map(missing.map((entry) => [`${entry.library}\0${entry.symbol}`, entry])).values(),
    ];
    unique.sort((a, b) => a.library.localeCompare(b.library) || a.symbol.localeCompare(b.symbol));
    throw LoadError.missingSymbols(path.resolve(file), unique);
  }

  for (const entry of pending) map(domain, entry);
  state.libraries.push(...pending.map((entry) => entry.library));
  for (const entry of [...pending].reverse()) {
    initialise(domain, entry);
    entry.library.loadMs = performance.now() - entry.started;
  }
  return known(path.resolve(file))!;
}
