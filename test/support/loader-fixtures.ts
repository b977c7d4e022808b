/** Builds the loader's fixture libraries from test/fixtures/loader into a temporary folder. */
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { packageRoot } from '../../src/native.js';

const SOURCES = path.join(packageRoot, 'test', 'fixtures', 'loader');

export interface LoaderFixtures {
  dir: string;
  peekConstructor: string;
  hostile: string;
  missing: string;
  needs: string;
  base: string;
}

export function buildLoaderFixtures(): LoaderFixtures {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keycell-loader-'));
  const library = (name: string, extra: string[] = []) => {
    const output = path.join(dir, `lib${name}.so`);
    execFileSync('cc', ['-shared', '-fPIC', '-O1', '-o', output, path.join(SOURCES, `${name}.c`), ...extra]);
    return output;
  };
  const base = library('base');
  const needs = library('needs', [`-L${dir}`, '-lbase', `-Wl,-rpath,${dir}`]);
  return {
    dir,
    base,
    needs,
    missing: library('missing'),
    peekConstructor: library('peek_constructor'),
    hostile: library('hostile'),
  };
}
