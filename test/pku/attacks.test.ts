/**
 * The attack suite under protection keys, on the guest's kernels: every raw
 * system call of the hostile library is trapped by Syscall User Dispatch,
 * denied by the policy, and the process lives on.
 */
import { beforeAll } from 'vitest';

import { describeAttacks } from '../support/attack-suite.js';
import { buildLoaderFixtures, type LoaderFixtures } from '../support/loader-fixtures.js';
import { pkuPlatform, requirePku } from '../support/pku.js';

let fixtures: LoaderFixtures;

beforeAll(() => {
  requirePku();
  fixtures = buildLoaderFixtures();
}, 120_000);

describeAttacks('pku', pkuPlatform(), () => fixtures);
