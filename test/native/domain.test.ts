/**
 * Domains with isolation 'none' on any machine: the API, argument checks,
 * typed errors, the gate's argument and register handling, faults turned into
 * SandboxFaults, and the long-running figures (leaks, RSS, signals) at full
 * counts. The same gates with protection keys are tested in test/pku/.
 */
import { spawn } from 'node:child_process';

import { afterAll, beforeAll, describe, expect, test } from 'vitest';

import {
  Domain,
  DomainClosedError,
  DomainMemoryError,
  DomainPoisonedError,
  IsolationUnavailableError,
  KeycellError,
  SandboxFault,
} from '../../src/index.js';
import { callDomainFunction, openDomain, withNativeDomain } from '../../src/domain.js';
import {
  Protection,
  copyFromDomain,
  copyIntoDomain,
  domainAddress,
  domainLayout,
  protectDomainPages,
  viewDomainMemory,
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

const DATA = 0x100000;

describe('Domain.create arguments', () => {
  test('rejects options that are not an object', async () => {
    await expect(Domain.create(42 as never)).rejects.toThrow(TypeError);
    await expect(Domain.create(null as never)).rejects.toThrow(/options must be an object/);
  });

  test('rejects unknown isolation values and unknown options', async () => {
    await expect(Domain.create({ isolation: 'mpk' as never })).rejects.toThrow(
      /isolation must be 'pku' or 'none', not "mpk"/,
    );
    await expect(Domain.create({ isolaton: 'none' } as never)).rejects.toThrow(
      /unknown option 'isolaton'/,
    );
  });

  test("isolation 'pku' without protection keys says why and names keycell doctor", async () => {
    if (native().probe().cpu.ospke) return; // this machine has PKU: test/pku covers it
    const error = await Domain.create({ isolation: 'pku' }).catch((caught: unknown) => caught);
    expect(error).toBeInstanceOf(IsolationUnavailableError);
    expect(error).toBeInstanceOf(KeycellError);
    expect((error as IsolationUnavailableError).code).toBe('ISOLATION_UNAVAILABLE');
    expect((error as Error).message).toMatch(/protection keys.*keycell doctor/s);
  });

  test("isolation 'none' warns once", async () => {
    const entry = JSON.stringify(require.resolve('../../dist/index.js'));
    const script = `const { Domain } = require(${entry});
      (async () => { (await Domain.create({ isolation: 'none' })).close();
                     (await Domain.create({ isolation: 'none' })).close(); })();`;
    const child = spawn(process.execPath, ['-e', script]);
    let stderr = '';
    child.stderr.on('data', (chunk) => (stderr += chunk));
    const status = await new Promise((resolve) => child.on('exit', resolve));
    expect(status).toBe(0);
    expect(stderr.match(/KEYCELL_NO_ISOLATION/g)).toHaveLength(1);
  });
});

describe("domains with isolation 'none'", () => {
  let target: TestDomain;

  beforeAll(() => {
    target = openTestDomain('none');
  });
  afterAll(() => target.domain.close());

  test('passes six integer and six double arguments and returns both results', () => {
    const { domain, fn } = target;
    expect(callDomainFunction(domain, fn.add, [2, 40]).value).toBe(42n);
    expect(callDomainFunction(domain, fn.sumSix, [1, 2, 3, 4, 5, 6n]).value).toBe(21n);
    expect(callDomainFunction(domain, fn.sumSix, [-1, 0, 0, 0, 0, 0]).value).toBe(2n ** 64n - 1n);
    const sum = callDomainFunction(domain, fn.sumSixDoubles, [], [0.5, 1, 2, 4, 8, 16]).float;
    expect(sum).toBe(31.5);
  });

  test('rejects more than six arguments of a kind', () => {
    const { domain, fn } = target;
    expect(() => callDomainFunction(domain, fn.add, [1, 2, 3, 4, 5, 6, 7])).toThrow(TypeError);
  });

  test('runs on its own stack and thread pointer with a stack canary at %fs:0x28', () => {
    const { domain, fn } = target;
    const layout = domainLayout(domain);
    const rsp = Number(callDomainFunction(domain, fn.readStackPointer).value);
    expect(rsp).toBeLessThan(layout.stackTop);
    expect(rsp).toBeGreaterThan(layout.stackTop - layout.stackSize);
    expect(Number(callDomainFunction(domain, fn.readThreadSelf).value)).toBe(layout.threadPointer);
    const canary = callDomainFunction(domain, fn.readCanary).value;
    expect(canary).not.toBe(0n);
    expect(canary & 0xffn).toBe(0n);
  });

  test('clears every register that is not an argument', () => {
    const { domain, fn } = target;
    expect(callDomainFunction(domain, fn.orNonArgumentRegisters).value).toBe(0n);
  });

  test('restores callee-saved registers and the direction flag the domain clobbered', () => {
    const { domain, fn } = target;
    callDomainFunction(domain, fn.clobberCalleeSaved, [0xdeadbeef]);
    // Host code still works: string operations and arithmetic rely on both.
    expect(Buffer.from('keycell').toString('hex')).toBe('6b657963656c6c');
    expect(callDomainFunction(domain, fn.add, [3, 4]).value).toBe(7n);
  });

  test('x87, SSE and flag state the domain broke is restored for the host', () => {
    expectHostStateRestored(target);
  });

  test('host values in YMM upper halves, ZMM16-31 and mask registers do not reach the domain', () => {
    const { domain, fn } = target;
    const report = withNativeDomain(domain, (native) =>
      native.selftestVectorClearing(fn.vectorRegistersDirty),
    );
    // Every x86-64 CPU keycell runs on has AVX (Skylake-SP and later).
    expect(report.level).toBeGreaterThan(0);
    expect(report.dirtyWithoutClearing).toBe(1);
    expect(report.dirtyWithClearing).toBe(0);
  });

  test('domain code reads and writes its own memory', () => {
    const { domain, fn } = target;
    protectDomainPages(domain, DATA, 4096, Protection.readWrite);
    copyIntoDomain(domain, DATA, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 8));
    const address = domainAddress(domain, DATA);
    expect(callDomainFunction(domain, fn.load, [address]).value).toBe(0x0807060504030201n);
    callDomainFunction(domain, fn.store, [address + 8, 0x1122334455667788n]);
    expect(copyFromDomain(domain, DATA + 8, 8).readBigUInt64LE()).toBe(0x1122334455667788n);
    const view = new Uint8Array(viewDomainMemory(domain, DATA, 16));
    expect(view[8]).toBe(0x88);
  });

  test('memory access from the host is bounds-checked and never writable and executable', () => {
    const { domain } = target;
    const layout = domainLayout(domain);
    expect(() => copyFromDomain(domain, layout.imageSize - 4, 8)).toThrow(DomainMemoryError);
    expect(() => copyIntoDomain(domain, 0, Uint8Array.of(0x90))).toThrow(/not writable/);
    expect(() => protectDomainPages(domain, DATA, 4096, 7 as never)).toThrow(
      /never writable and executable/,
    );
    expect(() => copyFromDomain(domain, -1, 1)).toThrow(TypeError);
  });

  test('views are detached when their pages lose write access', () => {
    const { domain } = target;
    protectDomainPages(domain, DATA + 4096, 4096, Protection.readWrite);
    const view = viewDomainMemory(domain, DATA + 4096, 4096);
    expect(view.byteLength).toBe(4096);
    protectDomainPages(domain, DATA + 4096, 4096, Protection.read);
    expect(view.byteLength).toBe(0);
  });

  test('refuses entries outside executable domain pages', () => {
    const { domain } = target;
    expect(() => callDomainFunction(domain, domainAddress(domain, DATA), [])).toThrow(
      /not in an executable page/,
    );
  });
});

