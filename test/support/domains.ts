/**
 * Helpers shared by the domain suites: placing test functions, and the
 * measurements (mappings, RSS, signals) both the native and the PKU suites run
 * with their own counts.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import { Session } from 'node:inspector';
import { setImmediate as yieldToLoop } from 'node:timers/promises';

import { expect } from 'vitest';

import { callDomainFunction, openDomain, type Domain, type Isolation } from '../../src/domain.js';
import { PAGE_SIZE, placeUnscannedCode, type DomainAddress } from '../../src/domain-memory.js';
import { native } from '../../src/native.js';
import { code, type CodeName } from './machine-code.js';

/** A domain with every test function placed, one page each. */
export interface TestDomain {
  domain: Domain;
  fn: Record<CodeName, DomainAddress>;
}

/**
 * Calls dirtyExecutionState in `target` and checks that the host runs on
 * as the ABI expects: x87 stack empty, no exception pending, control words,
 * MXCSR and EFLAGS as they were, and arithmetic that still rounds to nearest.
 */
export function expectHostStateRestored(target: TestDomain): void {
  const { selftest } = native();
  const before = selftest.hostExecutionState();
  callDomainFunction(target.domain, target.fn.dirtyExecutionState);
  const after = selftest.hostExecutionState();

  expect(after.x87Tags).toBe(0xffff);
  expect(after.x87Status & X87_EXCEPTION_FLAGS).toBe(0);
  expect(after.x87Control).toBe(before.x87Control);
  expect(after.x87Sum).toBe(36);
  expect(after.mxcsr).toBe(before.mxcsr);
  expect(after.flags & EFLAGS_CONTROL).toBe(before.flags & EFLAGS_CONTROL);
  expect(after.flags & EFLAGS_CONTROL & ~EFLAGS_IF).toBe(0);

  // Values made at run time, so that nothing is folded at compile time:
  // round to nearest, denormals kept, and no SIGFPE from a division by zero.
  const [one, tenth, zero] = [Number('1'), Number('0.1'), Number('0')];
  expect(tenth + 2 * tenth).toBe(0.30000000000000004);
  expect(Number.MIN_VALUE * one).toBe(Number.MIN_VALUE);
  expect(one / zero).toBe(Infinity);
}

/** x87 status word: exception flags, stack fault and error summary. */
const X87_EXCEPTION_FLAGS = 0xff;
/** EFLAGS bits that change how code runs: TF, IF, DF, NT, AC. */
const EFLAGS_CONTROL = 0x44700;
const EFLAGS_IF = 0x200;

/** Opens a domain and places every function of machine-code.ts in it. */
export function openTestDomain(isolation: Isolation): TestDomain {
  const domain = openDomain({ isolation });
  const fn = {} as Record<CodeName, DomainAddress>;
  Object.keys(code).forEach((name, index) => {
    const bytes = Uint8Array.from(code[name as CodeName]);
    fn[name as CodeName] = placeUnscannedCode(domain, bytes, index * PAGE_SIZE);
  });
  return { domain, fn };
}

/**
 * Address space of this process: the total mapped size (VmSize) and how many
 * mappings are 1 GiB or larger. Every domain reserves more than 2 GiB with
 * 1 GiB moats, so one leaked domain shows in both; the V8 heap and malloc,
 * which come and go while tests run, map far smaller pieces.
 */
export function addressSpace(): { mappedBytes: number; largeMappings: number } {
  let mappedBytes = 0;
  let largeMappings = 0;
  for (const line of fs.readFileSync('/proc/self/maps', 'utf8').trim().split('\n')) {
    const [start, end] = line
      .split(' ')[0]!
      .split('-')
      .map((hex) => BigInt(`0x${hex}`));
    const size = Number(end! - start!);
    mappedBytes += size;
    if (size >= 2 ** 30) largeMappings++;
  }
  return { mappedBytes, largeMappings };
}

/** Resident set size of this process in bytes, from /proc/self/statm. */
export function residentBytes(): number {
  const pages = Number(fs.readFileSync('/proc/self/statm', 'utf8').split(' ')[1]);
  return pages * PAGE_SIZE;
}

/** Calls `fn` `count` times in chunks, yielding to the event loop in between. */
export async function callInChunks(
  target: TestDomain,
  fn: CodeName,
  count: number,
  args: number[] = [],
  chunk = 1000,
): Promise<void> {
  for (let done = 0; done < count; done += chunk) {
    for (let i = 0; i < Math.min(chunk, count - done); i++) {
      callDomainFunction(target.domain, target.fn[fn], args);
    }
    await yieldToLoop();
  }
}

