/**
 * Reports for people and programs. The text report gives each finding as a
 * heading (kind, address, file offset, symbol, section), one line on how the
 * pattern came to be, and the decoded instructions around it with the one
 * holding the pattern marked `>`. The JSON report is the findings as they are.
 */
import { hex, type Finding } from './findings.js';

/** The outcome of scanning one file. */
export interface FileReport {
  file: string;
  /** Bytes of executable code searched. */
  codeBytes: number;
  findings: Finding[];
  /** Why the file could not be scanned, or null. */
  error: { code: string; message: string } | null;
  /** Set when a directory walk passed over the file, and why (not x86-64 code, for example). */
  skipped: string | null;
}

/** What a whole `keycell scan` run found. */
export interface ScanReport {
  files: FileReport[];
  summary: { files: number; findings: number; errors: number; skipped: number; codeBytes: number };
}

/** Collects file reports into a report with totals. */
export function summarize(files: FileReport[]): ScanReport {
  return {
    files,
    summary: {
      files: files.filter((file) => !file.skipped).length,
      findings: files.reduce((sum, file) => sum + file.findings.length, 0),
      errors: files.filter((file) => file.error).length,
      skipped: files.filter((file) => file.skipped).length,
      codeBytes: files.reduce((sum, file) => sum + file.codeBytes, 0),
    },
  };
}

/** Returns the sentence that says how a finding's pattern came to be. */
export function describeClassification(finding: Finding): string {
  const holder = finding.container ? `\`${finding.container}\`` : 'an instruction';
  switch (finding.classification) {
    case 'intended':
      return `an intended ${finding.kind} instruction`;
    case 'spanning':
      return `spans two instructions, starting inside ${holder}`;
    case 'immediate':
      return `inside the immediate operand of ${holder}`;
    case 'displacement':
      return `inside the displacement of ${holder}`;
    case 'opcode':
      return `inside the opcode bytes of ${holder}`;
    case 'data':
      return `in executable bytes outside any code section${
        finding.section ? ` (${finding.section})` : ''
      }`;
    case 'undecoded':
      return 'in bytes that do not decode as instructions from the last known boundary';
    case 'unexplained':
      return 'not explained: too many findings in this file';
  }
}

/** Returns `name+0x12`, or `name+0x1200 (past its end)` when outside the symbol's extent. */
export function describeSymbol(finding: Finding): string | null {
  const symbol = finding.symbol;
  if (!symbol) return null;
  const past = symbol.offset >= symbol.size ? ' (past its end)' : '';
  return `${symbol.name}+${hex(symbol.offset)}${past}`;
}

/** Formats one finding as indented lines. */
export function formatFinding(finding: Finding, indent = '  '): string {
  const where = [
    finding.fileOffset === null ? null : `file offset ${hex(finding.fileOffset)}`,
    describeSymbol(finding) && `in ${describeSymbol(finding)}`,
    finding.section && `[${finding.section}]`,
  ].filter(Boolean);
  const lines = [
    `${indent}${finding.kind} at ${hex(finding.address)} (${where.join(', ')})`,
    `${indent}  ${describeClassification(finding)}; ` +
      `decodes from here as \`${finding.instruction}\``,
  ];
  const holding = finding.context.find(
    (instruction) =>
      instruction.address <= finding.address &&
      finding.address < instruction.address + instruction.bytes.length / 2,
  );
  for (const instruction of finding.context) {
    const mark = instruction === holding ? '>' : ' ';
    const address = hex(instruction.address).padStart(12);
    lines.push(
      `${indent}  ${mark} ${address}  ${instruction.bytes.padEnd(22)}  ${instruction.text}`,
    );
  }
  if (finding.anchor?.kind === 'nearby') {
    lines.push(
      `${indent}  (decoded from ${hex(finding.anchor.address)}: no function start close by)`,
    );
  }
  return lines.join('\n');
}

/** Formats a whole scan report for a terminal. */
export function formatScanReport(report: ScanReport): string {
  const lines: string[] = [];
  for (const file of report.files) {
    if (file.skipped) continue;
    if (file.error) {
      lines.push(`${file.file}: error: ${file.error.message}`);
      continue;
    }
    if (file.findings.length === 0) continue;
    const count = file.findings.length;
    lines.push(`${file.file}: ${count} finding${count === 1 ? '' : 's'}`);
    for (const finding of file.findings) lines.push(formatFinding(finding));
  }
  const { summary } = report;
  const megabytes = (summary.codeBytes / 1e6).toFixed(1);
  lines.push(
    `scanned ${summary.files} file${summary.files === 1 ? '' : 's'} (${megabytes} MB of code): ` +
      `${summary.findings} finding${summary.findings === 1 ? '' : 's'}, ` +
      `${summary.errors} error${summary.errors === 1 ? '' : 's'}` +
      (summary.skipped ? `, ${summary.skipped} skipped` : ''),
  );
  return lines.join('\n');
}
