/**
 * The Debian binaries on this machine hold known patterns: glibc's pkey_set
 * writes PKRU, ld.so's lazy-binding trampolines restore extended state with
 * XRSTOR, and the node binary has XRSTOR bytes inside a RIP-relative
 * displacement. /bin/true holds none.
 */
import fs from 'node:fs';

import { describe, expect, test } from 'vitest';

import { scanElf, scanFile } from '../../../src/index.js';

const LIBC = '/lib/x86_64-linux-gnu/libc.so.6';
const LD_SO = '/lib64/ld-linux-x86-64.so.2';
const NODE = '/usr/bin/node';

describe('system binaries', () => {
  test("glibc's pkey_set is an intended, unchecked WRPKRU", async () => {
    const findings = await scanElf(fs.readFileSync(LIBC), LIBC);
    const pkeySet = findings.filter((finding) => finding.symbol?.name.startsWith('pkey_set'));
    expect(pkeySet).toHaveLength(1);
    expect(pkeySet[0]).toMatchObject({
      kind: 'wrpkru',
      classification: 'intended',
      section: '.text',
    });
    const texts = pkeySet[0].context.map((instruction) => instruction.text);
    expect(texts.slice(texts.indexOf('wrpkru'), texts.indexOf('wrpkru') + 3)).toEqual([
      'wrpkru',
      'xor eax, eax',
      'ret',
    ]);
  });

  test("ld.so's trampolines hold intended XRSTORs", async () => {
    const findings = await scanElf(fs.readFileSync(LD_SO), LD_SO);
    const xrstors = findings.filter((finding) => finding.kind === 'xrstor');
    expect(xrstors.length).toBeGreaterThanOrEqual(1);
    for (const finding of xrstors) {
      expect(finding.classification).toBe('intended');
      expect(finding.instruction).toMatch(/^xrstor(64)? ptr \[rsp/);
    }
  });

  test('node holds an XRSTOR pattern inside a RIP-relative displacement', async () => {
    const report = await scanFile(NODE);
    expect(report.error).toBeNull();
    const displaced = report.findings.filter(
      (finding) => finding.kind === 'xrstor' && finding.classification === 'displacement',
    );
    expect(displaced.length).toBeGreaterThanOrEqual(1);
    expect(displaced[0].container).toMatch(/\[rip [+-] 0x[0-9a-f]+\]/);
    expect(displaced[0].symbol?.name).toBeTruthy();
    expect(report.codeBytes).toBeGreaterThan(10_000_000);
  });

  test('/bin/true holds nothing', async () => {
    expect(await scanElf(fs.readFileSync('/bin/true'), '/bin/true')).toEqual([]);
  });
});