/**
 * A child sends `count` SIGUSR2 signals to this process, each only after the
 * previous one was handled (so none can merge with another), while this
 * process keeps making domain calls. Returns how many the handler saw.
 */
export async function signalPingPong(target: TestDomain, count: number): Promise<number> {
  let received = 0;
  const script = `let left = ${count};
    process.on('message', () => {
      if (left-- > 0) process.kill(process.ppid, 'SIGUSR2'); else process.exit(0);
    });
    process.send('ready');`;
  const child = spawn(process.execPath, ['-e', script], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const onSignal = () => {
    received++;
    child.send('next');
  };
  process.on('SIGUSR2', onSignal);
  const exited = new Promise<void>((resolve) => child.on('exit', () => resolve()));
  child.once('message', () => child.send('next'));

  let running = true;
  void exited.then(() => {
    running = false;
  });
  while (running) await callInChunks(target, 'add', 200, [1, 2], 200);
  process.off('SIGUSR2', onSignal);
  return received;
}

/** What a signal storm run saw. */
export interface SignalStormResult {
  /** Exit statuses of the children, whose SIGCHLD libuv needs to reap them. */
  childExits: (number | null)[];
  /** SIGUSR2 signals the process.on handler counted, out of `pingPongs`. */
  received: number;
  /** Samples V8's profiler took: each one is a SIGPROF sent to this thread. */
  profilerSamples: number;
}

/**
 * Makes `calls` domain calls while children exit (SIGCHLD) and V8's CPU
 * profiler samples every `intervalMicros` (a SIGPROF storm aimed at this
 * thread), then plays `pingPongs` rounds of signalPingPong.
 */
export async function signalStorm(
  target: TestDomain,
  options: { children: number; calls: number; intervalMicros: number; pingPongs: number },
): Promise<SignalStormResult> {
  const children = Array.from({ length: options.children }, () => spawn('true'));
  const exits = children.map(
    (child) => new Promise<number | null>((resolve) => child.on('exit', resolve)),
  );

  const session = new Session();
  session.connect();
  const post = (method: string, params?: object) =>
    new Promise<unknown>((resolve, reject) =>
      session.post(method, params, (error, result) => (error ? reject(error) : resolve(result))),
    );
  await post('Profiler.enable');
  await post('Profiler.setSamplingInterval', { interval: options.intervalMicros });
  await post('Profiler.start');

  await callInChunks(target, 'spin', options.calls, [20], 500);
  const received = await signalPingPong(target, options.pingPongs);

  const { profile } = (await post('Profiler.stop')) as { profile: { samples?: number[] } };
  session.disconnect();
  return {
    childExits: await Promise.all(exits),
    received,
    profilerSamples: profile.samples?.length ?? 0,
  };
}

/** The WebAssembly global, which the project's ES2023 lib settings do not declare. */
export const wasm = (
  globalThis as unknown as {
    WebAssembly: {
      Module: new (bytes: Uint8Array) => object;
      Instance: new (module: object) => { exports: Record<string, unknown> };
      RuntimeError: new () => Error;
    };
  }
).WebAssembly;

/**
 * A WebAssembly function that loads one byte past its only memory page. V8
 * turns the SIGSEGV into a RuntimeError with its own handler, which keycell's
 * handler must hand such faults to.
 */
export function wasmOutOfBoundsLoad(): () => number {
  const bytes = Uint8Array.of(
    ...[0x00, 0x61, 0x73, 0x6d, 0x01, 0x00, 0x00, 0x00],
    ...[0x01, 0x05, 0x01, 0x60, 0x00, 0x01, 0x7f], // type: () -> i32
    ...[0x03, 0x02, 0x01, 0x00], // one function of that type
    ...[0x05, 0x03, 0x01, 0x00, 0x01], // one memory of one page
    ...[0x07, 0x08, 0x01, 0x04, 0x6c, 0x6f, 0x61, 0x64, 0x00, 0x00], // export "load"
    // i32.load offset 0 from address 65536, one past the end
    ...[0x0a, 0x0b, 0x01, 0x09, 0x00, 0x41, 0x80, 0x80, 0x04, 0x28, 0x02, 0x00, 0x0b],
  );
  const instance = new wasm.Instance(new wasm.Module(bytes));
  return instance.exports.load as () => number;
}
