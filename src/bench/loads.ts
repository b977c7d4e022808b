/**
 * Load time of real libraries for `keycell bench`: Debian's libsodium and
 * zlib, each loaded into a fresh domain. The figure is the wall time of
 * `domain.load()`, which a user pays once per domain: reading and scanning the
 * files, linking keycell's runtime and the library, mapping and protecting the
 * pages, running initialisers. Creating and closing the domain are left out.
 */
import fs from 'node:fs';

import { Domain, type Isolation } from '../domain.js';
import { sampleSlow, type MeasureOptions, type TimedPart } from './measure.js';
import { pkuUnavailableReason } from './paths.js';

export const LOAD_TARGETS = [
  {
    library: 'libsodium',
    path: '/usr/lib/x86_64-linux-gnu/libsodium.so.23',
    debian: 'libsodium23',
  },
  { library: 'zlib', path: '/usr/lib/x86_64-linux-gnu/libz.so.1', debian: 'zlib1g' },
] as const;

export interface LoadRow {
  library: string;
  path: string;
  isolation: Isolation;
  /** Median milliseconds of `domain.load()`, or null when not measured. */
  medianMs: number | null;
  samples: number;
  /** Why the row was not measured. */
  reason?: string;
}

/** Loads `file` into a new domain and returns the milliseconds the load took. */
async function timeLoad(file: string, isolation: Isolation): Promise<TimedPart> {
  const domain = await Domain.create({ isolation });
  try {
    const started = performance.now();
    await domain.load(file);
    return { overriddenDuration: performance.now() - started };
  } finally {
    await domain.close();
  }
}

/** Measures every target with isolation 'none' and 'pku', in that order. */
export async function measureLoads(options: MeasureOptions): Promise<LoadRow[]> {
  const pkuReason = pkuUnavailableReason();
  const rows: LoadRow[] = [];
  for (const isolation of ['none', 'pku'] as const) {
    for (const { library, path, debian } of LOAD_TARGETS) {
      const row = { library, path, isolation };
      const reason = !fs.existsSync(path)
        ? `${path} is missing (Debian package ${debian})`
        : isolation === 'pku'
          ? pkuReason
          : null;
      if (reason) {
        rows.push({ ...row, medianMs: null, samples: 0, reason });
        continue;
      }
      const latency = await sampleSlow(`load ${library}`, () => timeLoad(path, isolation), options);
      rows.push({ ...row, medianMs: latency.medianMs, samples: latency.samples });
    }
  }
  return rows;
}
