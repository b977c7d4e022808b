/**
 * Audit mode's second half: from the system calls a library attempted,
 * propose the smallest policy that would have allowed them all, and list
 * what no policy can allow.
 */
import { native } from '../native.js';
import type { PolicySpec, SyscallRule } from './spec.js';
import { isSyscallName, syscallName, type SyscallName } from './syscalls.js';

/** One attempted system call, as the monitor records it in audit mode. */
export interface SyscallAttempt {
  syscall: string;
  /** The descriptor argument, and whether the domain opened it itself (0-2 count as its own). */
  fd?: number;
  fdOwned?: boolean;
  /** The normalised absolute path argument. */
  path?: string;
  /** open(2) flags. */
  openFlags?: number;
  /** PROT_* bits of an mprotect. */
  protection?: number;
}

export interface PolicyProposal {
  policy: PolicySpec;
  /** Attempts no policy can allow, with keycell's reason. */
  refused: { syscall: string; reason: string; count: number }[];
}

const O_ACCMODE = 3;
const O_WRITING = 0o100 | 0o1000 | 0o2000; // O_CREAT | O_TRUNC | O_APPEND

/** Reduces paths to the fewest directory prefixes that cover them. */
export function coveringDirectories(paths: Iterable<string>): string[] {
  const directories = [
    ...new Set([...paths].map((path) => path.slice(0, path.lastIndexOf('/')) || '/')),
  ].sort();
  return directories.filter(
    (directory, index) =>
      !directories
        .slice(0, index)
        .some((other) => other === '/' || directory.startsWith(`${other}/`)),
  );
}

function ruleFor(syscall: SyscallName, events: SyscallAttempt[]): SyscallRule {
  const rule: SyscallRule = { syscall };
  const fds = events.filter((event) => event.fd !== undefined);
  if (fds.length) {
    const numbers = [...new Set(fds.map((event) => event.fd!))].sort((a, b) => a - b);
    if (fds.every((event) => event.fdOwned)) rule.fds = 'own';
    else rule.fds = numbers.every((fd) => fd >= 0 && fd < 64) ? numbers : 'any';
  }
  const paths = events.filter((event) => event.path !== undefined).map((event) => event.path!);
  if (paths.length) rule.paths = coveringDirectories(paths);
  const flags = events
    .filter((event) => event.openFlags !== undefined)
    .map((event) => event.openFlags!);
  if (flags.length) {
    rule.access = flags.some((value) => (value & O_ACCMODE) !== 0 || (value & O_WRITING) !== 0)
      ? 'write'
      : 'read';
  }
  const protections = events
    .filter((event) => event.protection !== undefined)
    .map((event) => event.protection!);
  if (protections.length) {
    const bits = protections.reduce((all, value) => all | value, 0);
    rule.protections = [
      ...(bits & 1 ? ['read' as const] : []),
      ...(bits & 2 ? ['write' as const] : []),
    ];
  }
  return rule;
}

export function proposePolicy(
  events: readonly SyscallAttempt[],
  name = 'proposed',
): PolicyProposal {
  const always = new Map(
    native()
      .policy.alwaysDenied()
      .map((entry) => [syscallName(entry.nr), entry.reason]),
  );
  const bySyscall = new Map<string, SyscallAttempt[]>();
  for (const event of events)
    bySyscall.set(event.syscall, [...(bySyscall.get(event.syscall) ?? []), event]);

  const allow: SyscallRule[] = [];
  const refused: PolicyProposal['refused'] = [];
  for (const [syscall, attempts] of [...bySyscall].sort(([a], [b]) => a.localeCompare(b))) {
    const reason =
      always.get(syscall) ?? (isSyscallName(syscall) ? undefined : 'unknown system call');
    if (reason) refused.push({ syscall, reason, count: attempts.length });
    else allow.push(ruleFor(syscall as SyscallName, attempts));
  }
  return { policy: { name, allow }, refused };
}
