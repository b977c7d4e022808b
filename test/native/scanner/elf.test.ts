/**
 * Malformed and unsupported ELF files give a ScanError that names the file
 * and the defect.
 */
import fs from 'node:fs';

import { describe, expect, test } from 'vitest';

import { executableRegions, parseElf, scanElf, ScanError } from '../../../src/index.js';

const TRUE = fs.readFileSync('/bin/true');

/** Returns a copy of /bin/true with `edit` applied. */
function edited(edit: (view: DataView, bytes: Uint8Array) => void): Uint8Array {
  const bytes = Uint8Array.from(TRUE);
  edit(new DataView(bytes.buffer), bytes);
  return bytes;
}

function defectOf(bytes: Uint8Array): { code: string; defect: string | null; message: string } {
  try {
    parseElf(bytes, 'sample');
  } catch (error) {
    expect(error).toBeInstanceOf(ScanError);
    const scanError = error as ScanError;
    expect(scanError.file).toBe('sample');
    expect(scanError.message).toContain('sample');
    return { code: scanError.code, defect: scanError.defect, message: scanError.message };
  }
  throw new Error('expected a ScanError');
}

describe('ELF defects', () => {
  test('a well-formed executable parses', () => {
    const image = parseElf(TRUE, '/bin/true');
    expect(image.segments.some((segment) => segment.executable)).toBe(true);
    expect(image.sections.some((section) => section.name === '.text' && section.code)).toBe(true);
    expect(image.functionStarts().length).toBeGreaterThan(0);
  });

  test('each defect is named', () => {
    expect(defectOf(new Uint8Array(3)).defect).toBe('no ELF magic number');
    expect(defectOf(TRUE.subarray(0, 40)).defect).toMatch(/shorter than an ELF64 header/);
    expect(defectOf(TRUE.subarray(0, 1000)).defect).toMatch(/lies outside the file/);
    expect(defectOf(edited((view) => view.setUint16(54, 32, true))).defect).toMatch(
      /program header size is 32/,
    );
    expect(defectOf(edited((view) => view.setUint16(56, 0, true))).defect).toMatch(
      /no program headers/,
    );
    expect(defectOf(edited((view) => view.setBigUint64(32, 1n << 60n, true))).defect).toMatch(
      /program header offset \(e_phoff\) is 0x1000000000000000/,
    );
    expect(defectOf(edited((view) => view.setUint16(62, 999, true))).defect).toMatch(
      /section name table index 999/,
    );
  });

  test('a symbol table outside the file is named when symbols are read', () => {
    // Turn the null section 0, which is never bounds-checked, into a symbol table.
    const shoff = Number(new DataView(TRUE.buffer, TRUE.byteOffset).getBigUint64(40, true));
    const image = parseElf(
      edited((view) => {
        view.setUint32(shoff + 4, 2, true); // SHT_SYMTAB
        view.setBigUint64(shoff + 24, 1n << 40n, true);
        view.setBigUint64(shoff + 32, 48n, true);
      }),
      'sample',
    );
    expect(() => image.symbols()).toThrow(/sample: malformed ELF: .* contents .* lies outside/);
  });

  test('other machines and object files are unsupported, not malformed', () => {
    expect(defectOf(edited((view) => view.setUint16(18, 183, true)))).toMatchObject({
      code: 'ELF_UNSUPPORTED',
      defect: 'machine 183, not x86-64 (62)',
    });
    expect(defectOf(edited((view) => view.setUint16(16, 1, true))).code).toBe('ELF_UNSUPPORTED');
    expect(defectOf(edited((_, bytes) => (bytes[4] = 1))).defect).toMatch(/not 64-bit/);
  });

  test('scanElf rejects with the same error and checks its arguments', async () => {
    await expect(scanElf(new Uint8Array(8), 'tiny')).rejects.toThrow(/tiny: malformed ELF/);
    await expect(scanElf('x' as never, 'x')).rejects.toThrow(TypeError);
  });
});

describe('executable bytes as the loader maps them', () => {
  /** Returns /bin/true with a WRPKRU planted just past its code segment's p_filesz. */
  function plantedPastCode(): { bytes: Uint8Array; at: number; memorySizeField: number } {
    const image = parseElf(TRUE, '/bin/true');
    const code = image.segments.find((segment) => segment.executable)!;
    const at = code.fileOffset + code.fileSize;
    expect(at % 0x1000).not.toBe(0); // the page goes on past the segment
    const view = new DataView(TRUE.buffer, TRUE.byteOffset, TRUE.byteLength);
    const memorySizeField = Number(view.getBigUint64(32, true)) + code.index * 56 + 40;
    return { bytes: edited((_, bytes) => bytes.set([0x0f, 0x01, 0xef], at)), at, memorySizeField };
  }

  test('file bytes sharing a page with code are executable and searched', async () => {
    const { bytes, at } = plantedPastCode();
    const findings = await scanElf(bytes, 'planted');
    expect(findings.map((finding) => [finding.kind, finding.fileOffset])).toEqual([['wrpkru', at]]);
    expect(findings[0].section).toBeNull();
    expect(findings[0].classification).toBe('data');
  });

  test('bytes the loader zeroes past p_filesz are not', async () => {
    const { bytes, at, memorySizeField } = plantedPastCode();
    const view = new DataView(bytes.buffer);
    view.setBigUint64(memorySizeField, view.getBigUint64(memorySizeField, true) + 16n, true);
    expect(await scanElf(bytes, 'zeroed')).toEqual([]);
    const [region] = executableRegions(parseElf(bytes, 'zeroed'));
    expect(region.bytes[at - (region.fileOffset ?? 0)]).toBe(0);
  });
});
