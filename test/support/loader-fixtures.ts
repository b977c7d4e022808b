/**
 * Builds the loader's fixture libraries from test/fixtures/loader into
 * build/test-fixtures/loader. A library is rebuilt only when its source is
 * newer, so the PKU suite in the guest (where compiling is slow) reuses what
 * the native suite built on the host.
 */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { packageRoot } from '../../src/native.js';

const SOURCES = path.join(packageRoot, 'test', 'fixtures', 'loader');
const OUTPUT = path.join(packageRoot, 'build', 'test-fixtures', 'loader');

export interface LoaderFixtures {
  dir: string;
  peekConstructor: string;
  hostile: string;
  network: string;
  rawSyscalls: string;
  missing: string;
  needs: string;
  base: string;
  values: string;
}

function isFresh(output: string, source: string): boolean {
  return fs.existsSync(output) && fs.statSync(output).mtimeMs >= fs.statSync(source).mtimeMs;
}

export function buildLoaderFixtures(): LoaderFixtures {
  fs.mkdirSync(OUTPUT, { recursive: true });
  const library = (name: string, extra: string[] = []) => {
    const source = path.join(SOURCES, `${name}.c`);
    const output = path.join(OUTPUT, `lib${name}.so`);
    if (!isFresh(output, source)) {
      const partial = `${output}.${process.pid}`;
      execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', partial, source, ...extra]);
      fs.renameSync(partial, output);
    }
    return output;
  };
  const base = library('base');
  return {
    dir: OUTPUT,
    base,
    needs: library('needs', [`-L${OUTPUT}`, '-lbase']),
    missing: library('missing'),
    peekConstructor: library('peek_constructor'),
    hostile: library('hostile'),
    network: library('network'),
    rawSyscalls: library('raw_syscalls'),
    values: library('values'),
  };
}
