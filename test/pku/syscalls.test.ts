/**
 * Debian's libsodium and a library that phones home, in domains isolated by
 * protection keys, with their system calls going through the syscall gate
 * and the domain's policy.
 */
import { beforeAll, describe, expect, test } from 'vitest';

import type { SyscallEvent } from '../../src/domain.js';
import { PolicyViolation } from '../../src/errors.js';
import { domainPool } from '../support/domain-pool.js';
import { buildLoaderFixtures, type LoaderFixtures } from '../support/loader-fixtures.js';
import { pkuPlatform, requirePku } from '../support/pku.js';
import { checkSodium } from '../support/sodium.js';

const EPERM = 1;
let fixtures: LoaderFixtures;

beforeAll(() => {
  requirePku();
  fixtures = buildLoaderFixtures();
}, 120_000);

const domain = domainPool({ isolation: 'pku' });

describe(`system calls under protection keys (${pkuPlatform()})`, () => {
  test('libsodium works in a no-network domain: vectors, secretbox, randomness', async () => {
    const target = await domain({ policy: 'no-network' });
    const events: SyscallEvent[] = [];
    target.on('syscall', (event: SyscallEvent) => events.push(event));
    await checkSodium(target);
    expect(events.some((event) => event.syscall === 'getrandom' && event.allowed)).toBe(true);
  }, 120_000);

  test('a library that calls socket gets EPERM, and with throw a PolicyViolation', async () => {
    const quiet = await (await domain({ policy: 'no-network' })).load(fixtures.network);
    expect(quiet.func('int network_phone_home(int port)')(9)).toBe(EPERM);

    const strict = await domain({ policy: 'no-network', onViolation: 'throw' });
    const library = await strict.load(fixtures.network);
    expect(() => library.func('int network_phone_home(int port)')(9)).toThrow(PolicyViolation);
  });
});
