/**
 * Marshalling for calls into a domain: each parameter of a C signature gets a
 * writer, compiled once when `lib.func()` runs, that checks its JavaScript
 * value and stores the register value in the domain's call area; the result
 * gets a reader that converts RAX or XMM0 back.
 *
 * Integers that are numbers travel as two 32-bit halves, so the common call
 * converts nothing to BigInt; bigint arguments and 64-bit results beyond
 * 2^53 take the BigInt path. Bytes behind a pointer argument are copied into
 * the domain's scratch area through a view of it (no addon call), and copied
 * back after the call unless the pointer is `const`.
 */
import { bindDomainEntry, CallSlot, type CallArea, type Domain } from './domain.js';
import { DomainClosedError } from './errors.js';
import type { CType, Signature } from './loader/signature.js';
import { DomainPointer } from './pointer.js';

/** Bytes of domain memory each domain keeps for copying arguments in and out. */
export const SCRATCH_SIZE = 1 << 20;

/** A domain's argument scratch area: its domain address and a view of its bytes. */
export interface ScratchArea {
  address: number;
  bytes: Uint8Array;
}

/** A JavaScript function that calls a function inside a domain. */
export type DomainFunction = ((...args: unknown[]) => unknown) & { readonly signature: Signature };

/** Views from `domain.alloc()`, by their ArrayBuffer: their domain and address. */
const domainViews = new WeakMap<ArrayBufferLike, { domain: Domain; address: number }>();

/** Records that `bytes` view domain memory at `address`, so pointers to them pass as is. */
export function recordDomainView(bytes: Uint8Array, domain: Domain, address: number): void {
  domainViews.set(bytes.buffer, { domain, address });
}

type IntType = Extract<CType, { kind: 'int' }>;
type PointerType = Extract<CType, { kind: 'pointer' }>;

const TWO_TO_32 = 4294967296;

/**
 * Bytes placed in the scratch area during a call, and what to copy back
 * after it. Each function keeps one and resets it per call: domain calls
 * never nest, so no two calls use it at once.
 */
class CallScratch {
  private used = 0;
  /** Non-const pointer arguments of this call: `copies` entries of targets and starts. */
  private copies = 0;
  private readonly targets: (Uint8Array | null)[] = [];
  private readonly starts: number[] = [];

  constructor(
    private readonly area: ScratchArea,
    private readonly domain: Domain,
  ) {}

  /** Starts a call; throws DomainClosedError once the domain closed (the view is detached). */
  reset(): void {
    if (this.area.bytes.byteLength === 0) throw new DomainClosedError(this.domain.id);
    this.used = 0;
    this.copies = 0;
  }

  /** Copies `view` in and returns its domain address; `copyBack` copies it out after the call. */
  place(view: ArrayBufferView, where: string, copyBack: boolean): number {
    const bytes =
      view instanceof Uint8Array
        ? view
        : new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
    const start = this.reserve(Math.max(bytes.length, 1), where);
    this.area.bytes.set(bytes, start);
    if (copyBack) {
      this.targets[this.copies] = bytes;
      this.starts[this.copies] = start;
      this.copies++;
    }
    return this.area.address + start;
  }

  /** Copies `text` in as NUL-terminated UTF-8 and returns its domain address. */
  placeString(text: string, where: string): number {
    const length = Buffer.byteLength(text, 'utf8');
    const start = this.reserve(length + 1, where);
    const { bytes } = this.area;
    Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).write(text, start, 'utf8');
    bytes[start + length] = 0;
    return this.area.address + start;
  }

  /**
   * Copies the bytes of non-const pointer arguments back to their JavaScript
   * owners, and lets go of those owners.
   */
  copyBack(): void {
    for (let i = 0; i < this.copies; i++) {
      const target = this.targets[i]!;
      const start = this.starts[i]!;
      target.set(this.area.bytes.subarray(start, start + target.length));
      this.targets[i] = null;
    }
  }

  private reserve(size: number, where: string): number {
    const start = Math.ceil(this.used / 16) * 16;
    if (start + size > SCRATCH_SIZE) {
      throw new RangeError(
        `${where}: ${size} bytes do not fit the ${SCRATCH_SIZE}-byte argument area; ` +
          'pass a buffer from domain.alloc() instead',
      );
    }
    this.used = start + size;
    return start;
  }
}

/** Stores one argument in the call area; `scratch` exists when the signature has pointers. */
type ArgumentWriter = (value: unknown, scratch: CallScratch | null) => void;

function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return 'an array';
  return typeof value === 'object'
    ? ((value as object).constructor?.name ?? 'an object')
    : typeof value;
}

/** Stores the integer `value` (a safe or exactly representable number) in slot `slot`. */
function storeNumber(area: CallArea, slot: number, value: number): void {
  // ToUint32 takes the value modulo 2^32, which is the low half for negative values too.
  area.words[slot * 2] = value >>> 0;
  area.words[slot * 2 + 1] = Math.floor(value / TWO_TO_32) >>> 0;
}

/** A writer for an integer parameter that checks the value fits its C type. */
function integerWriter(type: IntType, where: string, area: CallArea, slot: number): ArgumentWriter {
  const bits = BigInt(type.bytes * 8);
  const lowBig = type.signed ? -(1n << (bits - 1n)) : 0n;
  const highBig = type.signed ? (1n << (bits - 1n)) - 1n : (1n << bits) - 1n;
  const low = Number(lowBig);
  const high = Number(highBig);
  return (value) => {
    if (typeof value === 'number' && Number.isInteger(value)) {
      // 64-bit bounds round up as numbers: the BigInt check below settles those.
      if (value >= low && value <= high && (type.bytes < 8 || value < high)) {
        storeNumber(area, slot, value);
        return;
      }
      value = BigInt(value);
    }
    if (typeof value !== 'bigint') {
      throw new TypeError(`${where} must be an integer (number or bigint), not ${describe(value)}`);
    }
    if (value < lowBig || value > highBig) {
      throw new RangeError(`${where} is out of range for its C type: ${value}`);
    }
    area.ints[slot] = BigInt.asUintN(64, value);
  };
}

