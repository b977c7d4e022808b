/**
 * keycell's typed errors. Every error the library raises on purpose extends
 * `KeycellError`, carries a stable `code` for programs and structured fields
 * for the facts its message states in words.
 */
import { hex, type Finding } from './scanner/findings.js';

/** Base class of keycell's errors: `code` is stable, the message is for people. */
export class KeycellError extends Error {
  /** Stable identifier, e.g. `SANDBOX_FAULT`. */
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
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
function hexAddress(value: bigint): string {
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
    const where = `at ${hexAddress(report.instructionPointer)}`;
    const what =
      kind === 'pku' || kind === 'segv' || kind === 'bus'
        ? `, address ${hexAddress(report.address)}` +
          (report.pkey >= 0 ? ` (pkey ${report.pkey})` : '')
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

/** Why a scan did not accept a file or a set of segments. */
export type ScanErrorCode =
  /** The input is not a well-formed ELF file: `defect` says what is wrong. */
  | 'ELF_MALFORMED'
  /** Well-formed, but not something keycell scans (another machine, a core file...). */
  | 'ELF_UNSUPPORTED'
  /** The file could not be read. */
  | 'READ_FAILED'
  /** The code holds PKRU- or base-writing patterns: `findings` lists them. */
  | 'FINDINGS';

/**
 * A file or segment set that the scanner refused: either malformed (`defect`)
 * or holding forbidden instruction patterns (`findings`).
 */
export class ScanError extends KeycellError {
  declare readonly code: ScanErrorCode;
  /** The file (or the name given to in-memory code) the error is about. */
  readonly file: string;
  /** What is wrong with the input, for `ELF_MALFORMED`, `ELF_UNSUPPORTED` and `READ_FAILED`. */
  readonly defect: string | null;
  /** The patterns found, for `FINDINGS`; empty otherwise. */
  readonly findings: readonly Finding[];

  private constructor(
    code: ScanErrorCode,
    file: string,
    message: string,
    details: { defect?: string; findings?: readonly Finding[]; cause?: unknown },
  ) {
    super(code, message, { cause: details.cause });
    this.file = file;
    this.defect = details.defect ?? null;
    this.findings = details.findings ?? [];
  }

  /** A defect in the input: the message names the file and the defect. */
  static malformed(file: string, defect: string): ScanError {
    return new ScanError('ELF_MALFORMED', file, `${file}: malformed ELF: ${defect}`, { defect });
  }

  /** Input keycell does not scan, such as another architecture's code. */
  static unsupported(file: string, defect: string): ScanError {
    return new ScanError('ELF_UNSUPPORTED', file, `${file}: not scanned: ${defect}`, { defect });
  }

  /** The file could not be read; `cause` is the system error. */
  static unreadable(file: string, cause: unknown): ScanError {
    const defect = cause instanceof Error ? cause.message : String(cause);
    return new ScanError('READ_FAILED', file, `${file}: cannot read: ${defect}`, {
      defect,
      cause,
    });
  }

  /** A refused load: the message names the first findings' addresses and symbols. */
  static refused(file: string, findings: readonly Finding[]): ScanError {
    const shown = findings.slice(0, 3).map(describeBriefly).join('; ');
    const more = findings.length > 3 ? `; and ${findings.length - 3} more` : '';
    const plural = findings.length === 1 ? '' : 's';
    const count = `${findings.length} forbidden instruction pattern${plural}`;
    return new ScanError('FINDINGS', file, `${file}: ${count}: ${shown}${more}`, { findings });
  }
}

/** Returns e.g. `wrpkru at 0x1352 in pkey_set+0x32`. */
function describeBriefly(finding: Finding): string {
  const where = finding.symbol ? ` in ${finding.symbol.name}+${hex(finding.symbol.offset)}` : '';
  return `${finding.kind} at ${hex(finding.address)}${where}`;
}

/** A system call the domain's policy denied, raised with onViolation: 'throw'. */
export class PolicyViolation extends KeycellError {
  readonly domainId: number;
  readonly policy: string;
  /** The system call's name, e.g. `socket`. */
  readonly syscall: string;
  readonly args: readonly bigint[];
  /** Domain address of the code that made the call. */
  readonly instructionPointer: bigint;
  /** The errno the domain's code received. */
  readonly errno: number;
  readonly reason: string;
  readonly path: string | null;

  constructor(
    domainId: number,
    policy: string,
    event: {
      syscall: string;
      args: readonly bigint[];
      instructionPointer: bigint;
      reason: string;
      path: string | null;
    },
    errno: number,
  ) {
    const target = event.path ? ` on ${event.path}` : '';
    super(
      'POLICY_VIOLATION',
      `domain ${domainId} (policy '${policy}') attempted ${event.syscall}${target} ` +
        `at ${hexAddress(event.instructionPointer)}: ${event.reason}`,
    );
    this.domainId = domainId;
    this.policy = policy;
    this.syscall = event.syscall;
    this.args = event.args;
    this.instructionPointer = event.instructionPointer;
    this.errno = errno;
    this.reason = event.reason;
    this.path = event.path;
  }
}

/** Why the loader refused a library. */
export type LoadErrorCode =
  /** The file is not a well-formed shared object: `defect` says what is wrong. */
  | 'LOAD_MALFORMED'
  /** Well-formed, but uses something keycell does not load (text relocations, ...). */
  | 'LOAD_UNSUPPORTED'
  /** A DT_NEEDED library was not found: `defect` names it. */
  | 'LIBRARY_NOT_FOUND'
  /** Imports no loaded library nor the runtime provides: `missing` lists them. */
  | 'MISSING_SYMBOLS'
  /** The domain's image area has no room left. */
  | 'DOMAIN_FULL'
  /** The library exports no such symbol (or not as a function). */
  | 'SYMBOL_NOT_FOUND';

/** A library the loader could not place in a domain. */
export class LoadError extends KeycellError {
  declare readonly code: LoadErrorCode;
  /** The library the error is about. */
  readonly file: string;
  readonly defect: string | null;
  /** For `MISSING_SYMBOLS`: every symbol nothing provides, and the library that wanted it. */
  readonly missing: readonly { symbol: string; library: string }[];

  private constructor(
    code: LoadErrorCode,
    file: string,
    message: string,
    details: { defect?: string; missing?: readonly { symbol: string; library: string }[] },
  ) {
    super(code, message);
    this.file = file;
    this.defect = details.defect ?? null;
    this.missing = details.missing ?? [];
  }

  static malformed(file: string, defect: string): LoadError {
    return new LoadError('LOAD_MALFORMED', file, `${file}: cannot load: ${defect}`, { defect });
  }

  static unsupported(file: string, defect: string): LoadError {
    return new LoadError('LOAD_UNSUPPORTED', file, `${file}: not loaded: ${defect}`, { defect });
  }

  static notFound(file: string, needed: string, searched: readonly string[]): LoadError {
    const defect = `needs ${needed}, found in none of ${searched.join(', ')}`;
    return new LoadError('LIBRARY_NOT_FOUND', file, `${file}: ${defect}`, { defect });
  }

  static missingSymbols(
    file: string,
    missing: readonly { symbol: string; library: string }[],
  ): LoadError {
    const list = missing.map((entry) => `${entry.symbol} (wanted by ${entry.library})`).join(', ');
    return new LoadError(
      'MISSING_SYMBOLS',
      file,
      `${file}: ${missing.length} undefined symbol${missing.length === 1 ? '' : 's'}: ${list}`,
      { missing },
    );
  }

  static symbolNotFound(file: string, symbol: string, why = 'no such exported symbol'): LoadError {
    const defect = `${symbol}: ${why}`;
    return new LoadError('SYMBOL_NOT_FOUND', file, `${file}: ${defect}`, { defect });
  }

  static domainFull(file: string, needed: number, left: number): LoadError {
    const defect = `needs ${needed} bytes of domain memory, ${left} are left`;
    return new LoadError('DOMAIN_FULL', file, `${file}: ${defect}`, { defect });
  }
}

/** A benchmark task failed, or a call path computed a wrong answer before timing. */
export class BenchError extends KeycellError {
  /** The task or call path, as `keycell bench` names it. */
  readonly task: string;

  constructor(task: string, message: string, options?: { cause?: unknown }) {
    super('BENCH_FAILED', `${task}: ${message}`, options);
    this.task = task;
  }
}
