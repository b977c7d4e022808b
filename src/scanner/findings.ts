/**
 * What the scanner reports. A finding is one byte offset of executable code
 * from which the CPU would decode an instruction that can change PKRU
 * (WRPKRU, XRSTOR) or the FS/GS base (WRFSBASE, WRGSBASE). Sandboxed code can
 * jump to any byte, so every offset counts, aligned with the compiler's
 * instructions or not; the classification says how the pattern came to be.
 */

/** Which forbidden instruction starts at the offset. */
export type FindingKind = 'wrpkru' | 'xrstor' | 'wrfsbase' | 'wrgsbase';

/**
 * How the pattern relates to the instructions found by decoding forward from
 * a trusted instruction boundary (a function start, a code section or segment):
 * - `intended`: it is that instruction, as the compiler or author wrote it;
 * - `spanning`: it starts inside one instruction and runs into the next;
 * - `immediate` / `displacement`: it lies inside one instruction's immediate
 *   operand (or relative branch target) / memory displacement;
 * - `opcode`: it lies inside another instruction's prefix, opcode, ModRM or SIB;
 * - `data`: executable bytes outside every code section (page padding, data
 *   placed in an executable segment), not decoded as code;
 * - `undecoded`: the bytes before it do not decode, so no instruction holds it;
 * - `unexplained`: past the number of findings one scan explains (a file
 *   with that many is hostile or broken); only the search vouches for it.
 */
export type Classification =
  | 'intended'
  | 'spanning'
  | 'immediate'
  | 'displacement'
  | 'opcode'
  | 'data'
  | 'undecoded'
  | 'unexplained';

/** The nearest symbol at or before a finding. */
export interface FindingSymbol {
  name: string;
  /** Distance in bytes from the symbol's address to the finding. */
  offset: number;
  /** The symbol's size; an offset at or past it means the finding follows the symbol. */
  size: number;
}

/** One decoded instruction near a finding. */
export interface ContextInstruction {
  address: number;
  /** The instruction's bytes in hex, e.g. `0f01ef`. */
  bytes: string;
  /** Capstone's text, Intel syntax, e.g. `wrpkru` or `mov eax, 0xef010f`. */
  text: string;
}

/** Where the linear sweep that explains a finding began. */
export interface SweepAnchor {
  /**
   * `symbol`: a function symbol; `unwind`: a function start from .eh_frame_hdr;
   * `section`: a code section; `segment`: an executable segment or mapping;
   * `nearby`: no trusted boundary close enough, so the sweep began a little
   * before the finding and relies on x86 decoding resynchronizing.
   */
  kind: 'symbol' | 'unwind' | 'section' | 'segment' | 'nearby';
  address: number;
}

/** One forbidden pattern in executable bytes. */
export interface Finding {
  kind: FindingKind;
  /** The file (or mapping, or the name given to in-memory code) holding it. */
  file: string;
  /** Offset in the file, or null for code that came from no file. */
  fileOffset: number | null;
  /** Virtual address: the ELF address for files, the live address in a process. */
  address: number;
  /** The pattern's bytes in hex, e.g. `0f01ef` or `f3480faed0`. */
  bytes: string;
  /** The section holding it, when the file has section headers. */
  section: string | null;
  symbol: FindingSymbol | null;
  classification: Classification;
  /** What the CPU decodes when execution starts at the finding, e.g. `xrstor ptr [rax]`. */
  instruction: string;
  /**
   * The instruction the pattern starts in, as decoded from the anchor, when
   * that is not the pattern itself, e.g. `movups xmm1, xmmword ptr [rip + 0x128ae0f]`.
   */
  container: string | null;
  /** Instructions around the finding, from the same sweep. */
  context: ContextInstruction[];
  anchor: SweepAnchor | null;
}

/** Returns `0x` and the hex digits of a non-negative integer. */
export function hex(value: number): string {
  return `0x${value.toString(16)}`;
}
