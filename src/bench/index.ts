/**
 * `keycell bench`: what a call costs through each path, side by side in one
 * run on one machine, with ratios against the plain N-API call (ratios hold
 * up on noisy machines where absolute figures do not).
 */
import os from 'node:os';

import Table from 'cli-table3';

import { measure, type MeasureOptions } from './measure.js';
import {
  childPath,
  keycellPath,
  koffiPath,
  napiPath,
  workerPath,
  type CallPath,
  type UnavailablePath,
} from './paths.js';

export interface BenchRow {
  path: string;
  /** Median ns per empty call, or null when not measured. */
  emptyNs: number | null;
  /** Median ns per 64-byte buffer call, or null when not measured. */
  buffer64Ns: number | null;
  /** Each median divided by the plain N-API call's. */
  emptyRatio: number | null;
  buffer64Ratio: number | null;
  /** Why the row was not measured. */
  note?: string;
}

export interface BenchReport {
  machine: { cpu: string; cores: number; kernel: string; node: string };
  rows: BenchRow[];
}

/** Sizes a run: `quick` for tests and smoke runs, `full` for reported figures. */
export const PRESETS: Record<'quick' | 'full', MeasureOptions> = {
  quick: { timeMs: 60, batch: 200 },
  full: { timeMs: 1000, batch: 2000 },
};

const BUFFER = Uint8Array.from({ length: 64 }, (_, i) => i);
const BUFFER_SUM = (63 * 64) / 2;

/** Runs one path's two calls, checking they computed the right answer first. */
async function measurePath(path: CallPath, options: MeasureOptions): Promise<[number, number]> {
  const check = await path.sum(BUFFER);
  if (check !== BUFFER_SUM)
    throw new Error(
      `${path.name} returned ${String(check)} for the 64-byte sum, not ${BUFFER_SUM}`,
    );
  const empty = await measure(path, () => path.empty(), options);
  const buffer = await measure(path, () => path.sum(BUFFER), options);
  return [empty.medianNs, buffer.medianNs];
}

export async function runBench(options: MeasureOptions = PRESETS.full): Promise<BenchReport> {
  const candidates: Array<() => Promise<CallPath | UnavailablePath> | CallPath | UnavailablePath> =
    [
      napiPath,
      koffiPath,
      () => keycellPath('none'),
      () => keycellPath('pku'),
      workerPath,
      childPath,
    ];

  const rows: BenchRow[] = [];
  for (const make of candidates) {
    const path = await make();
    if (!('empty' in path)) {
      rows.push({
        path: path.name,
        emptyNs: null,
        buffer64Ns: null,
        emptyRatio: null,
        buffer64Ratio: null,
        note: path.reason,
      });
      continue;
    }
    try {
      const [emptyNs, buffer64Ns] = await measurePath(path, options);
      rows.push({ path: path.name, emptyNs, buffer64Ns, emptyRatio: null, buffer64Ratio: null });
    } finally {
      await path.close();
    }
  }

  const base = rows[0];
  for (const row of rows) {
    if (row.emptyNs !== null && base.emptyNs) row.emptyRatio = row.emptyNs / base.emptyNs;
    if (row.buffer64Ns !== null && base.buffer64Ns)
      row.buffer64Ratio = row.buffer64Ns / base.buffer64Ns;
  }
  return {
    machine: {
      cpu: os.cpus()[0]?.model ?? 'unknown',
      cores: os.availableParallelism(),
      kernel: os.release(),
      node: process.version,
    },
    rows,
  };
}

/** Formats nanoseconds with a unit that keeps three significant digits. */
export function formatDuration(ns: number): string {
  if (ns < 1000) return `${ns.toPrecision(3)} ns`;
  if (ns < 1e6) return `${(ns / 1000).toPrecision(3)} us`;
  return `${(ns / 1e6).toPrecision(3)} ms`;
}

export function formatBench(report: BenchReport): string {
  const table = new Table({
    head: ['call path', 'empty call', 'vs N-API', '64-byte buffer', 'vs N-API'],
    colAligns: ['left', 'right', 'right', 'right', 'right'],
    style: { head: [], border: [] },
  });
  for (const row of report.rows) {
    const cell = (value: number | null, format: (n: number) => string) =>
      value === null ? 'not measured' : format(value);
    const ratio = (value: number) => `${value.toFixed(1)}x`;
    table.push([
      row.path,
      cell(row.emptyNs, formatDuration),
      cell(row.emptyRatio, ratio),
      cell(row.buffer64Ns, formatDuration),
      cell(row.buffer64Ratio, ratio),
    ]);
  }
  const notes = report.rows.filter((row) => row.note).map((row) => `  ${row.path}: ${row.note}`);
  const { machine } = report;
  return [
    `keycell bench: ${machine.cpu}, ${machine.cores} cores, ` +
      `Linux ${machine.kernel}, Node ${machine.node}`,
    table.toString(),
    'Medians per call; ratios against the plain N-API call.',
    ...(notes.length ? ['Not measured:', ...notes] : []),
  ].join('\n');
}
