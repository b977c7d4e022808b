import fs from 'node:fs';

import { describe, expect, test } from 'vitest';

import { native, type PolicyContext } from '../../src/native.js';
import {
  compilePolicy,
  PolicyError,
  proposePolicy,
  SYSCALL_NUMBERS,
  type PolicySpec,
} from '../../src/policy/index.js';
import { coveringDirectories } from '../../src/policy/propose.js';

const HEADER = '/usr/include/x86_64-linux-gnu/asm/unistd_64.h';
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const AT_FDCWD = -100;
const PROT_READ = 1;
const PROT_WRITE = 2;
const PROT_EXEC = 4;

const DOMAIN_START = 0x7e0000000000n;
const DOMAIN_END = DOMAIN_START + 0x4000000n;
const PATH_AT = Number(DOMAIN_START + 0x1000n);

/** A domain with one region, descriptor 7 of its own, and one path string at PATH_AT. */
function context(path = '/usr/lib/x86_64-linux-gnu/libz.so.1', cwd = '/home/user'): PolicyContext {
  return { ranges: [[DOMAIN_START, DOMAIN_END]], ownFds: [7], cwd, strings: { [PATH_AT]: path } };
}

function decide(
  policy: Parameters<typeof compilePolicy>[0],
  name: keyof typeof SYSCALL_NUMBERS,
  args: (number | bigint)[],
  ctx = context(),
) {
  return native().policy.decide(
    compilePolicy(policy).table,
    { nr: SYSCALL_NUMBERS[name], args },
    ctx,
  );
}

