/**
 * Domains: each owns a protection key, memory tagged with it, a stack and a
 * thread pointer, and is entered only through the call gates of the addon.
 *
 * TODO(keycell): domain code can still make any system call (mprotect,
 * arch_prctl, rt_sigreturn...); syscall policies with Syscall User Dispatch
 * are not built yet, so isolation holds only against code that makes none.
 * A domain is bound to the thread that created it.
 *
 * ```ts
 * const domain = await Domain.create({ isolation: 'pku' });
 * domain.close();
 * ```
 */
import {
  DomainClosedError,
  DomainMemoryError,
  DomainPoisonedError,
  DomainReentryError,
  IsolationUnavailableError,
  KeycellError,
  PkeysExhaustedError,
  SandboxFault,
} from './errors.js';
import { native, type NativeDomain } from './native.js';

/** `pku`: protection keys isolate the domain. `none`: no protection at all. */
export type Isolation = 'pku' | 'none';

export interface DomainOptions {
  /** Defaults to `pku`. */
  isolation?: Isolation;
}

const OPTION_NAMES = ['isolation'];
const CALL_AREA_INT_ARGS = 0;
const CALL_AREA_FLOAT_ARGS = 6;
const CALL_AREA_RESULT = 12;
const CALL_AREA_FLOAT_RESULT = 13;

let nextDomainId = 1;
let warnedNoIsolation = false;
let releaseScheduled = false;

/** Lets asynchronous signals through once the current macrotask is over. */
function releaseAsyncSignals(): void {
  releaseScheduled = false;
  native().domain.releaseAsyncSignals();
}

/** Returns `options` checked, with defaults filled in; throws TypeError otherwise. */
function checkOptions(options: unknown): Required<DomainOptions> {
  if (options === undefined) return { isolation: 'pku' };
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError('Domain.create(options): options must be an object');
  }
  for (const name of Object.keys(options)) {
    if (!OPTION_NAMES.includes(name)) {
      throw new TypeError(
        `Domain.create(options): unknown option '${name}' (known: ${OPTION_NAMES.join(', ')})`,
      );
    }
  }
  const isolation = (options as DomainOptions).isolation ?? 'pku';
  if (isolation !== 'pku' && isolation !== 'none') {
    throw new TypeError(
      `Domain.create(options): isolation must be 'pku' or 'none', not ${JSON.stringify(isolation)}`,
    );
  }
  return { isolation };
}

/** Turns an error thrown by the addon into keycell's typed error. */
function typedError(error: unknown, domainId: number, isolation: Isolation): unknown {
  const code = (error as { code?: unknown })?.code;
  const message = (error as Error)?.message ?? String(error);
  switch (code) {
    case 'ISOLATION_UNAVAILABLE':
      return new IsolationUnavailableError(isolation, message);
    case 'PKEYS_EXHAUSTED':
      return new PkeysExhaustedError(native().domain.openDomains(), message);
    case 'DOMAIN_CLOSED':
      return new DomainClosedError(domainId);
    case 'DOMAIN_REENTRY':
      return new DomainReentryError(domainId);
    case 'MEMORY_RANGE':
      return new DomainMemoryError(domainId, message);
    case 'WRONG_THREAD':
    case 'BAD_ENTRY':
    case 'SYSTEM':
      return new KeycellError(code, `domain ${domainId}: ${message}`);
    default:
      return error;
  }
}

/** The trusted state behind a Domain, reached only through this module. */
interface DomainState {
  native: NativeDomain | null;
  fault: SandboxFault | null;
  ints: BigUint64Array;
  floats: Float64Array;
}

const states = new WeakMap<Domain, DomainState>();

/** Returns the state of an open domain; throws DomainClosedError once it is closed. */
function openState(domain: Domain): DomainState & { native: NativeDomain } {
  const state = states.get(domain);
  if (!state) throw new TypeError('expected a Domain created by Domain.create');
  if (!state.native) throw new DomainClosedError(domain.id);
  return state as DomainState & { native: NativeDomain };
}

