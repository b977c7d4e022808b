/**
 * The attack suite with isolation 'none': Syscall User Dispatch and the
 * policy work without protection keys too, so every raw system call of the
 * hostile library must be denied here as well.
 */
import { beforeAll } from 'vitest';

import { describeAttacks } from '../support/attack-suite.js';
import { buildLoaderFixtures, type LoaderFixtures } from '../support/loader-fixtures.js';

let fixtures: LoaderFixtures;

beforeAll(() => {
  fixtures = buildLoaderFixtures();
});

describeAttacks('none', "isolation 'none'", () => fixtures);
