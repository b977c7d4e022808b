/**
 * Builds the scanner's fixture libraries from test/fixtures/scanner/ into a
 * temporary directory: each is a tiny shared object with one planted pattern.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

export const fixtureSources = path.resolve(__dirname, '../fixtures/scanner');

/** Compiles `source` (a .c or .S file in the fixture folder) into `<name>.so` in `directory`. */
export function buildFixture(
  directory: string,
  source: string,
  name: string,
  flags: string[] = [],
): string {
  const output = path.join(directory, `${name}.so`);
  const input = path.join(fixtureSources, source);
  execFileSync('gcc', ['-shared', '-fPIC', '-O2', ...flags, '-o', output, input], {
    stdio: 'pipe',
  });
  return output;
}

/** Returns a fresh temporary directory that the caller removes. */
export function temporaryDirectory(): string {
  return fs.mkdtempSync(path.join(os.tmpdir(), 'keycell-scanner-'));
}
