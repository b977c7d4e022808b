/**
 * The candidate search: every byte offset that starts a forbidden instruction.
 *
 * All four instructions share a two-byte opcode prefix, so the search runs
 * Buffer.indexOf (memchr-speed in V8) over `0F 01` and `0F AE` and checks the
 * byte after each hit against the rules below (Intel SDM vol. 2):
 * - WRPKRU: 0F 01 EF.
 * - XRSTOR / XRSTOR64: 0F AE /5 with a memory operand (ModRM reg = 5, mod != 3).
 *   Prefixes cannot make 0F AE /5 harmless, so the finding sits on the 0F byte
 *   whatever precedes it; a jump there skips any prefix anyway.
 * - WRFSBASE / WRGSBASE: F3 [REX] 0F AE /2 or /3 with mod = 3. Without the F3
 *   these bytes are no valid instruction, so the finding sits on the F3. Other
 *   legacy prefixes and REX bytes between the F3 and the 0F are allowed too,
 *   since the CPU only ignores them.
 */
import type { FindingKind } from './findings.js';

/** One pattern: where it starts and how many bytes make it. */
export interface PatternHit {
  kind: FindingKind;
  offset: number;
  length: number;
}

const WRPKRU_PREFIX = Buffer.from([0x0f, 0x01]);
const GROUP15_PREFIX = Buffer.from([0x0f, 0xae]);
const WRPKRU_THIRD = 0xef;
const F3 = 0xf3;

/** The longest x86 instruction: bounds how far back a prefix run can reach. */
export const MAX_INSTRUCTION = 15;

/** Legacy prefixes and REX: bytes the CPU accepts before an opcode. */
const PREFIX = new Uint8Array(256);
for (const byte of [0xf0, 0xf2, 0xf3, 0x2e, 0x36, 0x3e, 0x26, 0x64, 0x65, 0x66, 0x67]) {
  PREFIX[byte] = 1;
}
for (let rex = 0x40; rex <= 0x4f; rex++) PREFIX[rex] = 1;

/**
 * Returns every pattern that lies wholly in [start, end) of `bytes`, sorted by
 * offset. Callers that join ranges (adjacent executable segments) search the
 * seam separately, so nothing that crosses a range boundary is lost.
 */
export function findPatterns(bytes: Uint8Array, start = 0, end = bytes.length): PatternHit[] {
  const buffer = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const hits: PatternHit[] = [];

  for (let at = buffer.indexOf(WRPKRU_PREFIX, start); at >= 0 && at + 3 <= end;) {
    if (buffer[at + 2] === WRPKRU_THIRD) hits.push({ kind: 'wrpkru', offset: at, length: 3 });
    at = buffer.indexOf(WRPKRU_PREFIX, at + 1);
  }

  for (let at = buffer.indexOf(GROUP15_PREFIX, start); at >= 0 && at + 3 <= end;) {
    const modrm = buffer[at + 2];
    const mod = modrm >> 6;
    const reg = (modrm >> 3) & 7;
    if (mod !== 3 && reg === 5) {
      hits.push({ kind: 'xrstor', offset: at, length: 3 });
    } else if (mod === 3 && (reg === 2 || reg === 3)) {
      const prefix = nearestF3(buffer, at, start);
      if (prefix >= 0) {
        hits.push({
          kind: reg === 2 ? 'wrfsbase' : 'wrgsbase',
          offset: prefix,
          length: at + 3 - prefix,
        });
      }
    }
    at = buffer.indexOf(GROUP15_PREFIX, at + 1);
  }

  return hits.sort((a, b) => a.offset - b.offset);
}

/** Returns the offset of the F3 nearest to the opcode at `opcode` in its prefix run, or -1. */
function nearestF3(bytes: Uint8Array, opcode: number, start: number): number {
  const limit = Math.max(start, opcode - (MAX_INSTRUCTION - 3));
  for (let at = opcode - 1; at >= limit && PREFIX[bytes[at]]; at--) {
    if (bytes[at] === F3) return at;
  }
  return -1;
}
