/**
 * What `keycell bench` reports and how it prints it: the machine, the call
 * rows (with ratios against the plain N-API call, which hold up on noisy
 * machines where absolute figures do not), the mediated syscall rows, scanner
 * throughput and library load times. A row that could not be measured keeps
 * its place, with null figures and the reason.
 */
import Table from 'cli-table3';

import type { LoadRow } from './loads.js';
import type { ScannerRow } from './scanner.js';

export interface Machine {
  cpu: string;
  cores: number;
  kernel: string;
  node: string;
  /** Whether the CPU and kernel offer protection keys, so the pku rows could run. */
  pku: boolean;
  /** When the run started, as an ISO 8601 timestamp. */
  date: string;
}

export interface CallRow {
  path: string;
  /** Median ns per empty call, or null when not measured. */
  emptyNs: number | null;
  /** Median ns per 64-byte buffer call, or null when not measured. */
  buffer64Ns: number | null;
  /** Each median divided by the plain N-API call's. */
  emptyRatio: number | null;
  buffer64Ratio: number | null;
  /** Why the row was not measured. */
  reason?: string;
}

/** A syscall made from inside a domain, by one of the ways keycell can let it through. */
export interface SyscallRow {
  path: string;
  medianNs: number | null;
  ratio: number | null;
  reason?: string;
}

export interface BenchReport {
  machine: Machine;
  calls: CallRow[];
  syscalls: SyscallRow[];
  scanner: ScannerRow[];
  loads: LoadRow[];
}

const NOT_MEASURED = 'not measured';

/** Formats nanoseconds with a unit that keeps three significant digits. */
export function formatDuration(ns: number): string {
  if (ns < 1000) return `${ns.toPrecision(3)} ns`;
  if (ns < 1e6) return `${(ns / 1000).toPrecision(3)} us`;
  return `${(ns / 1e6).toPrecision(3)} ms`;
}

/** Formats a ratio against the N-API call: two significant digits, at least one decimal. */
export function formatRatio(ratio: number): string {
  return `${ratio < 10 ? ratio.toFixed(1) : Math.round(ratio).toLocaleString('en-US')}x`;
}

/** Returns `format(value)`, or "not measured" for a row without figures. */
function cell(value: number | null, format: (value: number) => string): string {
  return value === null ? NOT_MEASURED : format(value);
}

/** Rows without separators between them: the tables stay short enough to read at a glance. */
const COMPACT = { mid: '', 'left-mid': '', 'mid-mid': '', 'right-mid': '' };

function newTable(head: string[], alignments: Array<'left' | 'right'>): Table.Table {
  return new Table({
    head,
    colAligns: alignments,
    chars: COMPACT,
    style: { head: [], border: [] },
  });
}

function callTable(report: BenchReport): string {
  const table = newTable(
    ['call path', 'empty call', 'vs N-API', '64-byte buffer', 'vs N-API'],
    ['left', 'right', 'right', 'right', 'right'],
  );
  for (const row of report.calls) {
    table.push([
      row.path,
      cell(row.emptyNs, formatDuration),
      cell(row.emptyRatio, formatRatio),
      cell(row.buffer64Ns, formatDuration),
      cell(row.buffer64Ratio, formatRatio),
    ]);
  }
  for (const row of report.syscalls) {
    const time = cell(row.medianNs, formatDuration);
    const ratio = cell(row.ratio, formatRatio);
    table.push([row.path, time, ratio, '', '']);
  }
  return table.toString();
}

function scannerTable(report: BenchReport): string {
  const table = newTable(
    ['scanner', 'task', 'code', 'median', 'throughput'],
    ['left', 'left', 'right', 'right', 'right'],
  );
  for (const row of report.scanner) {
    table.push([
      row.target,
      row.task === 'search' ? 'byte search' : 'whole scan',
      `${row.codeMegabytes.toFixed(1)} MB`,
      formatDuration(row.medianMs * 1e6),
      `${row.megabytesPerSecond.toPrecision(3)} MB/s`,
    ]);
  }
  return table.toString();
}

function loadTable(report: BenchReport): string {
  const table = newTable(
    ['load into a new domain', 'isolation', 'median'],
    ['left', 'left', 'right'],
  );
  for (const row of report.loads) {
    table.push([row.library, row.isolation, cell(row.medianMs, (ms) => formatDuration(ms * 1e6))]);
  }
  return table.toString();
}

/** Returns every row that was not measured, as "path: reason" lines. */
function notMeasured(report: BenchReport): string[] {
  const rows = [
    ...report.calls,
    ...report.syscalls,
    ...report.loads.map((row) => ({
      ...row,
      path: `load ${row.library} (isolation: ${row.isolation})`,
    })),
  ];
  return rows.filter((row) => row.reason).map((row) => `  ${row.path}: ${row.reason}`);
}

/** The whole report as text: the machine, three tables and the reasons for gaps. */
export function formatBench(report: BenchReport): string {
  const { machine } = report;
  const gaps = notMeasured(report);
  return [
    `keycell bench: ${machine.cpu}, ${machine.cores} cores, ` +
      `${machine.pku ? 'with' : 'no'} protection keys`,
    `Linux ${machine.kernel}, Node ${machine.node}, ${machine.date}`,
    callTable(report),
    'Medians per call; ratios against the plain N-API call.',
    '',
    scannerTable(report),
    'Throughput counts the executable bytes of each file.',
    '',
    loadTable(report),
    'Wall time of domain.load() on a new domain, including keycell\'s runtime.',
    ...(gaps.length ? ['', 'Not measured:', ...gaps] : []),
  ].join('\n');
}
