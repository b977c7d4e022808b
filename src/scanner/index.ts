/** The binary scanner: forbidden-instruction search, explanations, reports and the host audit. */
export type {
  Classification,
  ContextInstruction,
  Finding,
  FindingKind,
  FindingSymbol,
  SweepAnchor,
} from './findings.js';
export {
  parseElf,
  looksLikeElf,
  type ElfImage,
  type ElfSegment,
  type ElfSection,
  type SymbolTable,
} from './elf.js';
export { findPatterns, type PatternHit } from './patterns.js';
export { elfCodeMap, type CodeMap, type CodeSection } from './code-map.js';
export type { CodeRegion } from './explain.js';
export {
  scanElf,
  scanSegments,
  assertNoFindings,
  executableRegions,
  type CodeSegment,
  type SegmentScanOptions,
} from './scan.js';
export { scanFile, collectTargets, type ScanTarget } from './files.js';
export {
  summarize,
  formatScanReport,
  formatFinding,
  describeClassification,
  type FileReport,
  type ScanReport,
} from './report.js';
export {
  auditProcess,
  parseMaps,
  type AuditReport,
  type AuditSite,
  type Mapping,
} from './audit.js';
