/** The attack suite as a vitest block, for the native and the PKU suites alike. */
import { describe, expect, test } from 'vitest';

import type { Isolation } from '../../src/domain.js';
import { attacks, runAttacks } from './attacks.js';
import { domainPool } from './domain-pool.js';
import type { LoaderFixtures } from './loader-fixtures.js';

/** Declares the attack tests for domains of `isolation`; `fixtures` is read when they run. */
export function describeAttacks(
  isolation: Isolation,
  label: string,
  fixtures: () => LoaderFixtures,
): void {
  const domain = domainPool({ isolation, policy: 'no-network' });

  describe(`raw system calls from a hostile library (${label})`, () => {
    test('every attack is denied, reported and survived', async () => {
      const target = await domain();
      const outcomes = await runAttacks(target, await target.load(fixtures().rawSyscalls));
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
      const library = await target.load(fixtures().rawSyscalls);
      const raw = library.func(
        'long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5)',
      );
      expect(raw(39, 0, 0, 0, 0, 0)).toBe(process.pid);
      expect(library.func('long raw_syscall_keeps_registers(long nr)')(39)).toBe(1125);
    });
  });
}
