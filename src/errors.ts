/**
 * keycell's typed errors. Every error the library raises on purpose extends
 * `KeycellError`, carries a stable `code` for programs and structured fields
 * for the facts its message states in words.
 */
import { hex, type Finding } from './scanner/findings.js';

/** Base class of keycell's errors: `code` is stable, the message is for people. */
export class KeycellError extends Error {
  override name = 'KeycellError';
  readonly code: string;

  constructor(code: string, message: string, options?: { cause?: unknown }) {
    super(message, options);
    this.code = code;
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
  override name = 'ScanError';
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
