/**
 * Scanning: from ELF files or raw segments to findings.
 *
 * A file is scanned as the dynamic loader would map it. mmap works in whole
 * pages, so an executable segment makes executable every file byte that
 * shares a page with it, not only the bytes between p_offset and
 * p_offset + p_filesz; those neighbours are searched too, except where the
 * loader zeroes them (from p_filesz to p_memsz).
 */
import { ScanError } from '../errors.js';
import { loadDisassembler } from './capstone.js';
import { elfCodeMap, type CodeMap } from './code-map.js';
import { PAGE_SIZE, parseElf, type ElfImage } from './elf.js';
import { Explainer, SWEEP_LIMIT, type CodeRegion } from './explain.js';
import type { Finding } from './findings.js';
import { findPatterns, MAX_INSTRUCTION, type PatternHit } from './patterns.js';

/** Bytes the explanations of one scan may decode in all; past it they sweep from nearby. */
const SWEEP_BUDGET = 8 * SWEEP_LIMIT;

/** Executable bytes that are about to be, or already are, mapped. */
export interface CodeSegment {
  bytes: Uint8Array;
  /** Address the first byte is (or will be) mapped at. */
  address: number;
  /** File offset of the first byte, when the bytes came from a file. */
  fileOffset?: number | null;
}

/** Options of `scanSegments` and `assertNoFindings`. */
export interface SegmentScanOptions {
  /** Names the code in findings and errors: the file it came from, or a label. */
  file: string;
  /** Symbols and sections for the explanations, e.g. `elfCodeMap(parseElf(...))`. */
  codeMap?: CodeMap | null;
}

/** Returns the executable byte ranges of an ELF file, page-extended as mmap maps them. */
export function executableRegions(image: ElfImage): CodeRegion[] {
  const regions: CodeRegion[] = [];
  for (const segment of image.segments) {
    if (!segment.executable || segment.fileSize === 0) continue;
    const start = segment.fileOffset - (segment.fileOffset % PAGE_SIZE);
    const fileEnd = segment.fileOffset + segment.fileSize;
    const pageEnd = Math.min(Math.ceil(fileEnd / PAGE_SIZE) * PAGE_SIZE, image.bytes.length);
    const memoryEnd = segment.fileOffset + segment.memorySize;

    let bytes = image.bytes.subarray(start, pageEnd);
    if (memoryEnd > fileEnd) {
      // The loader zeroes the last page from p_filesz up to p_memsz; file
      // bytes past p_memsz on that page stay mapped.
      if (memoryEnd >= pageEnd) {
        bytes = image.bytes.subarray(start, fileEnd);
      } else {
        bytes = Uint8Array.from(bytes);
        bytes.fill(0, fileEnd - start, memoryEnd - start);
      }
    }
    const address = segment.address - (segment.fileOffset - start);
    regions.push({ bytes, address, fileOffset: start });
  }
  return regions;
}

/**
 * Finds and explains every pattern in the regions. Regions that touch in
 * the address space are searched across their seam as well; a pattern found
 * twice (segments sharing a page) is reported once.
 */
export async function findingsIn(
  regions: readonly CodeRegion[],
  file: string,
  codeMap: CodeMap | null,
): Promise<Finding[]> {
  const located: Array<{ region: CodeRegion; hit: PatternHit }> = [];
  const sorted = [...regions].sort((a, b) => a.address - b.address);
  for (const [index, region] of sorted.entries()) {
    for (const hit of findPatterns(region.bytes)) located.push({ region, hit });
    const next = sorted[index + 1];
    if (next && next.address === region.address + region.bytes.length) {
      for (const hit of seamHits(region, next)) located.push({ region, hit });
    }
  }
  if (located.length === 0) return [];

  const explainer = new Explainer(await loadDisassembler(), file, codeMap, SWEEP_BUDGET);
  const seen = new Set<number>();
  const findings: Finding[] = [];
  for (const { region, hit } of located) {
    const address = region.address + hit.offset;
    if (seen.has(address)) continue;
    seen.add(address);
    findings.push(explainer.explain(region, hit));
  }
  return findings.sort((a, b) => a.address - b.address);
}

/** Returns patterns that begin in `region` and end in `next`, with offsets into `region`. */
function seamHits(region: CodeRegion, next: CodeRegion): PatternHit[] {
  const tailLength = Math.min(region.bytes.length, MAX_INSTRUCTION);
  const tail = region.bytes.subarray(region.bytes.length - tailLength);
  const joined = new Uint8Array(tailLength + Math.min(next.bytes.length, MAX_INSTRUCTION));
  joined.set(tail);
  joined.set(next.bytes.subarray(0, joined.length - tailLength), tailLength);
  const base = region.bytes.length - tailLength;
  return findPatterns(joined)
    .filter((hit) => hit.offset < tailLength && hit.offset + hit.length > tailLength)
    .map((hit) => ({ ...hit, offset: base + hit.offset }));
}

/** Scans an ELF file held in memory; throws ScanError when it is malformed. */
export async function scanElf(bytes: Uint8Array, file: string): Promise<Finding[]> {
  if (!(bytes instanceof Uint8Array)) throw new TypeError('scanElf: bytes must be a Uint8Array');
  if (typeof file !== 'string') {
    throw new TypeError('scanElf: file must be a string naming the bytes');
  }
  const image = parseElf(bytes, file);
  return findingsIn(executableRegions(image), file, elfCodeMap(image));
}

/**
 * Scans code that is about to become executable, for instance the segments
 * a loader has placed but not yet mapped with PROT_EXEC. Resolves to the
 * findings; `assertNoFindings` turns them into a refusal.
 */
export async function scanSegments(
  segments: readonly CodeSegment[],
  options: SegmentScanOptions,
): Promise<Finding[]> {
  const file = checkSegmentArguments('scanSegments', segments, options);
  const regions = segments.map((segment) => ({
    bytes: segment.bytes,
    address: segment.address,
    fileOffset: segment.fileOffset ?? null,
  }));
  return findingsIn(regions, file, options.codeMap ?? null);
}

/**
 * Resolves when the segments hold no forbidden pattern; otherwise rejects
 * with a ScanError (code `FINDINGS`) that carries every finding.
 */
export async function assertNoFindings(
  segments: readonly CodeSegment[],
  options: SegmentScanOptions,
): Promise<void> {
  const findings = await scanSegments(segments, options);
  if (findings.length > 0) throw ScanError.refused(options.file, findings);
}

/** Checks the arguments of the segment API; returns the file label. */
function checkSegmentArguments(
  caller: string,
  segments: readonly CodeSegment[],
  options: SegmentScanOptions,
): string {
  if (!Array.isArray(segments)) throw new TypeError(`${caller}: segments must be an array`);
  if (typeof options !== 'object' || options === null || typeof options.file !== 'string') {
    throw new TypeError(`${caller}: options.file must be a string naming the code`);
  }
  for (const [index, segment] of segments.entries()) {
    if (!(segment?.bytes instanceof Uint8Array)) {
      throw new TypeError(`${caller}: segments[${index}].bytes must be a Uint8Array`);
    }
    if (!Number.isSafeInteger(segment.address) || segment.address < 0) {
      throw new TypeError(
        `${caller}: segments[${index}].address must be a non-negative safe integer`,
      );
    }
  }
  return options.file;
}
