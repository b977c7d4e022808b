/**
 * Libraries loaded into a domain, and calls into them from JavaScript.
 *
 * `lib.func()` takes a C signature and returns a JavaScript function that
 * marshals its arguments across the boundary (src/marshal.ts): integers and
 * doubles go in registers; a Buffer or typed array for a pointer is copied
 * into domain memory for the call and copied back afterwards unless the
 * pointer is `const`; a string for `const char *` is passed as a
 * NUL-terminated UTF-8 copy; `null` is NULL; a DomainPointer or a
 * DomainBuffer's bytes pass their domain address without copying. A returned
 * pointer is a DomainPointer.
 */
import { callDomainFunction, type Domain } from './domain.js';
import { domainLayout, viewDomainMemory } from './domain-memory.js';
import { LoadError } from './errors.js';
import {
  loadLibrary,
  reserveDomainMemory,
  runtimePath,
  type LoadedLibrary,
} from './loader/load.js';
import { parseSignature, signatureOf } from './loader/signature.js';
import {
  makeDomainFunction,
  recordDomainView,
  SCRATCH_SIZE,
  type DomainFunction,
  type ScratchArea,
} from './marshal.js';
import { DomainPointer, type DomainBuffer } from './pointer.js';

export type { DomainFunction } from './marshal.js';

const STT_FUNC = 2;

/** Per-domain state of the call path: the scratch area and the runtime's allocator. */
interface CallState {
  scratch: ScratchArea;
  runtime: LoadedLibrary;
}

const callStates = new WeakMap<Domain, CallState>();

async function callState(domain: Domain): Promise<CallState> {
  let state = callStates.get(domain);
  if (state) return state;
  const runtime = await loadLibrary(domain, runtimePath);
  const scratchOffset = reserveDomainMemory(domain, SCRATCH_SIZE, 'argument scratch area');
  state = {
    scratch: {
      address: domainLayout(domain).imageBase + scratchOffset,
      bytes: new Uint8Array(viewDomainMemory(domain, scratchOffset, SCRATCH_SIZE)),
    },
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
    return makeDomainFunction(
      this.domain,
      this.state.scratch,
      signature,
      this.loaded.base + symbol.value,
    );
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
  recordDomainView(bytes, domain, address);
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
