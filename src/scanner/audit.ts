/**
 * The host audit: every executable mapping of the running process, searched
 * as it is in memory (read through /proc/self/mem), with each PKRU-writing
 * site sorted into a verified gate or a gadget.
 *
 * A verified gate is a WRPKRU followed at once by the check keycell's own
 * gates make (gates/pkru.S): compare EAX, still holding the value written,
 * against the intended value and branch to UD2 when they differ, optionally
 * after reading PKRU back with RDPKRU. Execution that arrives at such a gate
 * with a value of its own choosing stops on UD2. Every other site is a gadget:
 * glibc's pkey_set (`wrpkru; xor eax, eax; ret`), ld.so's lazy-binding
 * XRSTOR, XRSTOR bytes inside a displacement, and WRFSBASE or WRGSBASE, which
 * let code choose the thread pointer trusted code finds its state through.
 */
import fs from 'node:fs';

import { loadDisassembler, type Disassembler } from './capstone.js';
import { elfCodeMap, type CodeMap } from './code-map.js';
import { PAGE_SIZE, parseElf, type ElfImage } from './elf.js';
import type { CodeRegion } from './explain.js';
import type { Finding } from './findings.js';
import { findingsIn } from './scan.js';

/** One line of /proc/self/maps. */
export interface Mapping {
  start: number;
  end: number;
  permissions: string;
  /** Offset in the mapped file. */
  offset: number;
  /** The file, `[vdso]` and the like, or '' for anonymous memory. */
  path: string;
}

/** A finding with the audit's verdict on it. */
export interface AuditSite {
  finding: Finding;
  verdict: 'gate' | 'gadget';
  /** Why, in words. */
  reason: string;
}

/** What `auditProcess` found. */
export interface AuditReport {
  pid: number;
  /** Executable mappings searched. */
  mappings: number;
  /** Bytes of executable memory searched. */
  bytes: number;
  sites: AuditSite[];
  /** Executable mappings that could not be read, and why. */
  unreadable: Array<{ mapping: string; reason: string }>;
  /** Wall time of the audit. */
  milliseconds: number;
}

/** Parses /proc/<pid>/maps text into mappings. */
export function parseMaps(text: string): Mapping[] {
  if (typeof text !== 'string') throw new TypeError('parseMaps: text must be a string');
  const mappings: Mapping[] = [];
  for (const line of text.split('\n')) {
    const match = /^([0-9a-f]+)-([0-9a-f]+) (\S{4}) ([0-9a-f]+) \S+ \d+\s*(.*)$/.exec(line);
    if (!match) continue;
    mappings.push({
      start: parseInt(match[1], 16),
      end: parseInt(match[2], 16),
      permissions: match[3],
      offset: parseInt(match[4], 16),
      path: match[5],
    });
  }
  return mappings;
}

/** Returns a name for a mapping in findings: its file, or the kernel's label, or its range. */
function mappingName(mapping: Mapping): string {
  return mapping.path || `[anonymous ${hexRange(mapping)}]`;
}

function hexRange(mapping: Mapping): string {
  return `0x${mapping.start.toString(16)}-0x${mapping.end.toString(16)}`;
}

/**
 * Audits the calling process: reads /proc/self/maps, searches every
 * executable mapping and explains each finding with the symbols of the file
 * on disk behind the mapping.
 */
export async function auditProcess(): Promise<AuditReport> {
  const started = performance.now();
  const mappings = parseMaps(fs.readFileSync('/proc/self/maps', 'utf8')).filter((mapping) =>
    mapping.permissions.includes('x'),
  );
  const report: AuditReport = {
    pid: process.pid,
    mappings: mappings.length,
    bytes: 0,
    sites: [],
    unreadable: [],
    milliseconds: 0,
  };

  const images = new Map<string, ElfImage | null>();
  const disassembler = await loadDisassembler();
  const memory = fs.openSync('/proc/self/mem', 'r');
  try {
    for (const mapping of mappings) {
      const region = readMapping(memory, mapping, report);
      if (!region) continue;
      report.bytes += region.bytes.length;
      const codeMap = codeMapFor(mapping, images);
      const findings = await findingsIn([region], mappingName(mapping), codeMap);
      for (const finding of findings) {
        report.sites.push(judge(disassembler, region, finding));
      }
    }
  } finally {
    fs.closeSync(memory);
  }
  report.milliseconds = performance.now() - started;
  return report;
}

