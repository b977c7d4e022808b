/** `keycell demo` on a kernel with protection keys: every step reports what it promises. */
import { beforeAll, expect, test } from 'vitest';

import { runDemo } from '../../src/demo.js';
import { pkuPlatform, requirePku } from '../support/pku.js';

beforeAll(requirePku);

test(`keycell demo contains the misbehaving library (${pkuPlatform()})`, async () => {
  const lines: string[] = [];
  const status = await runDemo(undefined, (line) => lines.push(line));
  const output = lines.join('\n');
  expect(status).toBe(0);
  expect(output).toMatch(/inflates it back: identical/);
  expect(output).toMatch(
    /socket\(2, 1, 0\) from 0x[0-9a-f]+: denied \(not allowed by the domain's policy\)/,
  );
  expect(output).toMatch(/connections that reached 127\.0\.0\.1:\d+: none/);
  expect(output).toMatch(/read at 0x[0-9a-f]+: stopped by protection keys/);
  expect(output).toMatch(/\[pku\]/);
  expect(output).toMatch(/the secret is intact: yes/);
}, 120_000);
