import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, test } from 'vitest';

import { addonPath, packageRoot } from '../../src/native.js';

function node(args: string[], cwd = packageRoot) {
  return spawnSync(process.execPath, args, { cwd, encoding: 'utf8' });
}

describe('package entry points', () => {
  test('ESM and CommonJS consumers see the same API', () => {
    const cjs = node(['-e', "console.log(JSON.stringify(Object.keys(require('keycell')).sort()))"]);
    const esm = node([
      '--input-type=module',
      '-e',
      "import * as k from 'keycell'; const names = Object.keys(k).filter((n) => " +
        "n !== 'default' && n !== '__esModule'); console.log(JSON.stringify(names.sort()))",
    ]);
    expect(cjs.stderr).toBe('');
    expect(esm.stderr).toBe('');
    const names = JSON.parse(cjs.stdout).filter((name: string) => name !== '__esModule');
    expect(JSON.parse(esm.stdout)).toEqual(names);
    expect(names).toContain('runDoctor');
  });
});

describe('both addon builds', () => {
  test('the cmake-js build loads and answers', () => {
    const module = { exports: {} as { probe(): { cpu: object } } };
    process.dlopen(module, addonPath);
    expect(module.exports.probe().cpu).toHaveProperty('pku');
  });

  test('binding.gyp builds the same sources with node-gyp, and that build loads', () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keycell-gyp-'));
    for (const entry of ['addon', 'gates', 'runtime', 'binding.gyp', 'package.json']) {
      fs.cpSync(path.join(packageRoot, entry), path.join(dir, entry), { recursive: true });
    }
    fs.symlinkSync(path.join(packageRoot, 'node_modules'), path.join(dir, 'node_modules'));

    // Node-API only needs the headers that come with this Node; never download them.
    const nodedir = path.resolve(path.dirname(process.execPath), '..');
    const args = [
      path.join(packageRoot, 'node_modules', 'node-gyp', 'bin', 'node-gyp.js'),
      'rebuild',
      '--loglevel=warn',
    ];
    if (fs.existsSync(path.join(nodedir, 'include', 'node', 'node_api.h')))
      args.push(`--nodedir=${nodedir}`);
    const build = spawnSync(process.execPath, args, { cwd: dir, encoding: 'utf8' });
    expect(build.status, build.stderr).toBe(0);

    for (const library of [
      'keycell-runtime.so',
      'keycell-bench-target.so',
      'keycell-demo-malicious.so',
    ]) {
      expect(fs.existsSync(path.join(dir, 'build', 'Release', library)), library).toBe(true);
    }
    const built = path.join(dir, 'build', 'Release', 'keycell.node');
    const load = node([
      '-e',
      `const m={exports:{}};process.dlopen(m,${JSON.stringify(built)});` +
        'console.log(Object.keys(m.exports).join())',
    ]);
    expect(load.stderr).toBe('');
    expect(load.stdout.trim().split(',')).toEqual(
      Object.keys(
        (() => {
          const m = { exports: {} };
          process.dlopen(m, addonPath);
          return m.exports;
        })(),
      ),
    );
    fs.rmSync(dir, { recursive: true, force: true });
  }, 240_000);
});