/** A writer for a pointer parameter: see the file comment for what each value becomes. */
function pointerWriter(
  type: PointerType,
  where: string,
  domain: Domain,
  area: CallArea,
  slot: number,
): ArgumentWriter {
  const isCharPointer = type.to.kind === 'int' && type.to.bytes === 1;
  const copyBack = !type.const;
  // Most frequent first: bytes, then NULL, strings and domain pointers.
  return (value, scratch) => {
    if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer) {
      const view = ArrayBuffer.isView(value) ? value : new Uint8Array(value);
      const owner = domainViews.get(view.buffer);
      if (owner === undefined) {
        storeNumber(area, slot, scratch!.place(view, where, copyBack));
      } else if (owner.domain === domain) {
        storeNumber(area, slot, owner.address + view.byteOffset);
      } else {
        throw new TypeError(`${where} is memory of another domain (${owner.domain.id})`);
      }
    } else if (value === null || value === undefined) {
      storeNumber(area, slot, 0);
    } else if (typeof value === 'string') {
      if (!isCharPointer) throw new TypeError(`${where} takes a string only for char pointers`);
      storeNumber(area, slot, scratch!.placeString(value, where));
    } else if (value instanceof DomainPointer) {
      if (value.domain !== domain)
        throw new TypeError(`${where} points into another domain (${value.domain.id})`);
      area.ints[slot] = value.address;
    } else {
      throw new TypeError(
        `${where} must be a Buffer, typed array, ArrayBuffer, string, DomainPointer or null, ` +
          `not ${describe(value)}`,
      );
    }
  };
}

/** Compiles the writer of each parameter, assigning integer and double slots in order. */
function argumentWriters(signature: Signature, domain: Domain, area: CallArea): ArgumentWriter[] {
  let ints = 0;
  let doubles = 0;
  return signature.parameters.map(({ name, type }, index) => {
    const where = `${signature.name}() argument ${index + 1}${name ? ` (${name})` : ''}`;
    if (type.kind === 'double') {
      const slot = CallSlot.floatArgs + doubles++;
      return (value) => {
        if (typeof value !== 'number')
          throw new TypeError(`${where} must be a number, not ${describe(value)}`);
        area.floats[slot] = value;
      };
    }
    const slot = CallSlot.intArgs + ints++;
    switch (type.kind) {
      case 'bool':
        return (value) => {
          if (typeof value !== 'boolean')
            throw new TypeError(`${where} must be a boolean, not ${describe(value)}`);
          storeNumber(area, slot, value ? 1 : 0);
        };
      case 'int':
        return integerWriter(type, where, area, slot);
      case 'pointer':
        return pointerWriter(type, where, domain, area, slot);
      default:
        throw new TypeError(`${where}: a parameter cannot be void`);
    }
  });
}

/** Returns the reader that converts RAX or XMM0 to the C result type. */
function resultReader(type: CType, domain: Domain, area: CallArea): () => unknown {
  const low = CallSlot.result * 2;
  const { words } = area;
  switch (type.kind) {
    case 'void':
      return () => undefined;
    case 'bool':
      return () => (words[low]! & 0xff) !== 0;
    case 'double':
      return () => area.floats[CallSlot.floatResult];
    case 'pointer':
      return () => {
        const address = area.ints[CallSlot.result]!;
        return address === 0n ? null : new DomainPointer(domain, address);
      };
    case 'int':
      return integerReader(type, area);
  }
}

/** Integer results: numbers, or bigints for 64-bit values beyond Number.MAX_SAFE_INTEGER. */
function integerReader(type: IntType, area: CallArea): () => number | bigint {
  const low = CallSlot.result * 2;
  const { words, signedWords } = area;
  const shift = 32 - type.bytes * 8;
  if (type.bytes === 4) return type.signed ? () => signedWords[low]! : () => words[low]!;
  if (type.bytes < 4) {
    return type.signed
      ? () => (signedWords[low]! << shift) >> shift
      : () => (words[low]! << shift) >>> shift;
  }
  return () => {
    const high = type.signed ? signedWords[low + 1]! : words[low + 1]!;
    const value = high * TWO_TO_32 + words[low]!;
    if (Number.isSafeInteger(value)) return value;
    const exact = area.ints[CallSlot.result]!;
    return type.signed ? BigInt.asIntN(64, exact) : exact;
  };
}

/**
 * Returns the JavaScript function for `signature`, calling the domain
 * function at `entry`. The gate entry is bound once, here.
 */
export function makeDomainFunction(
  domain: Domain,
  scratchArea: ScratchArea,
  signature: Signature,
  entry: number,
): DomainFunction {
  const { area, call: crossGate } = bindDomainEntry(domain, entry);
  const writers = argumentWriters(signature, domain, area);
  const readResult = resultReader(signature.result, domain, area);
  const count = writers.length;
  const usesScratch = signature.parameters.some(({ type }) => type.kind === 'pointer');
  const scratch = usesScratch ? new CallScratch(scratchArea, domain) : null;

  const call = (...args: unknown[]): unknown => {
    if (args.length !== count) {
      throw new TypeError(
        `${signature.name}() takes ${count} argument(s), got ${args.length}: ${signature.text}`,
      );
    }
    scratch?.reset();
    for (let i = 0; i < count; i++) writers[i]!(args[i], scratch);
    crossGate();
    scratch?.copyBack();
    return readResult();
  };
  return Object.assign(call, { signature });
}
