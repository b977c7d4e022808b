/**
 * The compiled addon (`build/Release/keycell.node`, from addon/ and gates/),
 * loaded once and typed here. Everything else reaches native code through
 * this module.
 */
import fs from 'node:fs';
import path from 'node:path';

/** What `probe()` reports about the CPU, the kernel and this process. */
export interface NativeProbe {
  cpu: { pku: boolean; ospke: boolean; fsgsbase: boolean; fsgsbaseEnabled: boolean };
  syscallUserDispatch: { supported: boolean; error: string | null };
  pkeys: { free: number; keys: number[]; stopReason: string };
  pkru: number | null;
}

/** Result of writing PKRU, reading it back and restoring the old value. */
export interface PkruRoundTrip {
  before: number;
  written: number;
  read: number;
  after: number;
}

/** A system call as the policy decision sees it. */
export interface SyscallRequest {
  nr: number;
  args: (number | bigint)[];
}

/** The calling domain as the policy decision sees it. */
export interface PolicyContext {
  ranges: [number | bigint, number | bigint][];
  ownFds: number[];
  cwd?: string;
  /** NUL-terminated strings in domain memory, by address. */
  strings: Record<string, string>;
}

export interface PolicyDecision {
  allowed: boolean;
  errno: number;
  reason: string;
  path: string | null;
}

/** Where a domain's pieces lie; addresses are plain numbers (below 2^47). */
export interface NativeDomainLayout {
  imageBase: number;
  imageSize: number;
  stackTop: number;
  stackSize: number;
  threadPointer: number;
  tlsSize: number;
  /** The domain's protection key, -1 for isolation 'none'. */
  pkey: number;
  /** The PKRU domain code runs with, null for isolation 'none'. */
  pkru: number | null;
}

/** One system call a domain made, as the monitor decided it. */
export interface NativeSyscallEvent {
  nr: number;
  args: bigint[];
  /** Return address of the syscall gate call, in domain code. */
  caller: bigint;
  allowed: boolean;
  result: number;
  errno: number;
  reason: string;
  path: string | null;
}

/** What the kernel reported about the fault that ended a call. */
export interface NativeFault {
  signal: number;
  code: number;
  address: bigint;
  instructionPointer: bigint;
  pkey: number;
}

/**
 * One domain in the addon (addon/domain_binding.cc). Errors it throws carry a
 * `code`: ISOLATION_UNAVAILABLE, PKEYS_EXHAUSTED, DOMAIN_CLOSED,
 * DOMAIN_POISONED, DOMAIN_REENTRY, WRONG_THREAD, BAD_ENTRY, MEMORY_RANGE,
 * SYSTEM.
 */
export interface NativeDomain {
  close(): void;
  layout(): NativeDomainLayout;
  /** Points %fs:8 of the domain's thread control block at the DTV at image `offset`. */
  setThreadVector(offset: number): void;
  /** Offsets are relative to `imageBase`; protection: 1 read, 2 write, 4 execute. */
  protect(offset: number, length: number, protection: number): void;
  read(offset: number, length: number): Buffer;
  write(offset: number, bytes: Uint8Array): void;
  view(offset: number, length: number): ArrayBuffer;
  /**
   * 15 slots of 8 bytes: 6 integer arguments, 6 doubles, the integer and
   * double results, and two status words (src/domain.ts, CallSlot).
   */
  callArea(): ArrayBuffer;
  /** Calls `entry` with the arguments in the call area; the status words say how it ended. */
  call(entry: number): void;
  /** A function that calls `entry` as `call(entry)` does, checked once here (BAD_ENTRY). */
  bind(entry: number): () => void;
  fault(): NativeFault | null;
  /** Installs the compiled policy the monitor applies to this domain's system calls. */
  setPolicy(table: Uint8Array, cwd: string): void;
  /** Address of the syscall gate the domain's runtime calls. */
  syscallGate(): number;
  recordSyscalls(on: boolean): void;
  /** System calls seen since the last take: all of them while recording, and the denials. */
  takeSyscalls(): { events: NativeSyscallEvent[]; denials: NativeSyscallEvent[] };
  /**
   * Test only, isolation 'none': fills the vector registers, then calls
   * `entry` with and without the gate's clearing; level 0 means no AVX.
   */
  selftestVectorClearing(entry: number): {
    level: number;
    dirtyWithClearing?: number;
    dirtyWithoutClearing?: number;
  };
  /** Test only, isolation 'none': a SIGUSR1 handler tries to re-enter during a call. */
  selftestReentryFromSignal(entry: number): {
    handled: boolean;
    innerRefused: boolean;
    outerReturned: boolean;
  };
}

/** What the monitor did with one system call. */
export interface MonitorOutcome extends PolicyDecision {
  /** The value the domain sees: a result, or a negated errno. */
  result: number;
}

export interface NativeMonitor {
  execute(nr: number, args: (number | bigint)[]): MonitorOutcome;
  ownFds(): number[];
}

export interface NativeAddon {
  policy: {
    /** System calls no policy can allow, with the reason. */
    alwaysDenied(): { nr: number; reason: string }[];
    decide(table: Uint8Array, request: SyscallRequest, context: PolicyContext): PolicyDecision;
    /** The syscall monitor over host memory standing in for a domain's (for tests). */
    NativeMonitor: new (table: Uint8Array, memory: Buffer, cwd: string) => NativeMonitor;
  };
  probe(): NativeProbe;
  /** The benchmark target's functions behind plain Node-API calls (no isolation). */
  bench: { empty(): number; sum(data: Uint8Array): number; getpid(): number };
  domain: {
    NativeDomain: new (isolation: 'pku' | 'none') => NativeDomain;
    /** Lets asynchronous signals held back during domain calls through. */
    releaseAsyncSignals(): void;
    openDomains(): number;
  };
  selftest: {
    pkruRead(): number;
    pkruRoundTrip(value: number): PkruRoundTrip;
    /** Ends the calling process on success: run it in a child made for it. */
    pkeyFaultProbe(): { faulted: false; value: number };
    /** Host address of a typed array's first byte. */
    bufferAddress(bytes: ArrayBufferView): number;
    /** An address on the calling thread's host stack. */
    hostStackAddress(): number;
    /** x87, SSE and flag state of host code, and a sum that needs an empty x87 stack. */
    hostExecutionState(): HostExecutionState;
  };
}

/** What selftest.hostExecutionState() reports. */
export interface HostExecutionState {
  x87Control: number;
  x87Status: number;
  /** 0xffff when every x87 register is empty. */
  x87Tags: number;
  mxcsr: number;
  flags: number;
  /** 1 + 2 + ... + 8 computed on the x87 stack: 36 unless the stack was left full. */
  x87Sum: number;
}

/** The package root: one level above both `src/` and `dist/`. */
export const packageRoot = path.resolve(__dirname, '..');

/** Absolute path of the addon that cmake-js (or node-gyp) builds. */
export const addonPath = path.join(packageRoot, 'build', 'Release', 'keycell.node');

let addon: NativeAddon | undefined;

/** Returns the loaded addon, loading it on first use. */
export function native(): NativeAddon {
  if (addon) return addon;
  if (!fs.existsSync(addonPath)) {
    throw new Error(
      `keycell's native addon is missing at ${addonPath}; ` +
        'build it with `npm run build` (needs cmake and a C++ compiler)',
    );
  }
  const module = { exports: {} as NativeAddon };
  process.dlopen(module, addonPath);
  addon = module.exports;
  return addon;
}
