import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { describe, expect, test } from 'vitest';

import { GuestError, runInGuest } from '../../src/guest/index.js';
import { hostDebianMirror, moduleDependencies } from '../../src/guest/kernels.js';

function tempFile(name: string, text: string): string {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'keycell-guest-test-'));
  const file = path.join(dir, name);
  fs.writeFileSync(file, text);
  return file;
}

describe('guest kernels', () => {
  test('reads module dependencies from .modinfo', () => {
    const ko = Buffer.concat([
      Buffer.from('\x7fELF....license=GPL\0'),
      Buffer.from('depends=netfs,9pnet\0intree=Y\0'),
    ]);
    expect(moduleDependencies(ko)).toEqual(['netfs', '9pnet']);
    expect(moduleDependencies(Buffer.from('\0depends=\0'))).toEqual([]);
    expect(moduleDependencies(Buffer.from('no modinfo'))).toEqual([]);
  });

  test('finds the host mirror in deb822 and one-line sources, skipping security', () => {
    const deb822 = tempFile(
      'debian.sources',
      'Types: deb\nURIs: http://security.example/debian-security\nSuites: bookworm-security\n\n' +
        'Types: deb\nURIs: http://mirror.example/debian\nSuites: bookworm\n',
    );
    const oneLine = tempFile(
      'sources.list',
      '# comment\ndeb [arch=amd64] http://other.example/debian bookworm main\n',
    );
    expect(hostDebianMirror([deb822])).toBe('http://mirror.example/debian');
    expect(hostDebianMirror([oneLine])).toBe('http://other.example/debian');
    expect(() => hostDebianMirror([tempFile('empty.list', '')])).toThrow(GuestError);
  });
});

describe('guest runner', () => {
  test('boots Linux 6.12 with protection keys and passes the exit status out', async () => {
    const output: string[] = [];
    const result = await runInGuest({
      kernel: '6.12',
      command: [
        'sh',
        '-c',
        'grep -c -w pku /proc/cpuinfo; echo "kernel $KEYCELL_GUEST_KERNEL"; exit 7',
      ],
      onOutput: (line) => output.push(line),
      onLog: () => {},
    });
    expect(result.release).toMatch(/^6\.12\./);
    expect(result.pku).toBe(true);
    expect(result.exitCode).toBe(7);
    expect(output).toContain('kernel 6.12');
    expect(Number(output[0])).toBeGreaterThan(0);
  }, 300_000);

  test('an empty command is refused before anything boots', async () => {
    await expect(runInGuest({ kernel: '6.1', command: [] })).rejects.toThrow(GuestError);
  });
});
