/**
 * Audit mode: run a library in a domain, record every system call it makes,
 * and propose the smallest policy that would allow what it did.
 *
 * ```ts
 * const report = await audit('/usr/lib/x86_64-linux-gnu/libsodium.so.23', (lib) => {
 *   lib.func('int sodium_init(void)')();
 * });
 * report.proposal.policy; // { name: 'proposed', allow: [{ syscall: 'getrandom' }] }
 * ```
 *
 * The library runs under `no-network` by default, so it can do what a library
 * normally does while being watched; calls no policy may allow are listed in
 * the proposal's `refused`.
 */
import { Domain, type DomainOptions, type SyscallEvent } from './domain.js';
import type { Library } from './library.js';
import { proposePolicy, type PolicyProposal, type SyscallAttempt } from './policy/propose.js';
import { SHAPES } from './policy/shapes.js';
import { isSyscallName } from './policy/syscalls.js';

export interface SyscallAuditReport {
  /** Every system call the library made, in order. */
  events: SyscallEvent[];
  proposal: PolicyProposal;
}

/** Calls that return a new descriptor the domain then owns. */
const OPENING = new Set(['open', 'openat', 'creat', 'dup', 'dup2', 'dup3']);

/**
 * Turns recorded events into attempts for `proposePolicy`: descriptor,
 * path, open flags and protections taken from the argument positions of
 * each call, and a descriptor counted as the domain's own when it is 0 to 2
 * or an earlier call of the same run returned it.
 */
export function attemptsFromEvents(events: readonly SyscallEvent[]): SyscallAttempt[] {
  const owned = new Set([0, 1, 2]);
  return events.map((event) => {
    const attempt: SyscallAttempt = { syscall: event.syscall };
    const shape = isSyscallName(event.syscall) ? SHAPES[event.syscall] : undefined;
    if (shape?.fd !== undefined) {
      attempt.fd = Number(BigInt.asIntN(32, event.args[shape.fd]));
      attempt.fdOwned = owned.has(attempt.fd);
    }
    if (event.path !== null) attempt.path = event.path;
    if (shape?.openFlags !== undefined) attempt.openFlags = Number(event.args[shape.openFlags]);
    if (shape?.protection !== undefined) attempt.protection = Number(event.args[shape.protection]);
    if (event.allowed && event.result >= 0 && OPENING.has(event.syscall)) owned.add(event.result);
    if (event.allowed && event.syscall === 'close') owned.delete(attempt.fd ?? -1);
    return attempt;
  });
}

/**
 * Loads `file` into a fresh domain, runs `exercise` on it, and returns what
 * the library attempted with the smallest policy that allows it.
 */
export async function audit(
  file: string,
  exercise: (library: Library) => unknown,
  options: DomainOptions = {},
): Promise<SyscallAuditReport> {
  if (typeof exercise !== 'function')
    throw new TypeError('audit(file, exercise): exercise must be a function');
  const domain = await Domain.create({ policy: 'no-network', ...options });
  const events: SyscallEvent[] = [];
  domain.on('syscall', (event: SyscallEvent) => events.push(event));
  try {
    await exercise(await domain.load(file));
  } finally {
    domain.close();
  }
  return { events, proposal: proposePolicy(attemptsFromEvents(events)) };
}
