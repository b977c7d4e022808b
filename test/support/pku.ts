/**
 * Guards for suites that need protection keys. A PKU suite must never pass by
 * skipping: on a machine without PKU it fails, and `npm test` runs it inside
 * the QEMU guest instead (see test/run-all.mjs).
 */
import { native } from '../../src/native.js';

/** Throws unless this CPU and kernel expose protection keys. Call it in beforeAll. */
export function requirePku(): void {
  const probe = native().probe();
  if (!probe.cpu.pku || !probe.cpu.ospke) {
    throw new Error(
      'this suite needs protection keys, which this machine does not expose ' +
        '(CPUID PKU/OSPKE clear); run it in the guest: ' +
        'npm run guest -- npx vitest run --project pku',
    );
  }
}

/** The guest kernel this run is on (`6.1`, `6.12`) or `native` on PKU hardware. */
export function pkuPlatform(): string {
  return process.env.KEYCELL_GUEST_KERNEL ?? 'native';
}