describe('system call table', () => {
  test.runIf(fs.existsSync(HEADER))('agrees with the installed kernel header', () => {
    const header = fs.readFileSync(HEADER, 'utf8');
    const numbers = [...header.matchAll(/#define __NR_(\w+) (\d+)/g)];
    expect(numbers.length).toBeGreaterThan(300);
    for (const [, name, nr] of numbers)
      expect(SYSCALL_NUMBERS[name as keyof typeof SYSCALL_NUMBERS], name).toBe(Number(nr));
  });
});

describe('compiling policies', () => {
  test('presets compile to a table of 512 entries', () => {
    for (const preset of ['pure', 'compute', 'no-network'] as const) {
      const compiled = compilePolicy(preset);
      expect(compiled.name).toBe(preset);
      expect(Buffer.from(compiled.table.subarray(0, 4)).toString('latin1')).toBe('KCPL');
      expect(compiled.table.length).toBeGreaterThanOrEqual(16 + 512 * 32);
    }
    expect(compilePolicy('pure').rules.size).toBe(0);
    expect(compilePolicy('compute').rules.has('getrandom')).toBe(true);
    expect(compilePolicy('compute').rules.has('openat')).toBe(false);
    expect(compilePolicy('no-network').rules.has('openat')).toBe(true);
    expect(compilePolicy('no-network').rules.has('socket')).toBe(false);
  });

  test.each<[string, PolicySpec, RegExp]>([
    [
      'an unknown system call',
      { allow: ['frobnicate' as never] },
      /unknown system call "frobnicate"/,
    ],
    [
      'a condition that does not apply',
      { allow: [{ syscall: 'getrandom', paths: ['/'] }] },
      /paths applies only to calls that take a path/,
    ],
    [
      'a relative path prefix',
      { allow: [{ syscall: 'openat', paths: ['usr/lib'] }] },
      /must be absolute/,
    ],
    [
      'a prefix with ..',
      { allow: [{ syscall: 'openat', paths: ['/usr/../etc'] }] },
      /free of \. and \.\./,
    ],
    ['a descriptor beyond 63', { allow: [{ syscall: 'read', fds: [64] }] }, /from 0 to 63/],
    [
      'executable protections',
      { allow: [{ syscall: 'mprotect', protections: ['exec' as never] }] },
      /never "exec"/,
    ],
    [
      'an always-denied call',
      { allow: ['ptrace'] },
      /ptrace cannot be allowed: keycell always denies it \(it controls processes\)/,
    ],
    ['an unknown preset', { extends: 'network' as never }, /unknown preset "network"/],
  ])('rejects %s with a PolicyError naming it', (_, spec, message) => {
    expect(() => compilePolicy({ name: 'mine', ...spec })).toThrow(PolicyError);
    expect(() => compilePolicy({ name: 'mine', ...spec })).toThrow(message);
  });

  test('rejects what is not a policy at all', () => {
    expect(() => compilePolicy(42 as never)).toThrow(TypeError);
  });

  test('deny takes calls away from a preset', () => {
    const compiled = compilePolicy({ extends: 'compute', deny: ['getrandom'] });
    expect(compiled.rules.has('getrandom')).toBe(false);
    expect(
      decide({ extends: 'compute', deny: ['getrandom'] }, 'getrandom', [0, 16, 0]).allowed,
    ).toBe(false);
  });
});

describe('deciding', () => {
  test('no-network allows file work and refuses every socket call', () => {
    expect(decide('no-network', 'openat', [AT_FDCWD, PATH_AT, O_RDONLY, 0])).toMatchObject({
      allowed: true,
      path: '/usr/lib/x86_64-linux-gnu/libz.so.1',
    });
    expect(decide('no-network', 'read', [7, 0, 10]).allowed).toBe(true);
    for (const call of ['socket', 'connect', 'sendto', 'sendmsg', 'bind', 'socketpair'] as const) {
      const decision = decide('no-network', call, [2, 1, 0]);
      expect(decision, call).toMatchObject({
        allowed: false,
        reason: "not allowed by the domain's policy",
      });
    }
  });

  test('descriptors the domain did not open are refused, even for write', () => {
    expect(decide('no-network', 'write', [1, 0, 1]).allowed).toBe(true);
    expect(decide('no-network', 'write', [7, 0, 1]).allowed).toBe(true);
    expect(decide('no-network', 'write', [9, 0, 1])).toMatchObject({
      allowed: false,
      errno: 9,
      reason: 'descriptor 9 was not opened by this domain',
    });
    expect(decide({ allow: [{ syscall: 'read', fds: [3] }] }, 'read', [3, 0, 1]).allowed).toBe(
      true,
    );
    expect(decide({ allow: [{ syscall: 'read', fds: [3] }] }, 'read', [4, 0, 1]).reason).toBe(
      "descriptor 4 is not in the policy's list",
    );
  });

  test('paths are normalised, then compared at component boundaries', () => {
    const spec: PolicySpec = {
      allow: [{ syscall: 'openat', paths: ['/usr/lib'], access: 'read' }],
    };
    expect(decide(spec, 'openat', [AT_FDCWD, PATH_AT, O_RDONLY]).allowed).toBe(true);
    expect(
      decide(spec, 'openat', [AT_FDCWD, PATH_AT, O_RDONLY], context('/usr/libexec/x')).reason,
    ).toBe("/usr/libexec/x is outside the policy's paths");
    expect(
      decide(spec, 'openat', [AT_FDCWD, PATH_AT, O_RDONLY], context('/usr/lib/../../etc/shadow'))
        .path,
    ).toBe('/etc/shadow');
    expect(
      decide(
        spec,
        'openat',
        [AT_FDCWD, PATH_AT, O_RDONLY],
        context('../../usr/lib/a', '/home/user'),
      ).allowed,
    ).toBe(true);
    expect(decide(spec, 'openat', [AT_FDCWD, PATH_AT, O_WRONLY]).reason).toBe(
      'the policy allows opening for reading only',
    );
    expect(decide(spec, 'openat', [AT_FDCWD, PATH_AT, O_RDONLY | O_CREAT]).allowed).toBe(false);
    expect(decide(spec, 'openat', [5, PATH_AT, O_RDONLY]).reason).toBe(
      'only AT_FDCWD is accepted as a directory descriptor',
    );
    expect(decide(spec, 'openat', [AT_FDCWD, 0x1234, O_RDONLY])).toMatchObject({
      allowed: false,
      reason: 'the path does not lie in domain memory',
    });
  });

  test.each([
    '/proc/self/mem',
    '/proc/thread-self/maps',
    '/proc/1234/mem',
    '/proc/self/../self/pagemap',
    '/dev/mem',
  ])('opening %s is always denied', (path) => {
    const decision = decide('no-network', 'openat', [AT_FDCWD, PATH_AT, O_RDONLY], context(path));
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toMatch(/^always denied: .* exposes process memory$/);
  });

  test('memory calls must stay inside the domain and never ask for execution', () => {
    const inside = DOMAIN_START + 0x10000n;
    expect(decide('compute', 'mprotect', [inside, 4096, PROT_READ]).allowed).toBe(true);
    expect(decide('compute', 'mprotect', [inside, 4096, PROT_READ | PROT_EXEC]).reason).toBe(
      'executable memory is never allowed',
    );
    expect(decide('compute', 'mprotect', [0x400000, 4096, PROT_READ]).reason).toBe(
      'memory outside the domain',
    );
    expect(decide('compute', 'mprotect', [DOMAIN_END - 4096n, 8192, PROT_READ]).reason).toBe(
      'memory outside the domain',
    );
    expect(decide('compute', 'madvise', [0xffffffffffff0000n, 0x20000, 4]).reason).toBe(
      'memory outside the domain',
    );
    expect(
      decide({ allow: [{ syscall: 'mprotect', protections: ['read'] }] }, 'mprotect', [
        inside,
        4096,
        PROT_READ | PROT_WRITE,
      ]).allowed,
    ).toBe(false);
  });

  test.each([
    'mmap',
    'pkey_mprotect',
    'process_vm_writev',
    'ptrace',
    'rt_sigreturn',
    'clone',
    'execve',
    'prctl',
    'io_uring_setup',
    'memfd_create',
  ] as const)('%s is always denied, whatever the policy', (call) => {
    const decision = decide('no-network', call, [0, 0, 0, 0, 0, 0]);
    expect(decision.allowed).toBe(false);
    expect(decision.reason).toMatch(/^always denied: /);
  });

  test('pure allows nothing', () => {
    for (const call of ['getrandom', 'clock_gettime', 'write', 'getpid'] as const)
      expect(decide('pure', call, [1, 0, 0]).allowed).toBe(false);
  });

  test('a damaged table is refused', () => {
    const table = compilePolicy('compute').table.slice();
    table[0] = 0;
    expect(() => native().policy.decide(table, { nr: 0, args: [] }, context())).toThrow(/magic/);
    expect(() =>
      native().policy.decide(table.subarray(0, 100), { nr: 0, args: [] }, context()),
    ).toThrow(/too short/);
  });
});

describe('audit proposals', () => {
  test('covering directories keep only the outermost', () => {
    expect(
      coveringDirectories(['/usr/lib/a.so', '/usr/lib/x/b.so', '/etc/ssl/c', '/usr/lib2/d']),
    ).toEqual(['/etc/ssl', '/usr/lib', '/usr/lib2']);
  });

  test('proposes the smallest policy and refuses what no policy allows', () => {
    const proposal = proposePolicy([
      { syscall: 'openat', path: '/usr/share/zoneinfo/UTC', openFlags: O_RDONLY },
      { syscall: 'openat', path: '/usr/share/zoneinfo/Europe/Paris', openFlags: O_RDONLY },
      { syscall: 'read', fd: 7, fdOwned: true },
      { syscall: 'write', fd: 12, fdOwned: false },
      { syscall: 'mprotect', protection: PROT_READ },
      { syscall: 'getrandom' },
      { syscall: 'ptrace' },
      { syscall: 'ptrace' },
    ]);
    expect(proposal.policy.allow).toEqual([
      { syscall: 'getrandom' },
      { syscall: 'mprotect', protections: ['read'] },
      { syscall: 'openat', paths: ['/usr/share/zoneinfo'], access: 'read' },
      { syscall: 'read', fds: 'own' },
      { syscall: 'write', fds: [12] },
    ]);
    expect(proposal.refused).toEqual([
      { syscall: 'ptrace', reason: 'it controls processes', count: 2 },
    ]);
    // The proposal compiles and allows what was seen.
    expect(
      decide(
        proposal.policy,
        'openat',
        [AT_FDCWD, PATH_AT, O_RDONLY],
        context('/usr/share/zoneinfo/UTC'),
      ).allowed,
    ).toBe(true);
  });
});
