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

/** A column: its heading and which side its cells align to. */
type Column = [heading: string, align: 'left' | 'right'];

/** Renders rows of cells under `columns` as a text table. */
function renderTable(columns: readonly Column[], rows: string[][]): string {
  const table = new Table({
    head: columns.map(([heading]) => heading),
    colAligns: columns.map(([, align]) => align),
    chars: COMPACT,
    style: { head: [], border: [] },
  });
  table.push(...rows);
  return table.toString();
}

/** The call rows: an empty call and a 64-byte buffer call through each path. */
function callTable(report: BenchReport): string {
  const columns: Column[] = [
    ['call path', 'left'],
    ['empty call', 'right'],
    ['vs N-API', 'right'],
    ['64-byte buffer', 'right'],
    ['vs N-API', 'right'],
  ];
  return renderTable(columns, [
    ...report.calls.map((row) => [
      row.path,
      cell(row.emptyNs, formatDuration),
      cell(row.emptyRatio, formatRatio),
      cell(row.buffer64Ns, formatDuration),
      cell(row.buffer64Ratio, formatRatio),
    ]),
  ]);
}

/** The syscall rows: getpid by each path, against the unmediated call. */
function syscallTable(report: BenchReport): string {
  const columns: Column[] = [
    ['system call (getpid)', 'left'],
    ['median', 'right'],
    ['vs direct', 'right'],
  ];
  return renderTable(
    columns,
    report.syscalls.map((row) => [
      row.path,
      cell(row.medianNs, formatDuration),
      cell(row.ratio, formatRatio),
    ]),
  );
}

/** MB/s with three significant digits, without exponent notation. */
function formatThroughput(megabytesPerSecond: number): string {
  const digits = Math.max(0, 2 - Math.floor(Math.log10(Math.max(megabytesPerSecond, 1))));
  return `${megabytesPerSecond.toFixed(digits)} MB/s`;
}

function scannerTable(report: BenchReport): string {
  const columns: Column[] = [
    ['scanner', 'left'],
    ['task', 'left'],
    ['code', 'right'],
    ['median', 'right'],
    ['throughput', 'right'],
  ];
  return renderTable(
    columns,
    report.scanner.map((row) => [
      row.target,
      row.task === 'search' ? 'byte search' : 'whole scan',
      `${row.codeMegabytes.toFixed(1)} MB`,
      formatDuration(row.medianMs * 1e6),
      formatThroughput(row.megabytesPerSecond),
    ]),
  );
}

function loadTable(report: BenchReport): string {
  const columns: Column[] = [
    ['load into a new domain', 'left'],
    ['isolation', 'left'],
    ['median', 'right'],
  ];
  return renderTable(
    columns,
    report.loads.map((row) => [
      row.library,
      row.isolation,
      cell(row.medianMs, (ms) => formatDuration(ms * 1e6)),
    ]),
  );
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
    syscallTable(report),
    'getpid from inside a domain (a domain call included): through its runtime and the ' +
      'syscall gate, or as a raw SYSCALL trapped by Syscall User Dispatch; against getpid ' +
      'called directly.',
    '',
    scannerTable(report),
    'Throughput counts the executable bytes of each file.',
    '',
    loadTable(report),
    "Wall time of domain.load() on a new domain, including keycell's runtime.",
    ...(gaps.length ? ['', 'Not measured:', ...gaps] : []),
  ].join('\n');
}
