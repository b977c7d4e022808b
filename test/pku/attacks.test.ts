/**
 * The attack suite under protection keys, on the guest's kernels: every raw
 * system call of the hostile library is trapped by Syscall User Dispatch,
 * denied by the policy, and the process lives on.
 */
import { beforeAll, describe, expect, test } from 'vitest';

import { attacks, runAttacks } from '../support/attacks.js';
import { domainPool } from '../support/domain-pool.js';
import { buildLoaderFixtures, type LoaderFixtures } from '../support/loader-fixtures.js';
import { pkuPlatform, requirePku } from '../support/pku.js';

let fixtures: LoaderFixtures;
const domain = domainPool({ isolation: 'pku', policy: 'no-network' });

beforeAll(() => {
  requirePku();
  fixtures = buildLoaderFixtures();
}, 120_000);

describe(`raw system calls from a hostile library (${pkuPlatform()})`, () => {
  test('every attack is denied, reported and survived', async () => {
    const target = await domain();
    const outcomes = await runAttacks(target, await target.load(fixtures.rawSyscalls));
    const expected = attacks(0);
    expect(outcomes).toHaveLength(expected.length);
    outcomes.forEach((outcome, index) => {
      expect(outcome.returned, outcome.attack).toBe(-expected[index].errno);
      expect(outcome.event, outcome.attack).toMatchObject({ allowed: false });
    });
    expect(outcomes.find((o) => o.attack === 'open /proc/self/mem')?.event?.reason).toMatch(
      /exposes process memory/,
    );
  });

  test('an allowed raw system call is served, registers kept as SYSCALL leaves them', async () => {
    const target = await domain();
    const library = await target.load(fixtures.rawSyscalls);
    const raw = library.func(
      'long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5)',
    );
    expect(raw(39, 0, 0, 0, 0, 0)).toBe(process.pid);
    expect(library.func('long raw_syscall_keeps_registers(long nr)')(39)).toBe(1125);
  });
});
