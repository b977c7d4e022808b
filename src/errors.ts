/**
 * keycell's typed errors. Each carries a stable `code` and the structured
 * fields a program needs to react, besides the message for people.
 */

/** Base of every error keycell throws on purpose. */
export class KeycellError extends Error {
  /** Stable identifier, e.g. `SANDBOX_FAULT`. */
  readonly code: string;

  constructor(code: string, message: string) {
    super(message);
    this.name = new.target.name;
    this.code = code;
  }
}

/** What went wrong in domain code, named after the signal the CPU raised. */
export type FaultKind = 'pku' | 'segv' | 'ill' | 'fpe' | 'trap' | 'bus';

/** Signal numbers and the SEGV_PKUERR code of Linux on x86-64. */
const SIGNALS: Record<number, FaultKind> = { 4: 'ill', 5: 'trap', 7: 'bus', 8: 'fpe', 11: 'segv' };
const SEGV_PKUERR = 4;

const DESCRIPTIONS: Record<FaultKind, string> = {
  pku: 'touched memory its protection key does not allow',
  segv: 'touched unmapped or protected memory',
  ill: 'executed an illegal instruction',
  fpe: 'raised an arithmetic exception (divide error)',
  trap: 'hit a breakpoint or debug trap',
  bus: 'caused a bus error',
};

/** Facts about a fault, as the kernel reported them. */
export interface FaultReport {
  signal: number;
  code: number;
  address: bigint;
  instructionPointer: bigint;
  /** The key the access violated (PKU faults only), else -1. */
  pkey: number;
}

/** Formats an address for messages. */
function hex(value: bigint): string {
  return `0x${value.toString(16)}`;
}

/**
 * Domain code faulted. The process lives; the domain is poisoned and refuses
 * further calls until it is closed.
 */
export class SandboxFault extends KeycellError {
  readonly kind: FaultKind;
  /** The address the faulting access used (as the kernel reports it). */
  readonly faultAddress: bigint;
  /** Where in the domain the fault happened (after the instruction, for a breakpoint). */
  readonly instructionPointer: bigint;
  readonly domainId: number;
  /** The protection key the access violated, for `kind === 'pku'`. */
  readonly pkey: number | null;
  readonly signal: number;
  readonly signalCode: number;

  constructor(domainId: number, report: FaultReport) {
    const kind = SandboxFault.kindOf(report);
    const where = `at ${hex(report.instructionPointer)}`;
    const what =
      kind === 'pku' || kind === 'segv' || kind === 'bus'
        ? `, address ${hex(report.address)}${report.pkey >= 0 ? ` (pkey ${report.pkey})` : ''}`
        : '';
    super('SANDBOX_FAULT', `domain ${domainId} ${DESCRIPTIONS[kind]} ${where}${what} [${kind}]`);
    this.kind = kind;
    this.faultAddress = report.address;
    this.instructionPointer = report.instructionPointer;
    this.domainId = domainId;
    this.pkey = report.pkey >= 0 ? report.pkey : null;
    this.signal = report.signal;
    this.signalCode = report.code;
  }

  /** Returns the fault kind for a signal number and code. */
  static kindOf(report: Pick<FaultReport, 'signal' | 'code'>): FaultKind {
    if (report.signal === 11 && report.code === SEGV_PKUERR) return 'pku';
    return SIGNALS[report.signal] ?? 'segv';
  }
}

/** The domain was closed; nothing can be done with it any more. */
export class DomainClosedError extends KeycellError {
  readonly domainId: number;

  constructor(domainId: number) {
    super('DOMAIN_CLOSED', `domain ${domainId} is closed`);
    this.domainId = domainId;
  }
}

/** The domain faulted earlier; only `close()` is left. */
export class DomainPoisonedError extends KeycellError {
  readonly domainId: number;
  /** The fault that poisoned the domain. */
  readonly fault: SandboxFault;

  constructor(domainId: number, fault: SandboxFault) {
    super(
      'DOMAIN_POISONED',
      `domain ${domainId} is poisoned by an earlier fault (${fault.kind}); close it`,
    );
    this.domainId = domainId;
    this.fault = fault;
  }
}

/** The requested isolation cannot work on this machine. */
export class IsolationUnavailableError extends KeycellError {
  readonly isolation: string;
  readonly reason: string;

  constructor(isolation: string, reason: string) {
    super(
      'ISOLATION_UNAVAILABLE',
      `isolation '${isolation}' is unavailable: ${reason}. ` +
        "Run `keycell doctor` for details, or use isolation: 'none' (no protection)",
    );
    this.isolation = isolation;
    this.reason = reason;
  }
}

/** Every protection key is taken. */
export class PkeysExhaustedError extends KeycellError {
  /** Domains open in this process when the kernel refused a key. */
  readonly openDomains: number;

  constructor(openDomains: number, reason: string) {
    super(
      'PKEYS_EXHAUSTED',
      `no protection key is left for a new domain (${reason}); ${openDomains} domain(s) ` +
        'are open in this process: close some, as each holds one key',
    );
    this.openDomains = openDomains;
  }
}

/** A domain was entered while a call was already running on this thread. */
export class DomainReentryError extends KeycellError {
  readonly domainId: number;

  constructor(domainId: number) {
    super(
      'DOMAIN_REENTRY',
      `domain ${domainId} cannot be entered: a domain call is already in progress on ` +
        'this thread (from a signal handler or from domain code)',
    );
    this.domainId = domainId;
  }
}

/** An access to domain memory outside what the domain has mapped. */
export class DomainMemoryError extends KeycellError {
  readonly domainId: number;

  constructor(domainId: number, message: string) {
    super('DOMAIN_MEMORY', `domain ${domainId}: ${message}`);
    this.domainId = domainId;
  }
}
