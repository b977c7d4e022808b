import { describe, expect, test } from 'vitest';

import { formatBench, formatDuration, PRESETS, runBench } from '../../src/bench/index.js';
import { native } from '../../src/native.js';

describe('keycell bench', () => {
  test('measures every available path against the N-API call', async () => {
    const report = await runBench(PRESETS.quick);
    const names = report.rows.map((row) => row.path);
    expect(names).toEqual([
      'plain N-API call',
      'koffi FFI call',
      'keycell call (isolation: none)',
      'keycell call (isolation: pku)',
      'worker_threads round trip',
      'child_process round trip',
    ]);

    const pku = native().probe().cpu.ospke;
    for (const row of report.rows) {
      if (row.path.endsWith('(isolation: pku)') && !pku) {
        expect(row.note).toMatch(/no protection keys/);
        expect(row.emptyNs).toBeNull();
        continue;
      }
      expect(row.note).toBeUndefined();
      expect(row.emptyNs).toBeGreaterThan(0);
      expect(row.buffer64Ns).toBeGreaterThan(0);
    }
    expect(report.rows[0].emptyRatio).toBe(1);
    // Crossing to another thread or process costs far more than a direct call.
    const row = (name: string) => report.rows.find((entry) => entry.path === name)!;
    expect(row('worker_threads round trip').emptyRatio!).toBeGreaterThan(5);
    expect(row('child_process round trip').emptyRatio!).toBeGreaterThan(5);

    const text = formatBench(report);
    expect(text).toContain('vs N-API');
    expect(text).toContain('child_process round trip');
  }, 60_000);

  test('formats durations with a fitting unit', () => {
    expect(formatDuration(21.94)).toBe('21.9 ns');
    expect(formatDuration(22_400)).toBe('22.4 us');
    expect(formatDuration(1_130_000)).toBe('1.13 ms');
  });
});
