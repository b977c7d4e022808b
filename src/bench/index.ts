/**
 * `keycell bench`: what a call costs through each path, side by side in one
 * run on one machine, followed by what the other costs of a sandbox come to:
 * mediated syscalls, scanning code and loading libraries into a domain.
 */
import os from 'node:os';

import { BenchError } from '../errors.js';
import { measureLoads } from './loads.js';
import { measure, type MeasureOptions } from './measure.js';
import {
  childPath,
  keycellPath,
  koffiPath,
  napiPath,
  pkuUnavailableReason,
  workerPath,
  type CallPath,
  type UnavailablePath,
} from './paths.js';
import type { BenchReport, CallRow } from './report.js';
import { measureScanner } from './scanner.js';
import { measureSyscalls } from './syscalls.js';

export { callChart } from './chart.js';
export { formatBench, formatDuration, formatRatio } from './report.js';
export type { BenchReport, CallRow, Machine, SyscallRow } from './report.js';
export type { LoadRow } from './loads.js';
export type { ScannerRow } from './scanner.js';

/** Sizes a run: `quick` for tests and smoke runs, `full` for reported figures. */
export const PRESETS: Record<'quick' | 'full', MeasureOptions> = {
  quick: { timeMs: 60, batch: 200, slowSamples: 2 },
  full: { timeMs: 1000, batch: 2000, slowSamples: 10 },
};

const BUFFER = Uint8Array.from({ length: 64 }, (_, i) => i);
const BUFFER_SUM = (63 * 64) / 2;

/** Runs one path's two calls, checking they computed the right answer first. */
async function measurePath(path: CallPath, options: MeasureOptions): Promise<[number, number]> {
  const check = await path.sum(BUFFER);
  if (check !== BUFFER_SUM) {
    const wrong = `returned ${String(check)} for the 64-byte sum, not ${BUFFER_SUM}`;
    throw new BenchError(path.name, wrong);
  }
  const empty = await measure(path, path.empty, undefined, options);
  const buffer = await measure(path, path.sum as (data?: unknown) => unknown, BUFFER, options);
  return [empty.medianNs, buffer.medianNs];
}

type PathMaker = () => Promise<CallPath | UnavailablePath> | CallPath | UnavailablePath;

/** Measures every call path; the first row is the plain N-API call the ratios divide by. */
async function measureCalls(options: MeasureOptions): Promise<CallRow[]> {
  const makers: PathMaker[] = [
    napiPath,
    koffiPath,
    () => keycellPath('none'),
    () => keycellPath('pku'),
    workerPath,
    childPath,
  ];

  const rows: CallRow[] = [];
  for (const make of makers) {
    const path = await make();
    if (!('empty' in path)) {
      rows.push({
        path: path.name,
        emptyNs: null,
        buffer64Ns: null,
        emptyRatio: null,
        buffer64Ratio: null,
        reason: path.reason,
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
    if (row.buffer64Ns !== null && base.buffer64Ns) {
      row.buffer64Ratio = row.buffer64Ns / base.buffer64Ns;
    }
  }
  return rows;
}

/** Runs every benchmark in turn and returns the report. */
export async function runBench(options: MeasureOptions = PRESETS.full): Promise<BenchReport> {
  const machine = {
    cpu: os.cpus()[0]?.model ?? 'unknown',
    cores: os.availableParallelism(),
    kernel: os.release(),
    node: process.version,
    pku: pkuUnavailableReason() === null,
    date: new Date().toISOString(),
  };
  const calls = await measureCalls(options);
  const syscalls = await measureSyscalls(options);
  const scanner = await measureScanner(options);
  const loads = await measureLoads(options);
  return { machine, calls, syscalls, scanner, loads };
}
