/**
 * The first facts keycell relies on, checked on a real kernel: keys come from
 * pkey_alloc, PKRU can be written and read back, and a read of a page whose
 * key is access-disabled faults with SEGV_PKUERR naming that key.
 */
import { spawnSync } from 'node:child_process';

import { beforeAll, describe, expect, test } from 'vitest';

import { addonPath, native } from '../../src/native.js';
import { pkuPlatform, requirePku } from '../support/pku.js';

/** SEGV_PKUERR from <bits/siginfo-consts.h>: the fault came from a protection key. */
const SEGV_PKUERR = 4;

describe(`protection keys (${pkuPlatform()})`, () => {
  beforeAll(requirePku);

  test('free keys exist and V8 already holds one', () => {
    const { pkeys } = native().probe();
    // Node 20's V8 allocates a key at start-up; a process has 15 usable keys in all.
    expect(pkeys.free).toBe(14);
    expect(pkeys.keys).not.toContain(0);
    expect(pkeys.keys).not.toContain(1);
  });

  test('PKRU round-trips through WRPKRU and RDPKRU and is restored', () => {
    const before = native().selftest.pkruRead();
    const value = (before | (0b11 << 30)) >>> 0; // deny key 15 entirely
    const trip = native().selftest.pkruRoundTrip(value);
    expect(trip.before).toBe(before);
    expect(trip.read).toBe(value);
    expect(trip.after).toBe(before);
    expect(native().selftest.pkruRead()).toBe(before);
  });

  test('reading a page whose key is access-disabled faults with SEGV_PKUERR', () => {
    const script = `const m = { exports: {} }; process.dlopen(m, ${JSON.stringify(addonPath)});
      console.log(JSON.stringify(m.exports.selftest.pkeyFaultProbe()));`;
    const child = spawnSync(process.execPath, ['-e', script], { encoding: 'utf8' });

    const setup = /keycell-fault-probe pkey=(\d+) page=(0x[0-9a-f]+)/.exec(child.stderr);
    const fault = /keycell-fault-probe si_code=(\d+) si_pkey=(\d+) si_addr=(0x[0-9a-f]+)/.exec(
      child.stderr,
    );
    expect(child.status, `child stdout: ${child.stdout}\nstderr: ${child.stderr}`).toBe(77);
    expect(setup).not.toBeNull();
    expect(fault).not.toBeNull();
    expect(Number(fault![1])).toBe(SEGV_PKUERR);
    expect(Number(fault![2])).toBe(Number(setup![1]));
    expect(fault![3]).toBe(setup![2]);
  });
});
