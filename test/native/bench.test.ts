/**
 * `keycell bench` end to end: one short run of the command line writes its
 * JSON and SVG, and the tests read them back. The run uses the quick preset,
 * so the figures are rough; only their order of magnitude is asserted.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { SaxesParser } from 'saxes';
import { beforeAll, describe, expect, test } from 'vitest';

import {
  formatDuration,
  formatRatio,
  type BenchReport,
  type CallRow,
} from '../../src/bench/index.js';
import { sample } from '../../src/bench/measure.js';
import { emulationReason } from '../../src/cli/bench.js';
import { BenchError } from '../../src/errors.js';
import { native, packageRoot } from '../../src/native.js';

const cli = path.join(packageRoot, 'bin', 'keycell.js');
const CALL_PATHS = [
  'plain N-API call',
  'koffi FFI call',
  'keycell call (isolation: none)',
  'keycell call (isolation: pku)',
  'worker_threads round trip',
  'child_process round trip',
];

/** Runs `keycell bench` with `args` and `env` added to this process's environment. */
function bench(args: string[], env: Record<string, string> = {}) {
  const { KEYCELL_GUEST_KERNEL: _, ...host } = process.env;
  return spawnSync(process.execPath, [cli, 'bench', ...args], {
    encoding: 'utf8',
    env: { ...host, NODE_NO_WARNINGS: '1', ...env },
  });
}

/** Returns the text of every <text> element, in document order, or throws if not well-formed. */
function parseSvg(svg: string): { root: string; texts: string[] } {
  const parser = new SaxesParser({ xmlns: true });
  const texts: string[] = [];
  const open: string[] = [];
  let root = '';
  parser.on('error', (error) => {
    throw error;
  });
  parser.on('opentag', (tag) => {
    if (!root) root = tag.name;
    open.push(tag.name);
    if (tag.name === 'text') texts.push('');
  });
  parser.on('closetag', () => open.pop());
  parser.on('text', (text) => {
    if (open.includes('text')) texts[texts.length - 1] += text;
  });
  parser.write(svg).close();
  return { root, texts };
}

