/**
 * Libraries built from source, each with one planted pattern, are classified
 * as the pattern was planted; bytes in .rodata, which is not executable, are
 * not reported unless the link puts .rodata in the executable segment.
 */
import fs from 'node:fs';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { scanElf, type Finding } from '../../../src/index.js';
import { buildFixture, temporaryDirectory } from '../../support/scanner-fixtures.js';

let directory: string;
const libraries: Record<string, string> = {};

async function scan(name: string): Promise<Finding[]> {
  return scanElf(fs.readFileSync(libraries[name]), libraries[name]);
}

/** Scans a fixture that must hold exactly one finding; returns it. */
async function onlyFinding(name: string): Promise<Finding> {
  const findings = await scan(name);
  expect(findings).toHaveLength(1);
  return findings[0];
}

beforeAll(() => {
  directory = temporaryDirectory();
  libraries.intended = buildFixture(directory, 'intended.S', 'intended');
  libraries.spanning = buildFixture(directory, 'spanning.S', 'spanning');
  libraries.immediate = buildFixture(directory, 'immediate.c', 'immediate');
  libraries.displacement = buildFixture(directory, 'displacement.c', 'displacement');
  libraries.rodata = buildFixture(directory, 'rodata.c', 'rodata');
  libraries.rodataExecutable = buildFixture(directory, 'rodata.c', 'rodata-executable', [
    '-Wl,-z,noseparate-code',
  ]);
});

afterAll(() => {
  fs.rmSync(directory, { recursive: true, force: true });
});

describe('planted patterns', () => {
  test('an intended WRPKRU is reported as intended, in its function', async () => {
    const finding = await onlyFinding('intended');
    expect(finding).toMatchObject({
      kind: 'wrpkru',
      classification: 'intended',
      instruction: 'wrpkru',
      container: null,
      section: '.text',
      bytes: '0f01ef',
      symbol: { name: 'set_pkru', offset: 6 },
      anchor: { kind: 'symbol' },
    });
    expect(finding.fileOffset).toBe(finding.address); // this layout maps .text at its file offset
  });

  test('a WRPKRU across a MOV and an OUT spans two instructions', async () => {
    const finding = await onlyFinding('spanning');
    expect(finding).toMatchObject({
      kind: 'wrpkru',
      classification: 'spanning',
      container: 'mov eax, 0x10f0000',
      symbol: { name: 'port_write' },
    });
    expect(finding.context.map((instruction) => instruction.text)).toContain('out dx, eax');
  });

  test('a WRPKRU in a constant is inside an immediate', async () => {
    const finding = await onlyFinding('immediate');
    expect(finding).toMatchObject({
      kind: 'wrpkru',
      classification: 'immediate',
      container: 'mov eax, 0xef010f',
      instruction: 'wrpkru',
      symbol: { name: 'magic_constant', offset: 1 },
    });
  });

  test('an XRSTOR in a memory offset is inside a displacement', async () => {
    const finding = await onlyFinding('displacement');
    expect(finding).toMatchObject({
      kind: 'xrstor',
      classification: 'displacement',
      bytes: '0fae28',
      instruction: 'xrstor ptr [rax]',
      symbol: { name: 'far_byte' },
    });
    expect(finding.container).toMatch(/^movsx eax, byte ptr \[rdi \+ 0x28ae0f00\]$/);
  });

  test('patterns in non-executable .rodata are not reported', async () => {
    expect(await scan('rodata')).toEqual([]);
  });

  test('the same .rodata linked into the executable segment is reported as data', async () => {
    const findings = await scan('rodataExecutable');
    expect(
      findings.map((finding) => [finding.kind, finding.classification, finding.section]),
    ).toEqual([
      ['wrpkru', 'data', '.rodata'],
      ['xrstor', 'data', '.rodata'],
    ]);
  });
});