describe('faults in domain code', () => {
  for (const [name, kind, signal] of faultingCode) {
    test(`${name} raises SandboxFault '${kind}' and poisons the domain`, () => {
      const target = openTestDomain('none');
      let fault: unknown;
      try {
        callDomainFunction(target.domain, target.fn[name]);
      } catch (caught) {
        fault = caught;
      }
      expect(fault).toBeInstanceOf(SandboxFault);
      const sandboxFault = fault as SandboxFault;
      expect(sandboxFault.kind).toBe(kind);
      expect(sandboxFault.signal).toBe(signal);
      expect(sandboxFault.domainId).toBe(target.domain.id);
      const entry = BigInt(target.fn[name]);
      expect(sandboxFault.instructionPointer).toBeGreaterThanOrEqual(entry);
      expect(sandboxFault.instructionPointer).toBeLessThan(entry + 16n);
      expect(sandboxFault.message).toContain(`domain ${target.domain.id}`);
      if (kind === 'segv') expect(sandboxFault.faultAddress).toBe(0n);

      expect(target.domain.fault).toBe(sandboxFault);
      expect(() => callDomainFunction(target.domain, target.fn.add, [1, 2])).toThrow(
        DomainPoisonedError,
      );
      target.domain.close();
    });
  }

  test("faults outside domain code still reach V8's handler (WebAssembly traps)", () => {
    const target = openTestDomain('none');
    expect(() => callDomainFunction(target.domain, target.fn.loadNull)).toThrow(SandboxFault);
    const load = wasmOutOfBoundsLoad();
    expect(() => load()).toThrow(wasm.RuntimeError);
    expect(() => load()).toThrow(/out of bounds/);
    target.domain.close();
  });

  test('calling a closed domain throws DomainClosedError', () => {
    const target = openTestDomain('none');
    target.domain.close();
    target.domain.close();
    expect(target.domain.closed).toBe(true);
    expect(() => callDomainFunction(target.domain, target.fn.add, [1, 2])).toThrow(
      DomainClosedError,
    );
    expect(() => domainLayout(target.domain)).toThrow(/domain \d+ is closed/);
  });

  test('a signal handler that re-enters during a call is refused; the call completes', () => {
    const target = openTestDomain('none');
    const report = withNativeDomain(target.domain, (domain) =>
      domain.selftestReentryFromSignal(target.fn.raiseSigusr1),
    );
    expect(report).toEqual({ handled: true, innerRefused: true, outerReturned: true });
    expect(callDomainFunction(target.domain, target.fn.add, [1, 2]).value).toBe(3n);
    target.domain.close();
  });

  test('closing a domain detaches the views over its memory', () => {
    const domain = openDomain({ isolation: 'none' });
    protectDomainPages(domain, 0, 4096, Protection.readWrite);
    const view = viewDomainMemory(domain, 0, 4096);
    domain.close();
    expect(view.byteLength).toBe(0);
  });
});

