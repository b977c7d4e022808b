/**
 * Audit mode on real libraries: what Debian's libsodium and a network-minded
 * fixture attempt, and the smallest policy that allows it.
 */
import { beforeAll, describe, expect, test } from 'vitest';

import { attemptsFromEvents, audit } from '../../src/audit.js';
import type { SyscallEvent } from '../../src/domain.js';
import { compilePolicy } from '../../src/policy/index.js';
import { buildLoaderFixtures, type LoaderFixtures } from '../support/loader-fixtures.js';
import { LIBSODIUM } from '../support/sodium.js';

let fixtures: LoaderFixtures;

beforeAll(() => {
  fixtures = buildLoaderFixtures();
});

describe('audit mode', () => {
  test("records libsodium's system calls and proposes exactly getrandom", async () => {
    const report = await audit(
      LIBSODIUM,
      (sodium) => {
        sodium.func('int sodium_init(void)')();
        sodium.func('void randombytes_buf(uint8_t *buf, size_t size)')(Buffer.alloc(32), 32);
      },
      { isolation: 'none' },
    );
    expect(report.events.length).toBeGreaterThan(0);
    expect(report.events.every((event) => event.syscall === 'getrandom' && event.allowed)).toBe(
      true,
    );
    expect(report.proposal).toEqual({
      policy: { name: 'proposed', allow: [{ syscall: 'getrandom' }] },
      refused: [],
    });
    // The proposal compiles and is narrower than compute.
    expect(compilePolicy(report.proposal.policy).rules.size).toBe(1);
  });

  test('lists what no policy can allow, with the reason', async () => {
    const report = await audit(
      fixtures.rawSyscalls,
      (library) => {
        const raw = library.func(
          'long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5)',
        );
        raw(39, 0, 0, 0, 0, 0);
        raw(158, 0x1001, 0, 0, 0, 0);
      },
      { isolation: 'none' },
    );
    expect(report.proposal.policy.allow).toEqual([{ syscall: 'getpid' }]);
    expect(report.proposal.refused).toEqual([
      {
        syscall: 'arch_prctl',
        reason: 'it sets FS and GS bases, which keycell relies on',
        count: 1,
      },
    ]);
  });

  test('descriptors a run opened count as its own', () => {
    const event = (syscall: string, args: bigint[], result: number): SyscallEvent => ({
      syscall,
      args,
      allowed: true,
      result,
      reason: '',
      path: syscall === 'openat' ? '/etc/hostname' : null,
      instructionPointer: 0n,
    });
    const attempts = attemptsFromEvents([
      event('openat', [BigInt.asUintN(64, -100n), 0n, 0n], 7),
      event('read', [7n, 0n, 10n], 10),
      event('write', [9n, 0n, 1n], 1),
    ]);
    expect(attempts[1]).toMatchObject({ fd: 7, fdOwned: true });
    expect(attempts[2]).toMatchObject({ fd: 9, fdOwned: false });
    expect(attempts[0]).toMatchObject({ path: '/etc/hostname', openFlags: 0 });
  });
});
