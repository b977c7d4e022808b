/**
 * `keycell scan` and `keycell audit` through the command line program:
 * report formats and exit statuses (0 clean, 1 findings, 2 error).
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { afterAll, beforeAll, describe, expect, test, vi } from 'vitest';

import { buildProgram } from '../../../src/cli.js';
import type { ScanReport } from '../../../src/index.js';
import { buildFixture, temporaryDirectory } from '../../support/scanner-fixtures.js';

let directory: string;

/** Runs the program with `args`; returns stdout and the exit status it set. */
async function run(...args: string[]): Promise<{ stdout: string; status: number }> {
  const chunks: string[] = [];
  const write = vi.spyOn(process.stdout, 'write').mockImplementation((chunk) => {
    chunks.push(String(chunk));
    return true;
  });
  const saved = process.exitCode;
  try {
    process.exitCode = 0;
    await buildProgram().parseAsync(['node', 'keycell', ...args]);
    return { stdout: chunks.join(''), status: Number(process.exitCode ?? 0) };
  } finally {
    write.mockRestore();
    process.exitCode = saved;
  }
}

beforeAll(() => {
  directory = temporaryDirectory();
  buildFixture(directory, 'immediate.c', 'immediate');
  fs.writeFileSync(path.join(directory, 'notes.txt'), 'not an ELF file\n');
});

afterAll(() => {
  fs.rmSync(directory, { recursive: true, force: true });
});

describe('keycell scan', () => {
  test('a clean file exits 0', async () => {
    const { stdout, status } = await run('scan', '/bin/true');
    expect(status).toBe(0);
    expect(stdout).toMatch(/scanned 1 file .*: 0 findings, 0 errors/);
  });

  test('a directory with findings exits 1 and passes over non-ELF files', async () => {
    const { stdout, status } = await run('scan', directory);
    expect(status).toBe(1);
    expect(stdout).toContain('immediate.so: 1 finding');
    expect(stdout).toMatch(
      /wrpkru at 0x[0-9a-f]+ \(file offset 0x[0-9a-f]+, in magic_constant\+0x1, \[\.text\]\)/,
    );
    expect(stdout).toContain('inside the immediate operand of `mov eax, 0xef010f`');
    expect(stdout).toMatch(/1 finding, 0 errors, 1 skipped/);
  });

  test('--json prints the report as data', async () => {
    const { stdout, status } = await run('scan', '--json', path.join(directory, 'immediate.so'));
    expect(status).toBe(1);
    const report = JSON.parse(stdout) as ScanReport;
    expect(report.summary).toMatchObject({ files: 1, findings: 1, errors: 0 });
    expect(report.files[0].findings[0]).toMatchObject({
      kind: 'wrpkru',
      classification: 'immediate',
    });
  });

  test('a named file that is not ELF, or is missing, exits 2', async () => {
    const { stdout, status } = await run(
      'scan',
      path.join(directory, 'notes.txt'),
      '/no/such/file',
    );
    expect(status).toBe(2);
    expect(stdout).toContain('notes.txt: malformed ELF: no ELF magic number');
    expect(stdout).toMatch(/\/no\/such\/file: cannot read: ENOENT/);
  });

  test('a FIFO is refused, not read', async () => {
    const fifo = path.join(directory, 'pipe');
    execFileSync('mkfifo', [fifo]);
    try {
      const { stdout, status } = await run('scan', fifo);
      expect(status).toBe(2);
      expect(stdout).toContain('pipe: cannot read: not a regular file');
    } finally {
      fs.rmSync(fifo);
    }
  });
});

describe('keycell audit', () => {
  test('reports the host gadgets and exits 1', async () => {
    const { stdout, status } = await run('audit');
    expect(status).toBe(1);
    expect(stdout).toMatch(/GADGET in .*libc\.so\.6/);
    expect(stdout).toMatch(/verified gate in .*keycell\.node/);
  });
});
