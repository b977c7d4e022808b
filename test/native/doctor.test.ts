import { spawnSync } from 'node:child_process';
import path from 'node:path';

import { describe, expect, test } from 'vitest';

import { assess, kernelVersion } from '../../src/doctor.js';
import { native, packageRoot, type NativeProbe } from '../../src/native.js';

const capable: NativeProbe = {
  cpu: { pku: true, ospke: true, fsgsbase: true, fsgsbaseEnabled: true },
  syscallUserDispatch: { supported: true, error: null },
  pkeys: { free: 14, keys: [2, 3], stopReason: 'No space left on device' },
  pkru: 0x8,
};

describe('doctor verdict', () => {
  test('parses kernel releases', () => {
    expect(kernelVersion('6.1.0-18-amd64')).toEqual([6, 1]);
    expect(kernelVersion('6.12.9+bpo-amd64')).toEqual([6, 12]);
    expect(kernelVersion('garbage')).toEqual([0, 0]);
  });

  test('a machine with every feature can isolate', () => {
    const report = assess(capable, '6.1.0-18-amd64', 'x64');
    expect(report.canIsolate).toBe(true);
    expect(report.pkru).toBe('0x00000008');
    expect(report.checks.every((check) => check.remedy === undefined)).toBe(true);
  });

  test.each([
    ['cpu.pku', { ...capable, cpu: { ...capable.cpu, pku: false, ospke: false } }, '6.1.0'],
    ['cpu.ospke', { ...capable, cpu: { ...capable.cpu, ospke: false } }, '6.1.0'],
    ['cpu.fsgsbase', { ...capable, cpu: { ...capable.cpu, fsgsbaseEnabled: false } }, '6.1.0'],
    [
      'syscall-user-dispatch',
      { ...capable, syscallUserDispatch: { supported: false, error: 'Invalid argument' } },
      '6.1.0',
    ],
    [
      'pkeys.free',
      { ...capable, pkeys: { free: 0, keys: [], stopReason: 'No space left on device' } },
      '6.1.0',
    ],
    ['kernel', capable, '5.10.0-28-amd64'],
  ])('a failing %s check says so, with a remedy', (id, probe, release) => {
    const report = assess(probe, release, 'x64');
    const check = report.checks.find((entry) => entry.id === id)!;
    expect(report.canIsolate).toBe(false);
    expect(check.ok).toBe(false);
    expect(check.remedy).toMatch(/\w/);
  });

  test('an addon that cannot load fails the verdict', () => {
    const report = assess(null, '6.1.0', 'x64');
    expect(report.canIsolate).toBe(false);
    expect(report.checks.find((check) => check.id === 'addon')?.ok).toBe(false);
  });
});

describe('keycell doctor on this machine', () => {
  const cli = path.join(packageRoot, 'bin', 'keycell.js');

  test('--json agrees with the probe and the exit status gives the verdict', () => {
    const probe = native().probe();
    const child = spawnSync(process.execPath, [cli, 'doctor', '--json'], { encoding: 'utf8' });
    const report = JSON.parse(child.stdout);

    expect(report.checks.find((check: { id: string }) => check.id === 'cpu.pku').ok).toBe(
      probe.cpu.pku,
    );
    expect(report.kernel).toMatch(/^\d+\.\d+/);
    expect(child.status).toBe(report.canIsolate ? 0 : 1);
  });

  test('the text report ends with a verdict', () => {
    const child = spawnSync(process.execPath, [cli, 'doctor'], { encoding: 'utf8' });
    expect(child.stdout).toMatch(/^keycell doctor: Linux /);
    expect(child.stdout.trim().split('\n').at(-1)).toMatch(/^verdict: keycell can(not)? isolate/);
  });
});
