/**
 * The candidate search against the encoding rules: each forbidden
 * instruction at any offset, with and without prefixes, and the near misses
 * that share its opcode bytes but are other instructions.
 */
import { describe, expect, test } from 'vitest';

import { findPatterns } from '../../../src/index.js';
import { fieldAt, layout } from '../../../src/scanner/x86.js';

const bytes = (...values: number[]) => Uint8Array.from(values);
const found = (input: Uint8Array) =>
  findPatterns(input).map((hit) => [hit.kind, hit.offset, hit.length]);

describe('findPatterns', () => {
  test('WRPKRU at any offset', () => {
    expect(found(bytes(0x0f, 0x01, 0xef))).toEqual([['wrpkru', 0, 3]]);
    expect(found(bytes(0x90, 0xb8, 0x0f, 0x01, 0xef, 0x00))).toEqual([['wrpkru', 2, 3]]);
    expect(found(bytes(0x0f, 0x01, 0xee))).toEqual([]); // RDPKRU is harmless
  });

  test('XRSTOR needs ModRM reg 5 and a memory operand, prefixes or not', () => {
    expect(found(bytes(0x0f, 0xae, 0x28))).toEqual([['xrstor', 0, 3]]); // xrstor [rax]
    // xrstor64 [rsp + 0x40]: the finding sits on the 0F after the REX prefix
    expect(found(bytes(0x48, 0x0f, 0xae, 0x6c, 0x24, 0x40))).toEqual([['xrstor', 1, 3]]);
    expect(found(bytes(0x66, 0x0f, 0xae, 0xa8, 0, 0, 0, 0))).toEqual([['xrstor', 1, 3]]);
    expect(found(bytes(0x0f, 0xae, 0xe8))).toEqual([]); // lfence: reg 5 but mod 3
    expect(found(bytes(0x0f, 0xae, 0x20))).toEqual([]); // xsave [rax]: reg 4
  });

  test('WRFSBASE and WRGSBASE need the F3 prefix, with or without REX', () => {
    expect(found(bytes(0xf3, 0x0f, 0xae, 0xd0))).toEqual([['wrfsbase', 0, 4]]);
    expect(found(bytes(0xf3, 0x48, 0x0f, 0xae, 0xd8))).toEqual([['wrgsbase', 0, 5]]);
    expect(found(bytes(0xf3, 0x66, 0x0f, 0xae, 0xd0))).toEqual([['wrfsbase', 0, 5]]);
    expect(found(bytes(0x90, 0x0f, 0xae, 0xd0))).toEqual([]); // no F3: no valid instruction
    expect(found(bytes(0xf3, 0x0f, 0xae, 0xc0))).toEqual([]); // rdfsbase reads only
  });

  test('a pattern cut off by the end of the range is not reported', () => {
    expect(found(bytes(0x90, 0x0f, 0x01))).toEqual([]);
    expect(findPatterns(bytes(0x0f, 0x01, 0xef, 0x90), 0, 2)).toEqual([]);
    expect(findPatterns(bytes(0x0f, 0x01, 0xef, 0x0f, 0x01, 0xef), 1)).toEqual([
      { kind: 'wrpkru', offset: 3, length: 3 },
    ]);
  });
});

describe('instruction layout', () => {
  test('finds displacement and immediate fields', () => {
    // mov eax, 0xef010f: opcode, then a 4-byte immediate
    const move = layout(bytes(0xb8, 0x0f, 0x01, 0xef, 0x00));
    expect([0, 1, 4].map((offset) => fieldAt(move, offset))).toEqual([
      'opcode',
      'immediate',
      'immediate',
    ]);
    // movsd xmm1, [rip + disp32]: prefix, 0F 10, ModRM, displacement
    const load = layout(bytes(0xf2, 0x0f, 0x10, 0x0d, 0x0f, 0xae, 0x28, 0x01));
    expect([0, 1, 3, 4, 7].map((offset) => fieldAt(load, offset))).toEqual([
      'prefix',
      'opcode',
      'modrm',
      'displacement',
      'displacement',
    ]);
    // mov dword ptr [rsp + 8], 0x12345678: ModRM, SIB, disp8, imm32
    const store = layout(bytes(0xc7, 0x44, 0x24, 0x08, 0x78, 0x56, 0x34, 0x12));
    expect([1, 2, 3, 4].map((offset) => fieldAt(store, offset))).toEqual([
      'modrm',
      'sib',
      'displacement',
      'immediate',
    ]);
    // mov eax, [moffs64]: the 8 address bytes are a displacement
    const absolute = layout(bytes(0xa1, 1, 2, 3, 4, 5, 6, 7, 8));
    expect(fieldAt(absolute, 5)).toBe('displacement');
    // vpaddd ymm0, ymm1, [rax + 0x10]: VEX bytes count as opcode
    const vector = layout(bytes(0xc5, 0xf5, 0xfe, 0x40, 0x10));
    expect([0, 2, 3, 4].map((offset) => fieldAt(vector, offset))).toEqual([
      'opcode',
      'opcode',
      'modrm',
      'displacement',
    ]);
  });
});
