/**
 * Thousands of deterministic mutations of real ELF files: every outcome must
 * be a list of findings or a ScanError, never another exception or a hang.
 * The mutations aim at the headers, where the parser's trust decisions are,
 * and also hit code, symbol tables and the unwind table at random.
 */
import fs from 'node:fs';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { parseElf, scanElf, ScanError } from '../../../src/index.js';
import { buildFixture, temporaryDirectory } from '../../support/scanner-fixtures.js';

const CASES_PER_FILE = 4000;

/** mulberry32: a small seeded PRNG, so a failing case can be replayed. */
function generator(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let value = state;
    value = Math.imul(value ^ (value >>> 15), value | 1);
    value ^= value + Math.imul(value ^ (value >>> 7), value | 61);
    return ((value ^ (value >>> 14)) >>> 0) / 4294967296;
  };
}

const EXTREMES = [0n, 1n, 0x7fffffffn, 0xffffffffn, 1n << 53n, (1n << 64n) - 1n, 0x1000n];

/** Returns a mutated copy of `original`; the mutation depends only on `random`. */
function mutate(original: Uint8Array, random: () => number): Uint8Array {
  const pick = (limit: number) => Math.floor(random() * limit);
  const strategy = pick(5);
  if (strategy === 0) return original.slice(0, pick(original.length)); // truncation

  const bytes = Uint8Array.from(original);
  const view = new DataView(bytes.buffer);
  const edits = 1 + pick(6);
  for (let edit = 0; edit < edits; edit++) {
    if (strategy === 1) {
      bytes[pick(bytes.length)] = pick(256); // anywhere
    } else if (strategy === 2) {
      bytes[pick(Math.min(bytes.length, 0x400))] = pick(256); // ELF and program headers
    } else {
      // A whole field at the ELF header, a program header or a section header.
      const phoff = Number(view.getBigUint64(32, true));
      const shoff = Number(view.getBigUint64(40, true));
      const bases = [0, phoff + 56 * pick(8), shoff + 64 * pick(30)];
      const at = bases[pick(bases.length)] + 8 * pick(8);
      if (at + 8 > bytes.length) continue;
      if (strategy === 3) view.setBigUint64(at, EXTREMES[pick(EXTREMES.length)], true);
      else view.setUint32(at, pick(0x100000000), true);
    }
  }
  return bytes;
}

let directory: string;
let fixture: Uint8Array;

beforeAll(() => {
  directory = temporaryDirectory();
  fixture = fs.readFileSync(buildFixture(directory, 'immediate.c', 'immediate'));
});

afterAll(() => {
  fs.rmSync(directory, { recursive: true, force: true });
});

describe('fuzzing the ELF reader and the scanner', () => {
  const title = `${CASES_PER_FILE} mutations each of /bin/true and a fixture`;
  test(`${title} give findings or a ScanError`, async () => {
    const outcomes = new Map<string, number>();
    const count = (key: string) => outcomes.set(key, (outcomes.get(key) ?? 0) + 1);

    for (const [name, original] of [
      ['/bin/true', fs.readFileSync('/bin/true')],
      ['fixture', fixture],
    ] as const) {
      const random = generator(name.length * 7919);
      for (let index = 0; index < CASES_PER_FILE; index++) {
        const bytes = mutate(original, random);
        try {
          const findings = await scanElf(bytes, `${name}#${index}`);
          // Also walk the lazily parsed tables, which a clean scan never reads.
          const image = parseElf(bytes, `${name}#${index}`);
          const symbols = image.symbols();
          for (let symbol = 0; symbol < symbols.count; symbol++) symbols.name(symbol);
          image.functionStarts();
          count(findings.length > 0 ? 'findings' : 'clean');
        } catch (error) {
          if (!(error instanceof ScanError)) {
            throw new Error(`${name} case ${index} threw ${String(error)}`, { cause: error });
          }
          count(`ScanError ${error.code}`);
        }
      }
    }

    if (process.env.KEYCELL_FUZZ_REPORT) console.log(Object.fromEntries(outcomes));
    const total = [...outcomes.values()].reduce((sum, value) => sum + value, 0);
    expect(total).toBe(2 * CASES_PER_FILE);
    // The mutations must reach both sides: accepted files and each kind of rejection.
    expect(outcomes.get('clean')).toBeGreaterThan(0);
    expect(outcomes.get('findings')).toBeGreaterThan(0);
    expect(outcomes.get('ScanError ELF_MALFORMED')).toBeGreaterThan(0);
  }, 60_000);
});
