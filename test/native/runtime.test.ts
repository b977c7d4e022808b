/**
 * The sandbox-side runtime, checked outside any domain: a C program loads it
 * with dlopen, gives it a syscall path and compares each function with
 * glibc (test/runtime/runtime_check.c). Also checks that the runtime covers
 * every C library import of the Debian libraries keycell targets.
 */
import { execFileSync, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { beforeAll, describe, expect, test } from 'vitest';

import { addonPath, packageRoot } from '../../src/native.js';

const runtimePath = path.join(path.dirname(addonPath), 'keycell-runtime.so');
let checker = '';

/** Symbols a shared object defines (or, with `undefined`, imports), from nm. */
function dynamicSymbols(
  file: string,
  which: 'defined' | 'undefined',
): { name: string; weak: boolean }[] {
  const output = execFileSync('nm', ['-D', `--${which}-only`, file], { encoding: 'utf8' });
  return output
    .split('\n')
    .filter(Boolean)
    .map((line) => {
      const fields = line.trim().split(/\s+/);
      return { name: fields.at(-1)!.replace(/@.*$/, ''), weak: /^[wv]$/i.test(fields.at(-2)!) };
    });
}

beforeAll(() => {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keycell-runtime-'));
  checker = path.join(dir, 'runtime_check');
  execFileSync('cc', [
    '-O1',
    '-Wall',
    '-o',
    checker,
    path.join(packageRoot, 'test/runtime/runtime_check.c'),
    '-ldl',
  ]);
});

describe('sandbox-side runtime', () => {
  test('imports nothing and binds its own references locally', () => {
    expect(dynamicSymbols(runtimePath, 'undefined')).toEqual([]);
    const dynamic = execFileSync('readelf', ['-d', runtimePath], { encoding: 'utf8' });
    expect(dynamic).toMatch(/SYMBOLIC/);
    expect(dynamic).not.toMatch(/NEEDED/);
  });

  test.each(['/usr/lib/x86_64-linux-gnu/libsodium.so.23', '/usr/lib/x86_64-linux-gnu/libz.so.1'])(
    'defines every C library function %s imports',
    (library) => {
      const provided = new Set(dynamicSymbols(runtimePath, 'defined').map((symbol) => symbol.name));
      const missing = dynamicSymbols(library, 'undefined')
        .filter((symbol) => !symbol.weak)
        .map((symbol) => symbol.name)
        .filter((name) => !provided.has(name));
      expect(missing).toEqual([]);
    },
  );

  test('every check of the runtime against glibc passes', () => {
    const run = spawnSync(checker, [runtimePath], { encoding: 'utf8' });
    const failed = run.stdout
      .split('\n')
      .filter((line) => line.startsWith('not ok') || line.startsWith('#'));
    expect(failed).toEqual([]);
    expect(run.stdout).toMatch(/^1\.\.(\d+)$/m);
    expect(Number(/^1\.\.(\d+)$/m.exec(run.stdout)![1])).toBeGreaterThanOrEqual(31);
    expect(run.status).toBe(0);
  });

  test.each([
    ['abort', /abort\(\) called/],
    ['stack', /stack smashing detected/],
    ['assert', /lib\.c:7: f: assertion 'x > 0' failed/],
    ['fortify', /buffer overflow detected in __memcpy_chk/],
    ['bad-free', /free\(\) of a pointer malloc\(\) did not return/],
  ])('%s stops the caller with an invalid-opcode fault and says why', (name, message) => {
    const run = spawnSync(checker, [runtimePath, name], { encoding: 'utf8' });
    expect(run.signal).toBe('SIGILL');
    expect(run.stderr).toMatch(message);
  });
});
