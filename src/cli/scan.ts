/**
 * `keycell scan [--json] <files or directories...>`: search ELF files for
 * instructions that could change PKRU or the FS/GS base. Exit status 0 when
 * nothing was found, 1 when something was, 2 when a file could not be scanned.
 */
import type { Command } from 'commander';

import {
  collectTargets,
  formatScanReport,
  scanFile,
  summarize,
  type FileReport,
} from '../scanner/index.js';

/** Past this many files, progress goes to stderr even when it is not a terminal. */
const MANY_FILES = 200;

export function registerScan(program: Command): void {
  program
    .command('scan')
    .description(
      'search x86-64 ELF files for WRPKRU, XRSTOR, WRFSBASE and WRGSBASE at every byte offset',
    )
    .argument(
      '<paths...>',
      'files or directories (directories are walked; non-ELF files are passed over)',
    )
    .option('--json', 'print the report as JSON')
    .action(async (paths: string[], options: { json?: boolean }) => {
      const targets = collectTargets(paths);
      const progress = progressReporter(targets.length);
      const files: FileReport[] = [];
      for (const [index, target] of targets.entries()) {
        files.push(await scanFile(target));
        progress(index + 1, target.file);
      }
      progress.done();

      const report = summarize(files);
      process.stdout.write(
        `${options.json ? JSON.stringify(report, null, 2) : formatScanReport(report)}\n`,
      );
      process.exitCode = report.summary.errors > 0 ? 2 : report.summary.findings > 0 ? 1 : 0;
    });
}

/**
 * Returns a progress callback: a rewritten line on a terminal, a line every
 * hundred files otherwise, and nothing at all for short runs off a terminal.
 */
function progressReporter(
  total: number,
): ((done: number, file: string) => void) & { done(): void } {
  const terminal = process.stderr.isTTY === true;
  const enabled = terminal || total >= MANY_FILES;
  const report = (done: number, file: string) => {
    if (!enabled) return;
    if (terminal) {
      const line = `scanning ${done}/${total} ${file}`;
      process.stderr.write(`\r${line.slice(0, (process.stderr.columns || 80) - 1)}\x1b[K`);
    } else if (done % 100 === 0 || done === total) {
      process.stderr.write(`keycell scan: ${done}/${total} files\n`);
    }
  };
  return Object.assign(report, {
    done: () => {
      if (enabled && terminal) process.stderr.write('\r\x1b[K');
    },
  });
}
