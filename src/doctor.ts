/**
 * `keycell doctor`: can this machine isolate code with protection keys?
 *
 * Each check names the fact it read, whether it passed and, when it did not,
 * what the user can do. The verdict is the conjunction of the checks that
 * isolation depends on.
 */
import os from 'node:os';

import { native, type NativeProbe } from './native.js';

export interface DoctorCheck {
  /** Stable identifier, e.g. `cpu.pku`. */
  id: string;
  title: string;
  ok: boolean;
  /** What was observed, in words. */
  detail: string;
  /** What to do when the check fails. */
  remedy?: string;
}

export interface DoctorReport {
  canIsolate: boolean;
  kernel: string;
  arch: string;
  node: string;
  checks: DoctorCheck[];
  /** PKRU of the probing thread, as hex, when the CPU exposes it. */
  pkru: string | null;
}

/** Oldest kernel with Syscall User Dispatch, which syscall policies need. */
const MIN_KERNEL: [number, number] = [5, 11];

/** Returns [major, minor] of a kernel release string such as `6.1.0-18-amd64`. */
export function kernelVersion(release: string): [number, number] {
  const match = /^(\d+)\.(\d+)/.exec(release);
  if (!match) return [0, 0];
  return [Number(match[1]), Number(match[2])];
}

function atLeast(version: [number, number], minimum: [number, number]): boolean {
  return version[0] > minimum[0] || (version[0] === minimum[0] && version[1] >= minimum[1]);
}

/** Builds the report from a probe; separate from `runDoctor` so it can be tested on any input. */
export function assess(
  probe: NativeProbe | null,
  release = os.release(),
  arch = process.arch,
): DoctorReport {
  const checks: DoctorCheck[] = [];
  const kernel = kernelVersion(release);

  checks.push({
    id: 'platform',
    title: 'Linux on x86-64',
    ok: process.platform === 'linux' && arch === 'x64',
    detail: `${process.platform} on ${arch}`,
    remedy: 'protection keys exist only on x86-64 Linux',
  });
  checks.push({
    id: 'kernel',
    title: `kernel ${MIN_KERNEL.join('.')} or newer`,
    ok: atLeast(kernel, MIN_KERNEL),
    detail: release,
    remedy: 'Syscall User Dispatch arrived in Linux 5.11; upgrade the kernel',
  });

  if (probe) {
    checks.push({
      id: 'cpu.pku',
      title: 'CPU has protection keys (PKU)',
      ok: probe.cpu.pku,
      detail: probe.cpu.pku ? 'CPUID.7.0:ECX.PKU set' : 'CPUID.7.0:ECX.PKU clear',
      remedy:
        'needs Intel Skylake-SP or later, or AMD Zen 3 or later; ' +
        'in a VM, pass the pku flag through',
    });
    checks.push({
      id: 'cpu.ospke',
      title: 'kernel enabled protection keys (OSPKE)',
      ok: probe.cpu.ospke,
      detail: probe.cpu.ospke ? 'CPUID.7.0:ECX.OSPKE set' : 'CPUID.7.0:ECX.OSPKE clear',
      remedy: 'boot a kernel built with CONFIG_X86_INTEL_MEMORY_PROTECTION_KEYS and without nopku',
    });
    checks.push({
      id: 'cpu.fsgsbase',
      title: 'user-mode FSGSBASE instructions',
      ok: probe.cpu.fsgsbase && probe.cpu.fsgsbaseEnabled,
      detail:
        `CPUID ${probe.cpu.fsgsbase ? 'has' : 'lacks'} FSGSBASE; ` +
        `kernel ${probe.cpu.fsgsbaseEnabled ? 'enables' : 'does not enable'} it (AT_HWCAP2)`,
      remedy: 'needs Linux 5.9 or newer on a CPU with FSGSBASE, booted without nofsgsbase',
    });
    checks.push({
      id: 'syscall-user-dispatch',
      title: 'Syscall User Dispatch',
      ok: probe.syscallUserDispatch.supported,
      detail: probe.syscallUserDispatch.supported
        ? 'prctl(PR_SET_SYSCALL_USER_DISPATCH) accepted'
        : `prctl(PR_SET_SYSCALL_USER_DISPATCH) failed: ${probe.syscallUserDispatch.error}`,
      remedy: 'needs Linux 5.11 or newer built with CONFIG_GENERIC_ENTRY',
    });
    checks.push({
      id: 'pkeys.free',
      title: 'free protection keys in this process',
      ok: probe.pkeys.free > 0,
      detail: `${probe.pkeys.free} free (pkey_alloc then said: ${probe.pkeys.stopReason})`,
      remedy: 'every key is taken: close domains or other users of pkey_alloc',
    });
  } else {
    checks.push({
      id: 'addon',
      title: 'native addon loads',
      ok: false,
      detail: 'the addon could not be loaded',
      remedy: 'run `npm run build` in the keycell package',
    });
  }

  for (const check of checks) if (check.ok) delete check.remedy;
  return {
    canIsolate: checks.every((check) => check.ok),
    kernel: release,
    arch,
    node: process.version,
    checks,
    pkru: probe?.pkru == null ? null : `0x${probe.pkru.toString(16).padStart(8, '0')}`,
  };
}

/** Probes this machine and process. */
export function runDoctor(): DoctorReport {
  let probe: NativeProbe | null = null;
  try {
    probe = native().probe();
  } catch {
    probe = null;
  }
  return assess(probe);
}

/** Formats a report for a terminal. */
export function formatDoctor(report: DoctorReport): string {
  const lines = [`keycell doctor: Linux ${report.kernel}, ${report.arch}, Node ${report.node}`];
  for (const check of report.checks) {
    lines.push(`  ${check.ok ? 'ok  ' : 'FAIL'}  ${check.title}: ${check.detail}`);
    if (check.remedy) lines.push(`        remedy: ${check.remedy}`);
  }
  if (report.pkru) lines.push(`  PKRU of this thread: ${report.pkru}`);
  lines.push(
    report.canIsolate
      ? 'verdict: keycell can isolate code with protection keys here'
      : "verdict: keycell cannot isolate here; isolation: 'none' still runs, unprotected",
  );
  return lines.join('\n');
}
