/**
 * Domains: each owns a protection key, memory tagged with it, a stack and a
 * thread pointer, and is entered only through the call gates of the addon.
 *
 * Every system call of domain code reaches the kernel only through the
 * domain's policy: through the runtime's syscall gate, or, for a raw SYSCALL
 * instruction, through Syscall User Dispatch, which keycell switches on for
 * each thread that enters domains (no exempt range; the selector lies in the
 * gate page, which domain code cannot write).
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
  PolicyViolation,
  SandboxFault,
} from './errors.js';
import { EventEmitter } from 'node:events';

import { allocate, Library } from './library.js';
import { finaliseLibraries } from './loader/load.js';
import { native, type NativeDomain, type NativeSyscallEvent } from './native.js';
import { compilePolicy } from './policy/compile.js';
import type { PolicySpec, PresetName } from './policy/spec.js';
import { syscallName } from './policy/syscalls.js';
import type { DomainBuffer } from './pointer.js';

/** `pku`: protection keys isolate the domain. `none`: no protection at all. */
export type Isolation = 'pku' | 'none';

export interface DomainOptions {
  /** Defaults to `pku`. */
  isolation?: Isolation;
  /**
   * The system calls the domain's code may make through its runtime: a preset
   * (`pure`, `compute`, `no-network`) or a policy object. Defaults to `pure`.
   */
  policy?: PresetName | PolicySpec;
  /**
   * What a denied system call does: `errno` (the default) returns the error to
   * the library; `throw` also makes the domain call throw a PolicyViolation
   * when it returns.
   */
  onViolation?: 'errno' | 'throw';
}

/** One system call a domain made, as `domain.on('syscall')` reports it. */
export interface SyscallEvent {
  syscall: string;
  args: bigint[];
  allowed: boolean;
  /** What the domain got back: a result or a negated errno. */
  result: number;
  reason: string;
  path: string | null;
  /** Domain address of the code that made the call. */
  instructionPointer: bigint;
}

const OPTION_NAMES = ['isolation', 'policy', 'onViolation'];

/**
 * The call area a domain shares with the addon, seen through four views of
 * the same bytes. Indices of `ints` and `floats` are slots (CallSlot); those
 * of `words` and `signedWords` are 32-bit halves, low half first.
 */
export interface CallArea {
  ints: BigUint64Array;
  floats: Float64Array;
  words: Uint32Array;
  signedWords: Int32Array;
}

/** Slots of the call area: 6 integer and 6 double arguments, results, status. */
export const CallSlot = {
  intArgs: 0,
  floatArgs: 6,
  result: 12,
  floatResult: 13,
  status: 14,
} as const;

/** Words of the status slot: how the call ended, and whether the monitor has reports. */
const STATUS_WORD = CallSlot.status * 2;
const REPORTS_WORD = CallSlot.status * 2 + 1;

/** How a call ended, as addon/domain_binding.cc writes it to STATUS_WORD. */
const CallStatus = {
  returned: 0,
  faulted: 1,
  poisoned: 2,
  closed: 3,
  wrongThread: 4,
  reentered: 5,
  badEntry: 6,
} as const;

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
  if (options === undefined) return { isolation: 'pku', policy: 'pure', onViolation: 'errno' };
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
  const onViolation = (options as DomainOptions).onViolation ?? 'errno';
  if (onViolation !== 'errno' && onViolation !== 'throw') {
    throw new TypeError(
      "Domain.create(options): onViolation must be 'errno' or 'throw', " +
        `not ${JSON.stringify(onViolation)}`,
    );
  }
  return { isolation, policy: (options as DomainOptions).policy ?? 'pure', onViolation };
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
  area: CallArea;
  onViolation: 'errno' | 'throw';
  /** Someone listens to 'syscall' events. */
  recording: boolean;
}

const states = new WeakMap<Domain, DomainState>();

