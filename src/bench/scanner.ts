/**
 * Scan throughput on the node binary and glibc, for `keycell bench`: the
 * candidate search alone (Buffer.indexOf over the executable bytes) and a
 * whole scan (ELF parsing, search, Capstone explanations and symbol lookup).
 * Files are read once beforehand, so disk speed does not enter the figures;
 * throughput counts executable bytes, the bytes the scanner searches.
 */
import fs from 'node:fs';

import { executableRegions, findPatterns, parseElf, scanElf } from '../scanner/index.js';
import { sampleSlow, type MeasureOptions } from './measure.js';

/** The running node binary and the C library: one large and one typical target. */
export const SCANNER_TARGETS = [process.execPath, '/lib/x86_64-linux-gnu/libc.so.6'];

export interface ScannerRow {
  target: string;
  /** `search`: the byte search alone; `scan`: everything `keycell scan` does to a file. */
  task: 'search' | 'scan';
  /** Megabytes (10^6 bytes) of executable code in the target. */
  codeMegabytes: number;
  medianMs: number;
  megabytesPerSecond: number;
  samples: number;
}

/** Measures both tasks on every target, in order. */
export async function measureScanner(
  options: MeasureOptions,
  targets: readonly string[] = SCANNER_TARGETS,
): Promise<ScannerRow[]> {
  const rows: ScannerRow[] = [];
  for (const target of targets) {
    const bytes = fs.readFileSync(target);
    const regions = executableRegions(parseElf(bytes, target));
    const codeMegabytes = regions.reduce((sum, region) => sum + region.bytes.length, 0) / 1e6;

    const tasks = {
      search: () => {
        for (const region of regions) findPatterns(region.bytes);
      },
      scan: () => scanElf(bytes, target),
    };
    for (const [task, run] of Object.entries(tasks) as [ScannerRow['task'], () => unknown][]) {
      const latency = await sampleSlow(`${task} ${target}`, run, options);
      rows.push({
        target,
        task,
        codeMegabytes,
        medianMs: latency.medianMs,
        megabytesPerSecond: codeMegabytes / (latency.medianMs / 1000),
        samples: latency.samples,
      });
    }
  }
  return rows;
}
