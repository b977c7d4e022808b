/**
 * Libraries loaded into a domain, and calls into them from JavaScript.
 *
 * `lib.func()` takes a C signature and returns a JavaScript function. Each
 * call marshals its arguments across the boundary: integers and doubles go in
 * registers; a Buffer or typed array for a pointer is copied into domain
 * memory for the call and copied back afterwards unless the pointer is
 * `const`; a string for `const char *` is passed as a NUL-terminated UTF-8
 * copy; `null` is NULL; a DomainPointer or a DomainBuffer's bytes pass their
 * domain address without copying. A returned pointer is a DomainPointer.
 */
import { callDomainFunction, type Domain } from './domain.js';
import { copyFromDomain, copyIntoDomain, domainLayout, viewDomainMemory } from './domain-memory.js';
import { LoadError } from './errors.js';
import {
  loadLibrary,
  reserveDomainMemory,
  runtimePath,
  type LoadedLibrary,
} from './loader/load.js';
import { parseSignature, signatureOf, type CType, type Signature } from './loader/signature.js';
import { DomainPointer, type DomainBuffer } from './pointer.js';

/** Bytes of domain memory each domain keeps for copying arguments in and out. */
const SCRATCH_SIZE = 1 << 20;
const STT_FUNC = 2;

/** Per-domain state of the call path: the scratch area and the runtime's allocator. */
interface CallState {
  scratchOffset: number;
  scratchAddress: number;
  runtime: LoadedLibrary;
}

const callStates = new WeakMap<Domain, CallState>();
/** Views from `alloc()`, by their ArrayBuffer: their domain and address. */
const domainViews = new WeakMap<ArrayBufferLike, { domain: Domain; address: number }>();

async function callState(domain: Domain): Promise<CallState> {
  let state = callStates.get(domain);
  if (state) return state;
  const runtime = await loadLibrary(domain, runtimePath);
  const scratchOffset = reserveDomainMemory(domain, SCRATCH_SIZE, 'argument scratch area');
  state = {
    scratchOffset,
    scratchAddress: domainLayout(domain).imageBase + scratchOffset,
    runtime,
  };
  callStates.set(domain, state);
  return state;
}

function runtimeFunction(state: CallState, name: string): number {
  const symbol = state.runtime.exports.get(name);
  if (!symbol) throw LoadError.malformed(runtimePath, `the runtime does not export ${name}`);
  return state.runtime.base + symbol.value;
}

/** A JavaScript function that calls a function inside a domain. */
export type DomainFunction = ((...args: unknown[]) => unknown) & { readonly signature: Signature };

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object'
    ? ((value as object).constructor?.name ?? 'an object')
    : typeof value;
}

/** Converts an integer argument to its register value, checking it fits the C type. */
function integerArgument(
  value: unknown,
  type: Extract<CType, { kind: 'int' }>,
  where: string,
): bigint {
  let number: bigint;
  if (typeof value === 'bigint') number = value;
  else if (typeof value === 'number' && Number.isInteger(value)) number = BigInt(value);
  else
    throw new TypeError(`${where} must be an integer (number or bigint), not ${describe(value)}`);
  const bits = BigInt(type.bytes * 8);
  const low = type.signed ? -(1n << (bits - 1n)) : 0n;
  const high = type.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  if (number < low || number > high)
    throw new RangeError(`${where} is out of range for its C type: ${number}`);
  return number;
}

/** Converts RAX to the C result type. 64-bit values that fit in a number come back as numbers. */
function integerResult(value: bigint, type: Extract<CType, { kind: 'int' }>): number | bigint {
  const bits = type.bytes * 8;
  const exact = type.signed ? BigInt.asIntN(bits, value) : BigInt.asUintN(bits, value);
  return exact >= BigInt(Number.MIN_SAFE_INTEGER) && exact <= BigInt(Number.MAX_SAFE_INTEGER)
    ? Number(exact)
    : exact;
}

interface CopyBack {
  target: Uint8Array;
  address: number;
}

/** Bump allocation in the scratch area for the duration of one call. */
class Scratch {
  private used = 0;

  constructor(private readonly state: CallState) {}

  place(bytes: Uint8Array, domain: Domain, where: string): number {
    const size = Math.max(bytes.length, 1);
    const start = Math.ceil(this.used / 16) * 16;
    if (start + size > SCRATCH_SIZE) {
      throw new RangeError(
        `${where}: ${bytes.length} bytes do not fit the ${SCRATCH_SIZE}-byte argument area; ` +
          'pass a buffer from domain.alloc() instead',
      );
    }
    this.used = start + size;
    if (bytes.length) copyIntoDomain(domain, this.state.scratchOffset + start, bytes);
    return this.state.scratchAddress + start;
  }
}

function asBytes(value: ArrayBuffer | ArrayBufferView): Uint8Array {
  return value instanceof ArrayBuffer
    ? new Uint8Array(value)
    : new Uint8Array(value.buffer, value.byteOffset, value.byteLength);
}

function pointerArgument(
  value: unknown,
  type: Extract<CType, { kind: 'pointer' }>,
  where: string,
  domain: Domain,
  scratch: Scratch,
  copyBacks: CopyBack[],
): bigint {
  if (value === null || value === undefined) return 0n;
  if (value instanceof DomainPointer) {
    if (value.domain !== domain)
      throw new TypeError(`${where} points into another domain (${value.domain.id})`);
    return value.address;
  }
  if (typeof value === 'string') {
    if (type.to.kind !== 'int' || type.to.bytes !== 1)
      throw new TypeError(`${where} takes a string only for char pointers`);
    return BigInt(scratch.place(Buffer.from(`${value}\0`, 'utf8'), domain, where));
  }
  if (value instanceof ArrayBuffer || ArrayBuffer.isView(value)) {
    const bytes = asBytes(value);
    const view = domainViews.get(bytes.buffer);
    if (view) {
      if (view.domain !== domain)
        throw new TypeError(`${where} is memory of another domain (${view.domain.id})`);
      return BigInt(view.address + bytes.byteOffset);
    }
    const address = scratch.place(bytes, domain, where);
    if (!type.const) copyBacks.push({ target: bytes, address });
    return BigInt(address);
  }
  throw new TypeError(
    `${where} must be a Buffer, typed array, ArrayBuffer, string, DomainPointer or null, ` +
      `not ${describe(value)}`,
  );
}