/** Returns the state of an open domain; throws DomainClosedError once it is closed. */
function openState(domain: Domain): DomainState & { native: NativeDomain } {
  const state = states.get(domain);
  if (!state) throw new TypeError('expected a Domain created by Domain.create');
  if (!state.native) throw new DomainClosedError(domain.id);
  return state as DomainState & { native: NativeDomain };
}

/**
 * A domain. Emits `syscall` with a SyscallEvent for every system call its
 * code makes, while anyone listens.
 */
export class Domain extends EventEmitter {
  /** Unique within the process, for messages and errors. */
  readonly id: number;
  readonly isolation: Isolation;
  /** The name of the domain's syscall policy. */
  readonly policy: string;

  private constructor(options: Required<DomainOptions>) {
    super();
    this.id = nextDomainId++;
    this.isolation = options.isolation;
    const compiled = compilePolicy(options.policy);
    this.policy = compiled.name;
    let domain: NativeDomain;
    try {
      domain = new (native().domain.NativeDomain)(options.isolation);
      domain.setPolicy(compiled.table, process.cwd());
    } catch (error) {
      throw typedError(error, this.id, options.isolation);
    }
    const area = domain.callArea();
    const state: DomainState = {
      native: domain,
      fault: null,
      area: {
        ints: new BigUint64Array(area),
        floats: new Float64Array(area),
        words: new Uint32Array(area),
        signedWords: new Int32Array(area),
      },
      onViolation: options.onViolation,
      recording: false,
    };
    states.set(this, state);
    this.on('newListener', (event) => {
      if (event !== 'syscall' || state.recording || !state.native) return;
      state.recording = true;
      state.native.recordSyscalls(true);
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

  /**
   * Loads a shared library and the libraries it needs into this domain,
   * after the scanner has checked every executable byte. Throws ScanError,
   * LoadError, or SandboxFault when a constructor faults.
   */
  async load(path: string): Promise<Library> {
    openState(this);
    return Library.load(this, path);
  }

  /** Allocates `size` bytes of domain memory with a zero-copy view; `free()` returns them. */
  async alloc(size: number): Promise<DomainBuffer> {
    openState(this);
    return allocate(this, size);
  }

  /** Releases the domain's key and memory; views over its memory are detached. Idempotent. */
  close(): void {
    const state = states.get(this);
    // Destructors run first, inside the domain, unless a fault poisoned it.
    if (state?.native && !state.fault) finaliseLibraries(this);
    state?.native?.close();
    if (state) state.native = null;
  }
}

function toEvent(event: NativeSyscallEvent): SyscallEvent {
  return {
    syscall: syscallName(event.nr),
    args: event.args,
    allowed: event.allowed,
    result: event.result,
    reason: event.reason,
    path: event.path,
    instructionPointer: event.caller,
  };
}

/**
 * Emits the system calls of the call that just ended; unless the call
 * faulted, turns its first denial into a PolicyViolation with onViolation
 * 'throw'.
 */
function reportSyscalls(
  domain: Domain,
  state: DomainState,
  native: NativeDomain,
  faulted: boolean,
): void {
  const { events, denials } = native.takeSyscalls();
  for (const event of events) domain.emit('syscall', toEvent(event));
  if (state.onViolation === 'throw' && denials.length > 0 && !faulted) {
    const first = toEvent(denials[0]);
    throw new PolicyViolation(domain.id, domain.policy, first, denials[0].errno);
  }
}

/** Creates a domain synchronously; `Domain.create` is the public form. */
export function openDomain(options?: DomainOptions): Domain {
  const checked = checkOptions(options);
  if (checked.isolation === 'none' && !warnedNoIsolation) {
    warnedNoIsolation = true;
    process.emitWarning(
      "keycell domains created with isolation: 'none' run native code without any " +
        "protection; use isolation: 'pku' on a machine where `keycell doctor` passes",
      { code: 'KEYCELL_NO_ISOLATION' },
    );
  }
  return new (Domain as unknown as new (options: Required<DomainOptions>) => Domain)(checked);
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

/** Address of the syscall gate that the domain's runtime calls for system calls. */
export function domainSyscallGate(domain: Domain): number {
  return withNativeDomain(domain, (native) => native.syscallGate());
}

/** RAX and XMM0 as a domain function left them. */
export interface DomainCallResult {
  value: bigint;
  float: number;
}

/**
 * Runs after every crossing: schedules the release of held signals, and
 * unless the call simply returned, reports its system calls and throws what
 * ended it.
 */
function finishCall(domain: Domain, state: DomainState): void {
  // Signals are held from the first call of a macrotask until it is over.
  if (!releaseScheduled) {
    releaseScheduled = true;
    setImmediate(releaseAsyncSignals);
  }
  const { words } = state.area;
  if ((words[STATUS_WORD]! | words[REPORTS_WORD]!) !== 0) settleCall(domain, state);
}

function settleCall(domain: Domain, state: DomainState): void {
  const status = state.area.words[STATUS_WORD]!;
  if (!state.native || status === CallStatus.closed) throw new DomainClosedError(domain.id);
  const native = state.native;
  if (status === CallStatus.faulted) state.fault = new SandboxFault(domain.id, native.fault()!);
  if (state.area.words[REPORTS_WORD] !== 0) {
    reportSyscalls(domain, state, native, status === CallStatus.faulted);
  }

  switch (status) {
    case CallStatus.returned:
      return;
    case CallStatus.faulted:
      throw state.fault;
    case CallStatus.poisoned:
      state.fault ??= new SandboxFault(domain.id, native.fault()!);
      throw new DomainPoisonedError(domain.id, state.fault);
    case CallStatus.reentered:
      throw new DomainReentryError(domain.id);
    case CallStatus.wrongThread:
      throw new KeycellError(
        'WRONG_THREAD',
        `domain ${domain.id}: a domain can only be used on the thread that created it`,
      );
    case CallStatus.badEntry:
      throw new KeycellError(
        'BAD_ENTRY',
        `domain ${domain.id}: entry is not in an executable page of this domain`,
      );
    default:
      throw new KeycellError('SYSTEM', `domain ${domain.id}: unknown call status ${status}`);
  }
}

/**
 * Calls the domain function at `entry` (a domain address) through the gate
 * with up to six integer and six double arguments. Throws SandboxFault when
 * the domain faults (the domain is then poisoned), DomainPoisonedError after.
 * For keycell's own one-off calls (constructors, allocation); library
 * functions use bindDomainEntry.
 */
export function callDomainFunction(
  domain: Domain,
  entry: number,
  ints: readonly (number | bigint)[] = [],
  floats: readonly number[] = [],
): DomainCallResult {
  const state = openState(domain);
  if (ints.length > 6 || floats.length > 6) {
    throw new TypeError('a domain call takes at most 6 integer and 6 double arguments');
  }
  const area = state.area;
  for (let i = 0; i < 6; i++) {
    area.ints[CallSlot.intArgs + i] = BigInt.asUintN(64, BigInt(ints[i] ?? 0));
    area.floats[CallSlot.floatArgs + i] = floats[i] ?? 0;
  }

  state.native.call(entry);
  finishCall(domain, state);
  return { value: area.ints[CallSlot.result]!, float: area.floats[CallSlot.floatResult]! };
}

/** A domain function bound once; see bindDomainEntry. */
export interface DomainEntry {
  /** The domain's call area: arguments go in before `call()`, results come out after. */
  area: CallArea;
  /** Crosses the gate; throws as callDomainFunction does. */
  call(): void;
}

/**
 * Binds the domain function at `entry` for repeated calls. The caller stages
 * arguments in `area` and reads results from it, so a call converts nothing
 * and allocates nothing on its way through the gate.
 */
export function bindDomainEntry(domain: Domain, entry: number): DomainEntry {
  const state = openState(domain);
  let invoke: () => void;
  try {
    invoke = state.native.bind(entry);
  } catch (error) {
    throw typedError(error, domain.id, domain.isolation);
  }
  return {
    area: state.area,
    call: () => {
      invoke();
      finishCall(domain, state);
    },
  };
}
