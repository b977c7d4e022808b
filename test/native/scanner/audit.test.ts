/**
 * The audit of this very process (node with keycell's addon loaded) finds
 * glibc's pkey_set, ld.so's XRSTOR and node's displaced XRSTOR pattern as
 * gadgets, and keycell's own checked PKRU write as a verified gate.
 */
import { beforeAll, describe, expect, test } from 'vitest';

import { auditProcess, parseMaps, type AuditReport } from '../../../src/index.js';
import { native } from '../../../src/native.js';

let report: AuditReport;

beforeAll(async () => {
  native();
  report = await auditProcess();
});

describe('host audit', () => {
  test('every readable executable mapping is searched', () => {
    expect(report.mappings).toBeGreaterThan(3);
    expect(report.bytes).toBeGreaterThan(10_000_000);
    for (const skipped of report.unreadable) expect(skipped.mapping).toMatch(/vsyscall/);
  });

  test("glibc's pkey_set is a gadget", () => {
    const site = report.sites.find((candidate) =>
      candidate.finding.symbol?.name.startsWith('pkey_set'),
    );
    expect(site).toMatchObject({
      verdict: 'gadget',
      finding: { kind: 'wrpkru', classification: 'intended' },
    });
    expect(site!.finding.file).toMatch(/libc\.so\.6$/);
  });

  test("ld.so's XRSTOR is a gadget", () => {
    const sites = report.sites.filter((candidate) =>
      /ld-linux-x86-64\.so\.2$/.test(candidate.finding.file),
    );
    expect(sites.length).toBeGreaterThanOrEqual(1);
    expect(sites.every((site) => site.verdict === 'gadget' && site.finding.kind === 'xrstor')).toBe(
      true,
    );
  });

  test("node's XRSTOR pattern in a displacement is a gadget", () => {
    const site = report.sites.find(
      (candidate) =>
        candidate.finding.file === process.execPath && candidate.finding.kind === 'xrstor',
    );
    expect(site).toMatchObject({ verdict: 'gadget', finding: { classification: 'displacement' } });
  });

  test("keycell's checked PKRU write is a verified gate", () => {
    const site = report.sites.find(
      (candidate) => candidate.finding.symbol?.name === 'keycell_pkru_write_checked',
    );
    expect(site).toMatchObject({
      verdict: 'gate',
      finding: { kind: 'wrpkru', classification: 'intended' },
    });
    expect(site!.reason).toMatch(/ud2/);
  });

  test("every WRPKRU in keycell's addon is a verified gate, and it holds no WRGSBASE", () => {
    const own = report.sites.filter((site) => site.finding.file.endsWith('keycell.node'));
    const wrpkru = own.filter((site) => site.finding.kind === 'wrpkru');
    // The entry, exit, syscall and signal gates, and the host-side checked write.
    expect(wrpkru.length).toBeGreaterThanOrEqual(5);
    for (const site of wrpkru) expect(site.verdict, site.finding.symbol?.name).toBe('gate');
    // GS base anchors trusted per-thread state: keycell sets it with arch_prctl only.
    expect(own.filter((site) => site.finding.kind === 'wrgsbase')).toEqual([]);
    expect(own.filter((site) => site.finding.kind === 'xrstor')).toEqual([]);
  });

  test('parseMaps reads the kernel format', () => {
    const [mapping] = parseMaps('7f0000001000-7f0000002000 r-xp 00001000 08:01 1234   /lib/x.so\n');
    expect(mapping).toEqual({
      start: 0x7f0000001000,
      end: 0x7f0000002000,
      permissions: 'r-xp',
      offset: 0x1000,
      path: '/lib/x.so',
    });
  });
});
