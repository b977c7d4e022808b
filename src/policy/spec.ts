/**
 * How users write syscall policies: deny by default, an allow-list of system
 * calls, each optionally with conditions on its arguments. Presets cover the
 * common cases; a custom policy can extend one.
 */
import type { SyscallName } from './syscalls.js';

export type PresetName = 'pure' | 'compute' | 'no-network';

export interface SyscallRule {
  syscall: SyscallName;
  /**
   * Descriptors the call may use (for calls that take one): `own` means 0, 1,
   * 2 and the descriptors this domain opened itself, so a domain cannot write
   * to a socket the host process holds; a list names descriptors below 64.
   */
  fds?: 'own' | 'any' | readonly number[];
  /** Absolute path prefixes the call may name; the host resolves paths before it compares. */
  paths?: readonly string[];
  /** For open and openat: `read` allows O_RDONLY only; `write` also writing and creating. */
  access?: 'read' | 'write';
  /** For mprotect: protections the call may set. Executable memory is never allowed. */
  protections?: readonly ('read' | 'write')[];
}

export interface PolicySpec {
  /** Shown in violations and reports. */
  name?: string;
  /** A preset whose rules this policy starts from. */
  extends?: PresetName;
  /** System calls to allow, by name or as a rule with conditions. */
  allow?: readonly (SyscallName | SyscallRule)[];
  /** System calls to take away from the preset. */
  deny?: readonly SyscallName[];
}

const MEMORY: SyscallRule[] = [
  { syscall: 'mprotect', protections: ['read', 'write'] },
  { syscall: 'madvise' },
  { syscall: 'mlock' },
  { syscall: 'munlock' },
];

const TIME: SyscallRule[] = [
  'clock_gettime',
  'clock_getres',
  'gettimeofday',
  'time',
  'nanosleep',
  'clock_nanosleep',
  'sched_yield',
].map((syscall) => ({ syscall: syscall as SyscallName }));

const RANDOMNESS: SyscallRule[] = [{ syscall: 'getrandom' }];

const OWN_FDS = [
  'read',
  'write',
  'close',
  'fstat',
  'lseek',
  'pread64',
  'pwrite64',
  'readv',
  'writev',
  'fcntl',
  'fsync',
  'fdatasync',
  'ftruncate',
  'getdents64',
  'fstatfs',
  'flock',
  'fadvise64',
  'dup',
].map((syscall): SyscallRule => ({ syscall: syscall as SyscallName, fds: 'own' }));

const FILES: SyscallRule[] = [
  ...OWN_FDS,
  { syscall: 'open', paths: ['/'], access: 'write' },
  { syscall: 'openat', paths: ['/'], access: 'write' },
  ...[
    'stat',
    'lstat',
    'newfstatat',
    'statx',
    'access',
    'faccessat',
    'faccessat2',
    'readlink',
    'readlinkat',
    'unlink',
    'unlinkat',
    'mkdir',
    'mkdirat',
  ].map((syscall): SyscallRule => ({ syscall: syscall as SyscallName, paths: ['/'] })),
  { syscall: 'poll' },
  { syscall: 'ppoll' },
  { syscall: 'getpid' },
  { syscall: 'gettid' },
  { syscall: 'getuid' },
  { syscall: 'geteuid' },
  { syscall: 'getgid' },
  { syscall: 'getegid' },
  { syscall: 'getcwd' },
  { syscall: 'uname' },
];

/** `pure` allows nothing, `compute` memory, time and randomness; `no-network` adds files. */
export const PRESETS: Record<PresetName, readonly SyscallRule[]> = {
  pure: [],
  compute: [...MEMORY, ...TIME, ...RANDOMNESS],
  'no-network': [...MEMORY, ...TIME, ...RANDOMNESS, ...FILES],
};

export function isPresetName(value: unknown): value is PresetName {
  return typeof value === 'string' && Object.hasOwn(PRESETS, value);
}
