/**
 * The attack suite: a library that makes raw SYSCALL instructions tries the
 * known ways out of a PKU sandbox (the kernel as confused deputy through
 * memory calls, /proc/self/mem, process_vm_writev, a forged sigreturn,
 * FS/GS bases, new threads or processes, switching Syscall User Dispatch
 * off, ending the process). Each attempt must come back as an error to the
 * library and as a denied `syscall` event, with the process alive. Shared by
 * the native suite (isolation 'none') and the PKU suite.
 */
import type { Domain, SyscallEvent } from '../../src/domain.js';
import type { Library } from '../../src/library.js';
import { native } from '../../src/native.js';

const EPERM = 1;
const EACCES = 13;

export interface Attack {
  name: string;
  /** The system call, as the monitor reports it. */
  syscall: string;
  run: (raw: (...args: (number | bigint)[]) => unknown, scratch: bigint) => unknown;
  /** The errno the library must get back. */
  errno: number;
}

const page = (address: number) => BigInt(address) & ~0xfffn;

/** Builds the attacks; `host` is a host address (a Buffer's) to aim at. */
export function attacks(host: number): Attack[] {
  return [
    {
      name: 'open a socket',
      syscall: 'socket',
      run: (raw) => raw(41, 2, 1, 0, 0, 0),
      errno: EPERM,
    },
    {
      name: 'make host memory writable and executable with mprotect',
      syscall: 'mprotect',
      run: (raw) => raw(10, page(host), 4096, 7, 0, 0),
      errno: EPERM,
    },
    {
      name: 'retag host memory with pkey_mprotect',
      syscall: 'pkey_mprotect',
      run: (raw) => raw(329, page(host), 4096, 3, 0, 0),
      errno: EPERM,
    },
    {
      name: 'map fresh executable memory',
      syscall: 'mmap',
      run: (raw) => raw(9, 0, 4096, 7, 0x22, -1),
      errno: EPERM,
    },
    {
      name: 'open /proc/self/mem',
      syscall: 'openat',
      run: (raw, scratch) => raw(257, -100, scratch, 2, 0, 0),
      errno: EACCES,
    },
    {
      name: 'write host memory with process_vm_writev',
      syscall: 'process_vm_writev',
      run: (raw, scratch) => raw(311, process.pid, scratch, 1, scratch, 1),
      errno: EPERM,
    },
    {
      name: 'return through a forged signal frame',
      syscall: 'rt_sigreturn',
      run: (raw) => raw(15, 0, 0, 0, 0, 0),
      errno: EPERM,
    },
    {
      name: 'move GS base with arch_prctl',
      syscall: 'arch_prctl',
      run: (raw) => raw(158, 0x1001, BigInt(host), 0, 0, 0),
      errno: EPERM,
    },
    {
      name: 'switch Syscall User Dispatch off with prctl',
      syscall: 'prctl',
      run: (raw) => raw(157, 59, 0, 0, 0, 0),
      errno: EPERM,
    },
    {
      name: 'start a thread to race the monitor',
      syscall: 'clone',
      run: (raw) => raw(56, 0x50f00, 0, 0, 0, 0),
      errno: EPERM,
    },
    {
      name: 'end the process',
      syscall: 'exit_group',
      run: (raw) => raw(231, 7, 0, 0, 0, 0),
      errno: EPERM,
    },
  ];
}

export interface AttackOutcome {
  attack: string;
  returned: unknown;
  event: SyscallEvent | undefined;
}

/** Runs every attack from `library` in `domain`; the domain must have a 'syscall' listener. */
export async function runAttacks(domain: Domain, library: Library): Promise<AttackOutcome[]> {
  const events: SyscallEvent[] = [];
  domain.on('syscall', (event: SyscallEvent) => events.push(event));
  const raw = library.func(
    'long raw_syscall(long nr, long a1, long a2, long a3, long a4, long a5)',
  );
  const scratch = await domain.alloc(64);
  scratch.bytes.set(Buffer.from('/proc/self/mem\0'));
  const secret = Buffer.from('host memory the domain must not reach');
  const host = native().selftest.bufferAddress(secret);

  const outcomes: AttackOutcome[] = [];
  for (const attack of attacks(host)) {
    const before = events.length;
    const returned = attack.run(raw, scratch.pointer.address);
    outcomes.push({
      attack: attack.name,
      returned,
      event: events.slice(before).find((event) => event.syscall === attack.syscall),
    });
  }
  return outcomes;
}