export class Domain {
  /** Unique within the process, for messages and errors. */
  readonly id: number;
  readonly isolation: Isolation;

  private constructor(isolation: Isolation) {
    this.id = nextDomainId++;
    this.isolation = isolation;
    let domain: NativeDomain;
    try {
      domain = new (native().domain.NativeDomain)(isolation);
    } catch (error) {
      throw typedError(error, this.id, isolation);
    }
    const area = domain.callArea();
    states.set(this, {
      native: domain,
      fault: null,
      ints: new BigUint64Array(area),
      floats: new Float64Array(area),
    });
  }

  /** Creates a domain. Throws IsolationUnavailableError or PkeysExhaustedError. */
  static async create(options?: DomainOptions): Promise<Domain> {
    return openDomain(options);
  }

  /** True once `close()` ran. */
  get closed(): boolean {
    return states.get(this)?.native == null;
  }

  /** The fault that poisoned this domain, if any. */
  get fault(): SandboxFault | null {
    return states.get(this)?.fault ?? null;
  }

  /** Releases the domain's key and memory; views over its memory are detached. Idempotent. */
  close(): void {
    const state = states.get(this);
    state?.native?.close();
    if (state) state.native = null;
  }
}

/** Creates a domain synchronously; `Domain.create` is the public form. */
export function openDomain(options?: DomainOptions): Domain {
  const { isolation } = checkOptions(options);
  if (isolation === 'none' && !warnedNoIsolation) {
    warnedNoIsolation = true;
    process.emitWarning(
      "keycell domains created with isolation: 'none' run native code without any " +
        "protection; use isolation: 'pku' on a machine where `keycell doctor` passes",
      { code: 'KEYCELL_NO_ISOLATION' },
    );
  }
  return new (Domain as unknown as new (isolation: Isolation) => Domain)(isolation);
}

/**
 * Runs `fn` on the addon's side of an open domain, turning the addon's coded
 * errors into typed ones. For keycell's own modules (memory, loader).
 */
export function withNativeDomain<T>(domain: Domain, fn: (native: NativeDomain) => T): T {
  const state = openState(domain);
  try {
    return fn(state.native);
  } catch (error) {
    throw typedError(error, domain.id, domain.isolation);
  }
}

/** RAX and XMM0 as a domain function left them. */
export interface DomainCallResult {
  value: bigint;
  float: number;
}

/**
 * Calls the domain function at `entry` (a domain address) through the gate
 * with up to six integer and six double arguments. Throws SandboxFault when
 * the domain faults (the domain is then poisoned), DomainPoisonedError after.
 */
export function callDomainFunction(
  domain: Domain,
  entry: number,
  ints: readonly (number | bigint)[] = [],
  floats: readonly number[] = [],
): DomainCallResult {
  const state = openState(domain);
  if (state.fault) throw new DomainPoisonedError(domain.id, state.fault);
  if (ints.length > 6 || floats.length > 6) {
    throw new TypeError('a domain call takes at most 6 integer and 6 double arguments');
  }
  for (let i = 0; i < 6; i++) {
    state.ints[CALL_AREA_INT_ARGS + i] = BigInt.asUintN(64, BigInt(ints[i] ?? 0));
    state.floats[CALL_AREA_FLOAT_ARGS + i] = floats[i] ?? 0;
  }

  let status: number;
  try {
    status = state.native.call(entry);
  } catch (error) {
    throw typedError(error, domain.id, domain.isolation);
  } finally {
    // Signals are held from the first call of a macrotask until it is over.
    if (!releaseScheduled) {
      releaseScheduled = true;
      setImmediate(releaseAsyncSignals);
    }
  }
  if (status !== 0) {
    state.fault = new SandboxFault(domain.id, state.native.fault()!);
    throw state.fault;
  }
  return { value: state.ints[CALL_AREA_RESULT]!, float: state.floats[CALL_AREA_FLOAT_RESULT]! };
}