function makeFunction(
  library: Library,
  state: CallState,
  signature: Signature,
  entry: number,
): DomainFunction {
  const { domain } = library;
  const { imageBase } = domainLayout(domain);
  const call = (...args: unknown[]): unknown => {
    if (args.length !== signature.parameters.length) {
      throw new TypeError(
        `${signature.name}() takes ${signature.parameters.length} argument(s), ` +
          `got ${args.length}: ${signature.text}`,
      );
    }
    const scratch = new Scratch(state);
    const copyBacks: CopyBack[] = [];
    const ints: bigint[] = [];
    const doubles: number[] = [];
    signature.parameters.forEach((parameter, index) => {
      const label = parameter.name ? ` (${parameter.name})` : '';
      const where = `${signature.name}() argument ${index + 1}${label}`;
      const value = args[index];
      const type = parameter.type;
      if (type.kind === 'double') {
        if (typeof value !== 'number')
          throw new TypeError(`${where} must be a number, not ${describe(value)}`);
        doubles.push(value);
      } else if (type.kind === 'bool') {
        if (typeof value !== 'boolean')
          throw new TypeError(`${where} must be a boolean, not ${describe(value)}`);
        ints.push(value ? 1n : 0n);
      } else if (type.kind === 'int') {
        ints.push(integerArgument(value, type, where));
      } else if (type.kind === 'pointer') {
        ints.push(pointerArgument(value, type, where, domain, scratch, copyBacks));
      }
    });

    const result = callDomainFunction(domain, entry, ints, doubles);
    for (const copy of copyBacks) {
      copy.target.set(copyFromDomain(domain, copy.address - imageBase, copy.target.length));
    }
    switch (signature.result.kind) {
      case 'void':
        return undefined;
      case 'bool':
        return (result.value & 0xffn) !== 0n;
      case 'double':
        return result.float;
      case 'int':
        return integerResult(result.value, signature.result);
      case 'pointer':
        return result.value === 0n ? null : new DomainPointer(domain, result.value);
    }
  };
  return Object.assign(call, { signature });
}

/** A shared library linked into a domain. */
export class Library {
  private constructor(
    readonly domain: Domain,
    private readonly loaded: LoadedLibrary,
    private readonly state: CallState,
  ) {}

  /** Loads `file` and its dependencies into `domain`; see Domain#load. */
  static async load(domain: Domain, file: string): Promise<Library> {
    if (typeof file !== 'string' || file === '')
      throw new TypeError('load(path): path must be a non-empty string');
    const state = await callState(domain);
    return new Library(domain, await loadLibrary(domain, file), state);
  }

  /** The file the library was loaded from. */
  get path(): string {
    return this.loaded.path;
  }

  /** Milliseconds the load took, from reading the file to running constructors. */
  get loadMs(): number {
    return this.loaded.loadMs;
  }

  /** The domain address of an exported symbol. */
  symbol(name: string): DomainPointer {
    const symbol = this.loaded.exports.get(name);
    if (!symbol) throw LoadError.symbolNotFound(this.loaded.path, name);
    return new DomainPointer(this.domain, this.loaded.base + symbol.value);
  }

  /**
   * Returns a function calling `name` inside the domain:
   * `func('int f(const uint8_t *in, size_t len)')` or
   * `func('f', 'int', ['const uint8_t *', 'size_t'])`.
   */
  func(signature: string): DomainFunction;
  func(name: string, result: string, parameters: readonly string[]): DomainFunction;
  func(first: string, result?: string, parameters?: readonly string[]): DomainFunction {
    const signature =
      result === undefined ? parseSignature(first) : signatureOf(first, result, parameters ?? []);
    const symbol = this.loaded.exports.get(signature.name);
    if (!symbol) throw LoadError.symbolNotFound(this.loaded.path, signature.name);
    if (symbol.type !== STT_FUNC)
      throw LoadError.symbolNotFound(this.loaded.path, signature.name, 'it is not a function');
    return makeFunction(this, this.state, signature, this.loaded.base + symbol.value);
  }
}

/**
 * Allocates `size` bytes from the domain's heap (the runtime's malloc) and
 * returns them with a zero-copy view; see Domain#alloc.
 */
export async function allocate(domain: Domain, size: number): Promise<DomainBuffer> {
  if (!Number.isSafeInteger(size) || size <= 0)
    throw new TypeError('alloc(size): size must be a positive integer');
  const state = await callState(domain);
  const address = Number(
    callDomainFunction(domain, runtimeFunction(state, 'malloc'), [size]).value,
  );
  if (address === 0) throw new RangeError(`alloc(${size}): the domain's heap has no room left`);
  const { imageBase } = domainLayout(domain);
  const bytes = new Uint8Array(viewDomainMemory(domain, address - imageBase, size));
  domainViews.set(bytes.buffer, { domain, address });
  let freed = false;
  return {
    pointer: new DomainPointer(domain, address),
    bytes,
    free: () => {
      if (freed) return;
      freed = true;
      callDomainFunction(domain, runtimeFunction(state, 'free'), [address]);
    },
  };
}
