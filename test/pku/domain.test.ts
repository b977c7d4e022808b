/**
 * Domains isolated by protection keys, on a kernel with PKU (the QEMU guest,
 * kernels 6.1 and 6.12). Where a count would take minutes under TCG (one call
 * costs tens of microseconds there) it is scaled down; test/native runs the
 * same measurements at full counts with isolation 'none'.
 */
import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import { DomainClosedError, PkeysExhaustedError, SandboxFault } from '../../src/index.js';
import { callDomainFunction, openDomain, type Domain } from '../../src/domain.js';
import {
  Protection,
  copyFromDomain,
  copyIntoDomain,
  domainAddress,
  domainLayout,
  protectDomainPages,
} from '../../src/domain-memory.js';
import { native } from '../../src/native.js';
import {
  addressSpace,
  expectHostStateRestored,
  openTestDomain,
  residentBytes,
  signalStorm,
  type TestDomain,
  wasm,
  wasmOutOfBoundsLoad,
} from '../support/domains.js';
import { faultingCode } from '../support/machine-code.js';
import { pkuPlatform, requirePku } from '../support/pku.js';

const DATA = 0x100000;
const SEGV_PKUERR = 4;

/** Runs a call that must fault and returns the SandboxFault. */
function faultOf(domain: Domain, entry: number, args: (number | bigint)[] = []): SandboxFault {
  try {
    callDomainFunction(domain, entry, args);
  } catch (error) {
    if (error instanceof SandboxFault) return error;
    throw error;
  }
  throw new Error('the call returned instead of faulting');
}

