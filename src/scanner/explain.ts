/**
 * Explains a pattern hit with Capstone: which instruction it is, or which
 * instruction it hides in, and what code surrounds it.
 *
 * x86 instructions have no fixed alignment, so "the instruction at an
 * address" only means something relative to where decoding started. The
 * explanation therefore decodes linearly from a trusted instruction boundary
 * (a function symbol, an unwind-table function start, the start of a code
 * section or of the executable range) up to the hit, in windows Capstone can
 * hold, and reads the byte layout of the instruction the hit falls in.
 * Capstone runs only here, around hits: it decodes about 1 MB/s, while the
 * search that finds hits runs at memory speed.
 */
import type { CodeMap } from './code-map.js';
import { MAX_WINDOW, type Disassembler, type Instruction } from './capstone.js';
import type {
  Classification,
  ContextInstruction,
  Finding,
  FindingKind,
  SweepAnchor,
} from './findings.js';
import { MAX_INSTRUCTION, type PatternHit } from './patterns.js';
import { fieldAt, layout } from './x86.js';

/** Executable bytes at a known address, optionally from a file. */
export interface CodeRegion {
  bytes: Uint8Array;
  /** Address of bytes[0]. */
  address: number;
  /** File offset of bytes[0], or null for memory that came from no file. */
  fileOffset: number | null;
}

/** How far a sweep may run from its anchor; past this it starts near the hit instead. */
export const SWEEP_LIMIT = 256 * 1024;

/** Where a sweep starts when no trusted boundary lies within SWEEP_LIMIT. */
const NEARBY_BACKOFF = 256;

/** Instructions shown before and after the one holding a hit. */
const CONTEXT = 3;

/** A decoded instruction, or one byte Capstone could not decode (`invalid`). */
type Decoded = Instruction & { invalid?: true };

/**
 * Findings one scan explains with Capstone. Each costs at least one decode
 * call; past this many, findings keep their address and symbol only, so
 * that a file packed with patterns cannot stall the scan.
 */
export const EXPLAIN_LIMIT = 1000;

/** Explains hits; `budget` caps the bytes swept for all of them together. */
export class Explainer {
  private budget: number;
  private explained = 0;

  constructor(
    private readonly disassembler: Disassembler,
    private readonly file: string,
    private readonly map: CodeMap | null,
    budget: number,
  ) {
    this.budget = budget;
  }

  /** Returns the finding for a hit at `hit.offset` of `region`. */
  explain(region: CodeRegion, hit: PatternHit): Finding {
    const address = region.address + hit.offset;
    const section = this.map?.sectionAt(address) ?? null;
    const explain = this.explained++ < EXPLAIN_LIMIT;
    const finding: Finding = {
      kind: hit.kind,
      file: this.file,
      fileOffset: region.fileOffset === null ? null : region.fileOffset + hit.offset,
      address,
      bytes: toHex(region.bytes.subarray(hit.offset, hit.offset + hit.length)),
      section: section?.name ?? null,
      symbol: this.map?.symbolAt(address) ?? null,
      classification: explain ? 'data' : 'unexplained',
      instruction: explain ? this.decodeAt(region, hit.offset) : hit.kind,
      container: null,
      context: [],
      anchor: null,
    };

    // Executable bytes outside code sections are not instructions anyone meant
    // to run; decoding them from some boundary would explain nothing.
    if (!explain || (this.map?.hasSections && !section?.code)) return finding;

    const anchor = this.anchorFor(region, address, section?.start ?? null);
    const sectionEnd = section ? section.end - region.address : region.bytes.length;
    const sweep = this.sweep(region, anchor.address, address, sectionEnd);
    const container = sweep.holding;
    finding.anchor = anchor;
    finding.context = sweep.context.map(contextOf);
    if (!container || container.invalid) {
      finding.classification = 'undecoded';
      return finding;
    }
    finding.classification = classify(container, address, hit);
    if (finding.classification !== 'intended') finding.container = container.text;
    return finding;
  }

  /** Returns the text of the instruction decoded at the hit itself. */
  private decodeAt(region: CodeRegion, offset: number): string {
    const bytes = region.bytes.subarray(offset, offset + MAX_INSTRUCTION);
    return this.disassembler.decode(bytes, region.address + offset, 1)[0]?.text ?? '(invalid)';
  }

