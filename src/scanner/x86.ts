/**
 * The byte layout of one x86-64 instruction: which bytes are prefixes,
 * opcode, ModRM, SIB, displacement and immediate (Intel SDM vol. 2, chapter 2,
 * "Instruction Format").
 *
 * Capstone's WebAssembly build gives no operand details, so the scanner
 * derives the layout itself. It needs only the fields up to the
 * displacement: the instruction's total length comes from Capstone, and
 * whatever follows the displacement is the immediate (or a relative branch
 * target, which the SDM encodes in the same place).
 */

/** The part of an instruction a byte belongs to. */
export type Field = 'prefix' | 'opcode' | 'modrm' | 'sib' | 'displacement' | 'immediate';

/** Field boundaries as offsets into the instruction; each field ends where the next begins. */
export interface Layout {
  opcode: number;
  /** Offset of ModRM, or -1 when the opcode takes none. */
  modrm: number;
  displacement: number;
  immediate: number;
  size: number;
}

/** Legacy prefixes (groups 1 to 4). */
const LEGACY_PREFIX = new Set([0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x66, 0x67]);

/** One-byte opcodes that take no ModRM, as [first, last] ranges. */
// prettier-ignore
const ONE_BYTE_WITHOUT_MODRM: Array<[number, number]> = [
  [0x04, 0x07], [0x0c, 0x0e], [0x14, 0x17], [0x1c, 0x1f], [0x24, 0x27], [0x2c, 0x2f],
  [0x34, 0x37], [0x3c, 0x3f], [0x50, 0x61], [0x68, 0x68], [0x6a, 0x6a], [0x6c, 0x7f],
  [0x90, 0xbf], [0xc2, 0xc3], [0xc8, 0xcf], [0xd4, 0xd7], [0xe0, 0xef], [0xf1, 0xf1],
  [0xf4, 0xf5], [0xf8, 0xfd],
];

/** Two-byte (0F xx) opcodes that take no ModRM. */
// prettier-ignore
const TWO_BYTE_WITHOUT_MODRM: Array<[number, number]> = [
  [0x04, 0x0b], [0x0e, 0x0e], [0x30, 0x37], [0x77, 0x77], [0x80, 0x8f], [0xa0, 0xa2],
  [0xa8, 0xaa], [0xc8, 0xcf],
];

const HAS_MODRM_ONE = table(ONE_BYTE_WITHOUT_MODRM);
const HAS_MODRM_TWO = table(TWO_BYTE_WITHOUT_MODRM);

/** Returns a 256-entry table that is 1 except inside the ranges. */
function table(without: Array<[number, number]>): Uint8Array {
  const result = new Uint8Array(256).fill(1);
  for (const [first, last] of without) result.fill(0, first, last + 1);
  return result;
}

/** Lays out one complete instruction (`bytes.length` is its size). */
export function layout(bytes: Uint8Array): Layout {
  const size = bytes.length;
  let at = 0;
  while (at < size && LEGACY_PREFIX.has(bytes[at])) at++;
  if (at < size && (bytes[at] & 0xf0) === 0x40) at++;
  const opcode = at;

  let hasModrm: boolean;
  let moffset = false;
  const first = bytes[at];
  if (first === 0xc5 || first === 0xc4 || first === 0x62) {
    // VEX (2 or 3 bytes) and EVEX (4 bytes), then one opcode byte; in 64-bit
    // mode these bytes always start a vector encoding.
    const map = first === 0xc5 ? 1 : bytes[at + 1] & 0x1f;
    at += first === 0xc5 ? 2 : first === 0xc4 ? 3 : 4;
    hasModrm = !(map === 1 && bytes[at] === 0x77); // VZEROUPPER, VZEROALL
    at++;
  } else if (first === 0x8f && (bytes[at + 1] & 0x1f) >= 8) {
    at += 4; // AMD XOP: 8F, two payload bytes, opcode; always ModRM
    hasModrm = true;
  } else if (first === 0x0f) {
    const second = bytes[at + 1];
    if (second === 0x38 || second === 0x3a) {
      at += 3;
      hasModrm = true;
    } else {
      at += 2;
      hasModrm = HAS_MODRM_TWO[second] === 1;
    }
  } else {
    at += 1;
    hasModrm = HAS_MODRM_ONE[first] === 1;
    moffset = first >= 0xa0 && first <= 0xa3;
  }

  if (!hasModrm) {
    // MOV with a 64-bit absolute address (A0-A3) carries a displacement, not an immediate.
    const end = Math.min(at, size);
    return moffset
      ? { opcode, modrm: -1, displacement: end, immediate: size, size }
      : { opcode, modrm: -1, displacement: end, immediate: end, size };
  }

  const modrm = at;
  const mod = bytes[modrm] >> 6;
  const rm = bytes[modrm] & 7;
  let displacement = modrm + 1;
  let length = mod === 1 ? 1 : mod === 2 ? 4 : 0;
  if (mod !== 3 && rm === 4) {
    const base = bytes[displacement] & 7;
    displacement++; // SIB
    if (mod === 0 && base === 5) length = 4;
  } else if (mod === 0 && rm === 5) {
    length = 4; // RIP-relative
  }
  const clamp = (offset: number) => Math.min(offset, size);
  return {
    opcode,
    modrm: clamp(modrm),
    displacement: clamp(displacement),
    immediate: clamp(displacement + length),
    size,
  };
}

/** Returns the field that holds byte `offset` of an instruction with this layout. */
export function fieldAt(shape: Layout, offset: number): Field {
  if (offset < shape.opcode) return 'prefix';
  if (shape.modrm < 0 ? offset < shape.displacement : offset < shape.modrm) return 'opcode';
  if (shape.modrm >= 0 && offset === shape.modrm) return 'modrm';
  if (offset < shape.displacement) return 'sib';
  if (offset < shape.immediate) return 'displacement';
  return 'immediate';
}
