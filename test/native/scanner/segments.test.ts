/**
 * The API a loader calls before code becomes executable: findings are
 * explained with the given symbols, a refusal is a ScanError that carries
 * them, patterns across the seam of adjacent segments count, and bad
 * arguments are TypeErrors.
 */
import fs from 'node:fs';

import { describe, expect, test } from 'vitest';

import {
  assertNoFindings,
  elfCodeMap,
  executableRegions,
  parseElf,
  scanSegments,
  ScanError,
} from '../../../src/index.js';

const NOP = 0x90;

describe('scanSegments and assertNoFindings', () => {
  test('clean code passes', async () => {
    const code = new Uint8Array(64).fill(NOP);
    await expect(
      assertNoFindings([{ bytes: code, address: 0x10000 }], { file: 'clean' }),
    ).resolves.toBeUndefined();
  });

  test('a finding refuses the load with a ScanError carrying the findings', async () => {
    const code = Uint8Array.from([NOP, NOP, 0x0f, 0x01, 0xef, 0xc3]);
    const error = await assertNoFindings([{ bytes: code, address: 0x20000, fileOffset: 0x400 }], {
      file: 'plugin.so',
    }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(ScanError);
    const scanError = error as ScanError;
    expect(scanError.code).toBe('FINDINGS');
    expect(scanError.file).toBe('plugin.so');
    expect(scanError.findings).toHaveLength(1);
    expect(scanError.findings[0]).toMatchObject({
      kind: 'wrpkru',
      address: 0x20002,
      fileOffset: 0x402,
      classification: 'intended',
    });
    expect(scanError.message).toMatch(
      /plugin\.so: 1 forbidden instruction pattern: wrpkru at 0x20002/,
    );
  });

  test('a pattern across two adjacent segments is found', async () => {
    const first = Uint8Array.from([NOP, NOP, NOP, 0x0f]);
    const second = Uint8Array.from([0xae, 0x28, NOP]);
    const findings = await scanSegments(
      [
        { bytes: second, address: 0x3004 },
        { bytes: first, address: 0x3000 },
      ],
      { file: 'split' },
    );
    expect(findings.map((finding) => [finding.kind, finding.address])).toEqual([
      ['xrstor', 0x3003],
    ]);
  });

  test('findings name the symbol from a code map', async () => {
    const image = parseElf(fs.readFileSync('/lib/x86_64-linux-gnu/libc.so.6'), 'libc.so.6');
    const segments = executableRegions(image);
    const findings = await scanSegments(segments, {
      file: 'libc.so.6',
      codeMap: elfCodeMap(image),
    });
    expect(findings.some((finding) => finding.symbol?.name.startsWith('pkey_set'))).toBe(true);
  });

  test('code packed with patterns is reported in full without stalling', async () => {
    const code = new Uint8Array(3 * 4000);
    for (let at = 0; at < code.length; at += 3) code.set([0x0f, 0x01, 0xef], at);
    const started = performance.now();
    const findings = await scanSegments([{ bytes: code, address: 0x40000 }], { file: 'packed' });
    expect(findings).toHaveLength(4000);
    expect(findings[0].classification).toBe('intended');
    const unexplained = findings.filter((finding) => finding.classification === 'unexplained');
    expect(unexplained).toHaveLength(3000);
    expect(performance.now() - started).toBeLessThan(20_000); // a stall would take minutes
  });

  test('bad arguments are TypeErrors', async () => {
    await expect(scanSegments('code' as never, { file: 'x' })).rejects.toThrow(TypeError);
    await expect(
      scanSegments([{ bytes: [1, 2] as never, address: 0 }], { file: 'x' }),
    ).rejects.toThrow(/segments\[0\]\.bytes must be a Uint8Array/);
    await expect(
      scanSegments([{ bytes: new Uint8Array(1), address: -1 }], { file: 'x' }),
    ).rejects.toThrow(/address/);
    await expect(scanSegments([], {} as never)).rejects.toThrow(/options\.file/);
  });
});