describe('long runs (full counts)', () => {
  test('10,000 create/close cycles leak no mappings', () => {
    openDomain({ isolation: 'none' }).close();
    const before = addressSpace();
    for (let i = 0; i < 10_000; i++) openDomain({ isolation: 'none' }).close();
    const after = addressSpace();
    console.log(`address space after 10,000 'none' cycles: ${JSON.stringify({ before, after })}`);
    // Fewer is fine (V8 may give reservations back meanwhile); more would be a leaked domain.
    expect(after.largeMappings).toBeLessThanOrEqual(before.largeMappings);
    expect(after.mappedBytes - before.mappedBytes).toBeLessThan(2 ** 30);
    expect(native().domain.openDomains()).toBe(0);
  });

  test('1,000,000 calls grow RSS by less than 1 MiB', () => {
    const target = openTestDomain('none');
    // The first million calls let V8's young generation and JIT code reach
    // their working size; the second million must not add to it.
    for (let i = 0; i < 1_000_000; i++) callDomainFunction(target.domain, target.fn.add, [i, 1]);
    const before = residentBytes();
    for (let i = 0; i < 1_000_000; i++) callDomainFunction(target.domain, target.fn.add, [i, 1]);
    const growth = residentBytes() - before;
    console.log(`RSS growth over 1,000,000 'none' calls: ${growth} bytes`);
    expect(growth).toBeLessThan(1 << 20);
    target.domain.close();
  });

  test('SIGCHLD, SIGUSR2 and a timer-signal storm during 100,000 calls all arrive', async () => {
    const target = openTestDomain('none');
    const result = await signalStorm(target, {
      children: 20,
      calls: 100_000,
      intervalMicros: 50,
      pingPongs: 200,
    });
    console.log(`signal storm during 'none' calls: ${JSON.stringify(result)}`);
    expect(result.childExits).toEqual(Array(20).fill(0));
    expect(result.received).toBe(200);
    expect(result.profilerSamples).toBeGreaterThan(10);
    target.domain.close();
  }, 120_000);
});
