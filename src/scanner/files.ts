/**
 * Scanning files and directory trees on disk. A file named explicitly must be
 * an x86-64 ELF executable or shared object; inside a directory, files that
 * are not ELF, or are ELF for another machine, are passed over, since trees
 * such as /usr/lib mix them freely.
 */
import fs from 'node:fs';
import path from 'node:path';

import { ScanError } from '../errors.js';
import { looksLikeElf, parseElf } from './elf.js';
import { elfCodeMap } from './code-map.js';
import type { FileReport } from './report.js';
import { executableRegions, findingsIn } from './scan.js';

/** A file to scan and whether it was named (true) or found in a directory (false). */
export interface ScanTarget {
  file: string;
  named: boolean;
  /** Why a directory could not be listed; the scan reports it as an error. */
  unreadable?: unknown;
}

/**
 * Expands files and directories into the regular files to scan, in a stable
 * order. Symbolic links to files are followed; links to directories are not,
 * so a walk cannot loop.
 */
export function collectTargets(paths: readonly string[]): ScanTarget[] {
  if (!Array.isArray(paths) || paths.some((entry) => typeof entry !== 'string')) {
    throw new TypeError('collectTargets: paths must be an array of strings');
  }
  const targets: ScanTarget[] = [];
  const walk = (directory: string) => {
    let entries: fs.Dirent[];
    try {
      entries = fs.readdirSync(directory, { withFileTypes: true });
    } catch (error) {
      targets.push({ file: directory, named: true, unreadable: error });
      return;
    }
    entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
    for (const entry of entries) {
      const full = path.join(directory, entry.name);
      if (entry.isDirectory()) walk(full);
      else if (entry.isFile() || (entry.isSymbolicLink() && isFile(full))) {
        targets.push({ file: full, named: false });
      }
    }
  };
  for (const entry of paths) {
    if (isDirectory(entry)) walk(entry);
    else targets.push({ file: entry, named: true });
  }
  return targets;
}

function isFile(file: string): boolean {
  try {
    return fs.statSync(file).isFile();
  } catch {
    return false;
  }
}

function isDirectory(file: string): boolean {
  try {
    return fs.statSync(file).isDirectory();
  } catch {
    return false;
  }
}

/** Scans one file; never throws for a bad file, which becomes the report's `error`. */
export async function scanFile(target: ScanTarget | string): Promise<FileReport> {
  const { file, named, unreadable } =
    typeof target === 'string' ? { file: target, named: true, unreadable: undefined } : target;
  if (typeof file !== 'string') throw new TypeError('scanFile: file must be a string');
  const report: FileReport = { file, codeBytes: 0, findings: [], error: null, skipped: null };
  if (unreadable !== undefined) return failed(report, ScanError.unreadable(file, unreadable));

  let bytes: Uint8Array;
  try {
    // A FIFO or a device would block the read or never end; only regular files are code.
    if (!fs.statSync(file).isFile()) throw new Error('not a regular file');
    bytes = fs.readFileSync(file);
  } catch (error) {
    return failed(report, ScanError.unreadable(file, error));
  }
  if (!named && !looksLikeElf(bytes)) return { ...report, skipped: 'not an ELF file' };

  try {
    const image = parseElf(bytes, file);
    const regions = executableRegions(image);
    report.codeBytes = regions.reduce((sum, region) => sum + region.bytes.length, 0);
    report.findings = await findingsIn(regions, file, elfCodeMap(image));
    return report;
  } catch (error) {
    if (!(error instanceof ScanError)) throw error;
    if (!named && error.code === 'ELF_UNSUPPORTED') return { ...report, skipped: error.defect };
    return failed(report, error);
  }
}

function failed(report: FileReport, error: ScanError): FileReport {
  return { ...report, error: { code: error.code, message: error.message } };
}