describe('keycell bench', () => {
  const pku = native().probe().cpu.ospke;
  const directory = fs.mkdtempSync(path.join(os.tmpdir(), 'keycell-bench-'));
  const jsonFile = path.join(directory, 'bench.json');
  const svgFile = path.join(directory, 'bench.svg');
  let stdout = '';
  let report: BenchReport;

  beforeAll(() => {
    const child = bench(['--quick', '--json', jsonFile, '--svg', svgFile]);
    expect(child.stderr).toBe('');
    expect(child.status).toBe(0);
    stdout = child.stdout;
    report = JSON.parse(fs.readFileSync(jsonFile, 'utf8'));
  }, 120_000);

  test('prints medians and ratios for every call path', () => {
    expect(stdout).toMatch(/^keycell bench: .+, \d+ cores, (with|no) protection keys\nLinux /);
    expect(stdout).toContain('Medians per call; ratios against the plain N-API call.');
    for (const name of CALL_PATHS) expect(stdout).toContain(name);
  });

  test('the JSON holds the machine and every row', () => {
    expect(report.machine).toEqual({
      cpu: os.cpus()[0].model,
      cores: os.availableParallelism(),
      kernel: os.release(),
      node: process.version,
      pku,
      date: expect.stringMatching(/^\d{4}-\d\d-\d\dT/),
    });
    expect(Date.now() - Date.parse(report.machine.date)).toBeLessThan(10 * 60_000);

    expect(report.calls.map((row) => row.path)).toEqual(CALL_PATHS);
    const measured = report.calls.filter((row) => row.reason === undefined);
    for (const row of measured) {
      expect(row.emptyNs).toBeGreaterThan(0);
      expect(row.buffer64Ns).toBeGreaterThan(0);
      expect(row.emptyRatio).toBeCloseTo(row.emptyNs! / report.calls[0].emptyNs!, 6);
    }
    expect(report.calls[0].emptyRatio).toBe(1);
    // Crossing to another thread or process costs far more than a direct call.
    const row = (name: string) => report.calls.find((entry) => entry.path === name)!;
    expect(row('worker_threads round trip').emptyRatio).toBeGreaterThan(5);
    expect(row('child_process round trip').emptyRatio).toBeGreaterThan(5);

    expect(report.syscalls.map((entry) => entry.path)).toEqual([
      'syscall, direct (no mediation)',
      'mediated syscall, gate path (isolation: none)',
      'mediated syscall, gate path (isolation: pku)',
      'mediated syscall, trapped path (isolation: none)',
      'mediated syscall, trapped path (isolation: pku)',
    ]);
    const direct = report.syscalls[0];
    const gate = report.syscalls[1];
    expect(direct.medianNs).toBeGreaterThan(0);
    expect(direct.ratio).toBe(1);
    // The gate path adds a domain call and the monitor to the same getpid.
    expect(gate.medianNs).toBeGreaterThan(direct.medianNs!);
    expect(gate.ratio).toBeCloseTo(gate.medianNs! / direct.medianNs!, 6);

    expect(report.scanner.map((entry) => [entry.target, entry.task])).toEqual([
      [process.execPath, 'search'],
      [process.execPath, 'scan'],
      ['/lib/x86_64-linux-gnu/libc.so.6', 'search'],
      ['/lib/x86_64-linux-gnu/libc.so.6', 'scan'],
    ]);
    for (const entry of report.scanner) {
      expect(entry.codeMegabytes).toBeGreaterThan(0.5);
      expect(entry.megabytesPerSecond).toBeCloseTo(
        entry.codeMegabytes / (entry.medianMs / 1000),
        6,
      );
    }

    expect(report.loads.map((entry) => `${entry.library} ${entry.isolation}`)).toEqual([
      'libsodium none',
      'zlib none',
      'libsodium pku',
      'zlib pku',
    ]);
    for (const entry of report.loads.filter((load) => load.isolation === 'none')) {
      expect(entry.reason).toBeUndefined();
      expect(entry.medianMs).toBeGreaterThan(0);
      expect(entry.samples).toBeGreaterThanOrEqual(2);
    }
  });

  test('rows that were not measured carry null figures and the reason', () => {
    const pkuRows = [
      report.calls.find((entry) => entry.path === 'keycell call (isolation: pku)')!,
      ...report.loads.filter((entry) => entry.isolation === 'pku'),
    ];
    for (const entry of pkuRows) {
      if (pku) {
        expect(entry.reason).toBeUndefined();
      } else {
        expect(entry.reason).toMatch(/no protection keys|not enabled protection keys/);
      }
    }
    const pkuGate = report.syscalls[2];
    if (pku) expect(pkuGate.reason).toBeUndefined();
    else
      expect(pkuGate).toMatchObject({ medianNs: null, ratio: null, reason: /no protection keys/ });
    const trapped = report.syscalls[3];
    // A trapped getpid does all a direct one does, and a domain call and a signal besides.
    expect(trapped.medianNs).toBeGreaterThan(report.syscalls[0].medianNs!);
    expect(trapped.ratio).toBeCloseTo(trapped.medianNs! / report.syscalls[0].medianNs!, 6);
    const pkuTrapped = report.syscalls[4];
    if (pku) expect(pkuTrapped.reason).toBeUndefined();
    else expect(pkuTrapped).toMatchObject({ medianNs: null, reason: /no protection keys/ });

    const gaps = [...report.calls, ...report.syscalls].filter((entry) => entry.reason);
    const notMeasured = stdout.slice(stdout.indexOf('Not measured:'));
    for (const entry of gaps) expect(notMeasured).toContain(`${entry.path}: ${entry.reason}`);
  });

  test('the SVG is well-formed and labels every call row', () => {
    const { root, texts } = parseSvg(fs.readFileSync(svgFile, 'utf8'));
    expect(root).toBe('svg');
    for (const name of CALL_PATHS) expect(texts).toContain(name);

    const measured = report.calls.filter(
      (entry): entry is CallRow & { emptyNs: number } => entry.emptyNs !== null,
    );
    for (const entry of measured) {
      const ratio = formatRatio(entry.emptyRatio!);
      expect(texts).toContain(`empty call ${formatDuration(entry.emptyNs)} (${ratio})`);
    }
    for (const entry of report.calls.filter((call) => call.reason)) {
      expect(texts).toContain(`not measured: ${entry.reason}`);
    }
  });

  test('refuses to time anything inside the QEMU guest', () => {
    const refusedJson = path.join(directory, 'guest.json');
    const child = bench(['--quick', '--json', refusedJson], { KEYCELL_GUEST_KERNEL: '6.1' });
    expect(child.status).toBe(2);
    expect(child.stdout).toBe('');
    expect(child.stderr).toMatch(/QEMU guest \(kernel 6\.1\).*timings mean nothing/);
    expect(fs.existsSync(refusedJson)).toBe(false);
  });
});

describe('bench helpers', () => {
  test('durations get a fitting unit', () => {
    expect(formatDuration(21.94)).toBe('21.9 ns');
    expect(formatDuration(22_400)).toBe('22.4 us');
    expect(formatDuration(1_130_000)).toBe('1.13 ms');
  });

  test('ratios keep one decimal below 10x and group thousands above', () => {
    expect(formatRatio(1)).toBe('1.0x');
    expect(formatRatio(1.234)).toBe('1.2x');
    expect(formatRatio(206.4)).toBe('206x');
    expect(formatRatio(1622.2)).toBe('1,622x');
  });

  test('a task that throws fails its benchmark, naming the task, keeping the cause', async () => {
    const boom = new Error('boom');
    const failing = () => {
      throw boom;
    };
    const failed = sample('failing task', failing, { timeMs: 10 });
    await expect(failed).rejects.toThrow(BenchError);
    await expect(failed).rejects.toMatchObject({ task: 'failing task', cause: boom });
    await expect(failed).rejects.toThrow(/^failing task: did not complete: Error: boom$/);
  });

  test("only the guest runner's variable marks an emulated machine", () => {
    expect(emulationReason({})).toBeNull();
    expect(emulationReason({ KEYCELL_GUEST_KERNEL: '6.12' })).toMatch(/kernel 6\.12/);
  });
});