/** Reads a mapping's bytes; records and skips mappings the kernel will not let us read. */
function readMapping(memory: number, mapping: Mapping, report: AuditReport): CodeRegion | null {
  if (!Number.isSafeInteger(mapping.end)) {
    // Only the legacy [vsyscall] page lives up there; the kernel emulates it and it cannot be read.
    report.unreadable.push({
      mapping: mappingName(mapping),
      reason: 'above the addresses /proc/self/mem serves',
    });
    return null;
  }
  const bytes = Buffer.allocUnsafe(mapping.end - mapping.start);
  try {
    let done = 0;
    while (done < bytes.length) {
      const read = fs.readSync(memory, bytes, done, bytes.length - done, mapping.start + done);
      if (read === 0) throw new Error('short read');
      done += read;
    }
  } catch (error) {
    const reason = error instanceof Error ? error.message : String(error);
    report.unreadable.push({ mapping: `${mappingName(mapping)} ${hexRange(mapping)}`, reason });
    return null;
  }
  const fileOffset = mapping.path.startsWith('/') ? mapping.offset : null;
  return { bytes, address: mapping.start, fileOffset };
}

/**
 * Returns symbols for a file-backed mapping: the ELF file on disk, shifted by
 * the load bias that maps its addresses onto this mapping. Null when the file
 * is gone, unreadable or not ELF; the findings then carry no symbols.
 */
function codeMapFor(mapping: Mapping, images: Map<string, ElfImage | null>): CodeMap | null {
  if (!mapping.path.startsWith('/') || mapping.path.endsWith(' (deleted)')) return null;
  if (!images.has(mapping.path)) {
    try {
      images.set(mapping.path, parseElf(fs.readFileSync(mapping.path), mapping.path));
    } catch (error) {
      // ScanError and system errors (ENOENT, EACCES) both carry a code; anything else is a bug.
      if (!(error instanceof Error && 'code' in error)) throw error;
      images.set(mapping.path, null);
    }
  }
  const image = images.get(mapping.path);
  const segment = image?.segments.find(
    (candidate) =>
      candidate.executable &&
      candidate.fileOffset - (candidate.fileOffset % PAGE_SIZE) <= mapping.offset &&
      mapping.offset < candidate.fileOffset + candidate.fileSize,
  );
  if (!image || !segment) return null;
  // The mapping's first byte is file offset `mapping.offset`, which the ELF file places at
  // segment.address + (mapping.offset - segment.fileOffset).
  const bias = mapping.start - (segment.address + (mapping.offset - segment.fileOffset));
  return elfCodeMap(image, bias);
}

/** Instructions examined after a PKRU write when looking for its check. */
const CHECK_WINDOW = 48;

/** Sorts one finding into a verified gate or a gadget. */
function judge(disassembler: Disassembler, region: CodeRegion, finding: Finding): AuditSite {
  if (finding.kind === 'wrfsbase' || finding.kind === 'wrgsbase') {
    return {
      finding,
      verdict: 'gadget',
      reason: `${finding.kind} sets the thread's ${finding.kind.slice(2, 4)} base to any value`,
    };
  }
  const offset = finding.address - region.address;
  const window = region.bytes.subarray(offset, offset + CHECK_WINDOW);
  const check = checkAfterWrite(disassembler, region, window, finding.address);
  if (check) return { finding, verdict: 'gate', reason: check };
  const effect = finding.kind === 'wrpkru' ? 'writes PKRU from EAX' : 'can load PKRU from memory';
  return { finding, verdict: 'gadget', reason: `${effect} with no check of the value written` };
}

/**
 * Returns how the write at `address` is checked, or null: the next
 * instructions must be `cmp eax, <intended>` and a `jne` to `ud2`, optionally
 * after `[xor ecx, ecx;] rdpkru` re-reads the register. (Only WRPKRU leaves the
 * written value in EAX, so an XRSTOR needs the RDPKRU form.)
 */
function checkAfterWrite(
  disassembler: Disassembler,
  region: CodeRegion,
  window: Uint8Array,
  address: number,
): string | null {
  const instructions = disassembler.decode(window, address, 6);
  if (instructions.length < 3) return null;
  const [write, ...rest] = instructions;
  let next = 0;
  let reread = false;
  if (rest[next]?.text === 'xor ecx, ecx' && rest[next + 1]?.mnemonic === 'rdpkru') next++;
  if (rest[next]?.mnemonic === 'rdpkru') {
    next++;
    reread = true;
  }
  if (write.mnemonic !== 'wrpkru' && !reread) return null;

  const compare = rest[next];
  const branch = rest[next + 1];
  if (!compare || !branch || !/^cmp eax, /.test(compare.text) || branch.mnemonic !== 'jne') {
    return null;
  }
  const target = Number(branch.text.slice('jne '.length));
  if (!Number.isSafeInteger(target) || target < region.address) return null;
  const targetOffset = target - region.address;
  if (targetOffset >= region.bytes.length) return null;
  const trap = disassembler.decode(
    region.bytes.subarray(targetOffset, targetOffset + 4),
    target,
    1,
  )[0];
  if (trap?.mnemonic !== 'ud2') return null;
  return (
    `${reread ? 'PKRU is read back and ' : 'EAX is '}compared (\`${compare.text}\`) ` +
    `and a mismatch branches to ud2 at 0x${target.toString(16)}`
  );
}