  /** Picks the closest trusted boundary at or before `address` inside the region. */
  private anchorFor(region: CodeRegion, address: number, sectionStart: number | null): SweepAnchor {
    let anchor: SweepAnchor = { kind: 'segment', address: region.address };
    if (sectionStart !== null && sectionStart > anchor.address && sectionStart <= address) {
      anchor = { kind: 'section', address: sectionStart };
    }
    const function_ = this.map?.anchorAt(address);
    if (function_ && function_.address > anchor.address) anchor = function_;

    const distance = address - anchor.address;
    if (distance > SWEEP_LIMIT || distance > this.budget) {
      anchor = { kind: 'nearby', address: Math.max(region.address, address - NEARBY_BACKOFF) };
    }
    this.budget -= address - anchor.address;
    return anchor;
  }

  /**
   * Decodes linearly from `from` until CONTEXT instructions past the one
   * holding `address`, or until `limit` (an offset in the region: the end of
   * the code section); returns that instruction and the context around it.
   */
  private sweep(region: CodeRegion, from: number, address: number, limit: number) {
    // Stop at the section's end, but never before the instruction holding the
    // hit is complete: a pattern may run from the last instruction onwards.
    const offset = address - region.address;
    const wanted = offset + (CONTEXT + 1) * MAX_INSTRUCTION;
    const end = Math.min(region.bytes.length, Math.max(limit, offset + MAX_INSTRUCTION), wanted);
    const before: Decoded[] = [];
    const after: Decoded[] = [];
    let holding: Decoded | null = null;

    let at = from - region.address;
    while (at < end && after.length < CONTEXT) {
      const windowEnd = Math.min(end, at + MAX_WINDOW);
      const decoded: Decoded[] = this.disassembler.decode(
        region.bytes.subarray(at, windowEnd),
        region.address + at,
      );
      const next = decoded.length > 0 ? endOf(decoded[decoded.length - 1]) - region.address : at;
      // Capstone stops at the first undecodable byte. Near the window's end
      // that is a cut instruction, decoded again by the next window; anywhere
      // else it is a byte no instruction starts with: step over it.
      const cut = windowEnd < region.bytes.length && next > windowEnd - MAX_INSTRUCTION;
      if (next < windowEnd && !cut) decoded.push(invalidByte(region, next));

      for (const instruction of decoded) {
        if (holding) {
          after.push(instruction);
          if (after.length === CONTEXT) break;
        } else if (address < instruction.address + instruction.size) {
          holding = instruction;
        } else {
          before.push(instruction);
          if (before.length > CONTEXT) before.shift();
        }
      }
      const last = decoded[decoded.length - 1];
      const advanced = last ? endOf(last) - region.address : at;
      if (advanced <= at) break;
      at = advanced;
    }
    return { holding, context: [...before, ...(holding ? [holding] : []), ...after] };
  }
}

/** Returns the address just past an instruction. */
function endOf(instruction: Instruction): number {
  return instruction.address + instruction.size;
}

/** Returns a one-byte placeholder for a byte Capstone would not decode. */
function invalidByte(region: CodeRegion, offset: number): Decoded {
  const bytes = region.bytes.subarray(offset, offset + 1);
  return {
    address: region.address + offset,
    size: 1,
    bytes,
    mnemonic: '(bad)',
    text: '(bad)',
    invalid: true,
  };
}

/** Says how a pattern at `address` relates to the instruction that holds its first byte. */
function classify(holding: Instruction, address: number, hit: PatternHit): Classification {
  if (address + hit.length > holding.address + holding.size) return 'spanning';
  const field = fieldAt(layout(holding.bytes), address - holding.address);
  if (field === 'displacement' || field === 'immediate') return field;
  return isKind(holding.mnemonic, hit.kind) ? 'intended' : 'opcode';
}

/** True when Capstone's mnemonic names the instruction a finding is about. */
function isKind(mnemonic: string, kind: FindingKind): boolean {
  return kind === 'xrstor' ? mnemonic === 'xrstor' || mnemonic === 'xrstor64' : mnemonic === kind;
}

function contextOf(instruction: Decoded): ContextInstruction {
  return { address: instruction.address, bytes: toHex(instruction.bytes), text: instruction.text };
}

/** Returns bytes as lowercase hex without separators. */
export function toHex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}