describe(`domains isolated by protection keys (${pkuPlatform()})`, () => {
  let target: TestDomain;

  beforeAll(() => {
    requirePku();
    target = openTestDomain('pku');
    protectDomainPages(target.domain, DATA, 4096, Protection.readWrite);
  });
  afterAll(() => target?.domain.close());

  test('the domain PKRU denies key 0 and V8s key and allows the domain key', () => {
    const layout = domainLayout(target.domain);
    expect(layout.pkey).toBeGreaterThan(1);
    const pkru = layout.pkru!;
    expect(pkru & 0b11).toBe(0b11);
    expect((pkru >>> 2) & 0b11).toBe(0b11);
    expect((pkru >>> (2 * layout.pkey)) & 0b11).toBe(0);
  });

  test('domain code reads and writes its own memory, arguments and results intact', () => {
    const { domain, fn } = target;
    copyIntoDomain(domain, DATA, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const address = domainAddress(domain, DATA);
    expect(callDomainFunction(domain, fn.load, [address]).value).toBe(0x0807060504030201n);
    callDomainFunction(domain, fn.store, [address + 8, 0xfeedn]);
    expect(copyFromDomain(domain, DATA + 8, 8).readBigUInt64LE()).toBe(0xfeedn);
    expect(callDomainFunction(domain, fn.sumSix, [1, 2, 3, 4, 5, 6]).value).toBe(21n);
    expect(callDomainFunction(domain, fn.sumSixDoubles, [], [1, 2, 3, 4, 5, 6.5]).float).toBe(21.5);
    expect(callDomainFunction(domain, fn.orNonArgumentRegisters).value).toBe(0n);
    const canary = callDomainFunction(domain, fn.readCanary).value;
    expect(canary).not.toBe(0n);
  });

  test('the host PKRU after a call is bit-identical to before, V8s bits included', () => {
    const { domain, fn } = target;
    const before = native().selftest.pkruRead();
    callDomainFunction(domain, fn.add, [1, 2]);
    callDomainFunction(domain, fn.clobberCalleeSaved, [0x1234]);
    expect(native().selftest.pkruRead()).toBe(before);
    // Node's V8 holds key 1 and keeps its write-disable bit set between uses.
    expect(before & 0b1100).toBe(0b1000);
  });

  test('x87, SSE and flag state the domain broke is restored for the host', () => {
    expectHostStateRestored(target);
  });

  test('reading a Buffer (key 0 host memory) raises a PKU SandboxFault', () => {
    const domain = openTestDomain('pku');
    const buffer = Buffer.alloc(64, 0x5a);
    const address = native().selftest.bufferAddress(buffer);
    const before = native().selftest.pkruRead();
    const fault = faultOf(domain.domain, domain.fn.load, [address]);
    expect(fault.kind).toBe('pku');
    expect(fault.signalCode).toBe(SEGV_PKUERR);
    expect(fault.pkey).toBe(0);
    expect(fault.faultAddress).toBe(BigInt(address));
    expect(fault.instructionPointer).toBe(BigInt(domain.fn.load));
    expect(native().selftest.pkruRead()).toBe(before);
    domain.domain.close();
  });

  test('writing a Buffer raises a PKU SandboxFault and leaves it unchanged', () => {
    const domain = openTestDomain('pku');
    const buffer = Buffer.alloc(64, 0x5a);
    const fault = faultOf(domain.domain, domain.fn.store, [
      native().selftest.bufferAddress(buffer),
      0,
    ]);
    expect(fault.kind).toBe('pku');
    expect(buffer.every((byte) => byte === 0x5a)).toBe(true);
    domain.domain.close();
  });

  test('reading the host stack raises a PKU SandboxFault', () => {
    const domain = openTestDomain('pku');
    const fault = faultOf(domain.domain, domain.fn.load, [native().selftest.hostStackAddress()]);
    expect(fault.kind).toBe('pku');
    expect(fault.pkey).toBe(0);
    domain.domain.close();
  });

  test("reading another domain's memory faults with that domain's key", () => {
    const other = openDomain({ isolation: 'pku' });
    protectDomainPages(other, 0, 4096, Protection.readWrite);
    const domain = openTestDomain('pku');
    const fault = faultOf(domain.domain, domain.fn.load, [domainAddress(other, 0)]);
    expect(fault.kind).toBe('pku');
    expect(fault.pkey).toBe(domainLayout(other).pkey);
    domain.domain.close();
    other.close();
  });

  for (const [name, kind] of faultingCode) {
    test(`${name} raises SandboxFault '${kind}', the process lives and PKRU is restored`, () => {
      const domain = openTestDomain('pku');
      const before = native().selftest.pkruRead();
      expect(faultOf(domain.domain, domain.fn[name]).kind).toBe(kind);
      expect(native().selftest.pkruRead()).toBe(before);
      expect(domain.domain.fault?.kind).toBe(kind);
      domain.domain.close();
      // Other domains keep working.
      expect(callDomainFunction(target.domain, target.fn.add, [20, 22]).value).toBe(42n);
    });
  }

  test("faults outside domain code still reach V8's handler (WebAssembly traps)", () => {
    const load = wasmOutOfBoundsLoad();
    callDomainFunction(target.domain, target.fn.add, [1, 2]);
    expect(() => load()).toThrow(wasm.RuntimeError);
  });

  test('calling a closed domain throws DomainClosedError', () => {
    const domain = openTestDomain('pku');
    domain.domain.close();
    expect(() => callDomainFunction(domain.domain, domain.fn.add, [1, 2])).toThrow(
      DomainClosedError,
    );
  });

  test('running out of keys throws PkeysExhaustedError naming the open domains', () => {
    const opened: Domain[] = [];
    let error: unknown;
    try {
      for (;;) opened.push(openDomain({ isolation: 'pku' }));
    } catch (caught) {
      error = caught;
    }
    const open = native().domain.openDomains();
    for (const domain of opened) domain.close();
    expect(error).toBeInstanceOf(PkeysExhaustedError);
    expect((error as PkeysExhaustedError).openDomains).toBe(open);
    expect((error as Error).message).toContain(`${open} domain(s) are open`);
    console.log(`keys ran out with ${open} domains open`);
  });

  test('10,000 create/close cycles leak neither keys nor mappings', () => {
    openDomain({ isolation: 'pku' }).close();
    const keysBefore = native().probe().pkeys.free;
    const before = addressSpace();
    const started = Date.now();
    for (let i = 0; i < 10_000; i++) openDomain({ isolation: 'pku' }).close();
    const after = addressSpace();
    const keysAfter = native().probe().pkeys.free;
    console.log(
      `10,000 'pku' cycles in ${Date.now() - started} ms: keys ${keysBefore} -> ${keysAfter}, ` +
        `${JSON.stringify({ before, after })}`,
    );
    expect(keysAfter).toBe(keysBefore);
    // Fewer is fine (V8 may give reservations back meanwhile); more would be a leaked domain.
    expect(after.largeMappings).toBeLessThanOrEqual(before.largeMappings);
    expect(after.mappedBytes - before.mappedBytes).toBeLessThan(2 ** 30);
  }, 300_000);

  test('1,000,000 calls grow RSS by less than 1 MiB', () => {
    const { domain, fn } = target;
    for (let i = 0; i < 200_000; i++) callDomainFunction(domain, fn.add, [i, 1]);
    const before = residentBytes();
    const started = Date.now();
    for (let i = 0; i < 1_000_000; i++) callDomainFunction(domain, fn.add, [i, 1]);
    const growth = residentBytes() - before;
    const elapsed = Date.now() - started;
    console.log(`RSS growth over 1,000,000 'pku' calls: ${growth} bytes in ${elapsed} ms`);
    expect(growth).toBeLessThan(1 << 20);
  }, 300_000);

  test('SIGCHLD, SIGUSR2 and a timer-signal storm during domain calls all arrive', async () => {
    const result = await signalStorm(target, {
      children: 5,
      calls: 20_000,
      intervalMicros: 100,
      pingPongs: 50,
    });
    console.log(`signal storm during 'pku' calls: ${JSON.stringify(result)}`);
    expect(result.childExits).toEqual(Array(5).fill(0));
    expect(result.received).toBe(50);
    expect(result.profilerSamples).toBeGreaterThan(10);
  }, 300_000);
});
