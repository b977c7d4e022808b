/**
 * The call paths `keycell bench` compares. Each one calls the same two
 * functions of the benchmark target library (addon/bench-target): an empty
 * call, and a sum over a 64-byte buffer that the callee must really read.
 */
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';
import { Worker } from 'node:worker_threads';

import { Domain, type Isolation } from '../domain.js';
import { addonPath, native } from '../native.js';

/** The benchmark target as a standalone shared library (for koffi and for domains). */
export const benchTargetPath = path.join(path.dirname(addonPath), 'keycell-bench-target.so');

export interface CallPath {
  /** Row label, e.g. "plain N-API call". */
  name: string;
  /** Synchronous paths are timed in batches; asynchronous ones one round trip at a time. */
  kind: 'sync' | 'async';
  empty(): unknown;
  sum(data: Uint8Array): unknown;
  close(): Promise<void>;
}

/** A path that cannot be measured on this machine, and why. */
export interface UnavailablePath {
  name: string;
  reason: string;
}

export function napiPath(): CallPath {
  const { bench } = native();
  return {
    name: 'plain N-API call',
    kind: 'sync',
    empty: bench.empty,
    sum: bench.sum,
    close: async () => {},
  };
}

/** koffi is optional: `keycell bench` reports the row as not measured without it. */
export async function koffiPath(): Promise<CallPath | UnavailablePath> {
  const name = 'koffi FFI call';
  let koffi;
  try {
    koffi = (await import('koffi')).default;
  } catch {
    return { name, reason: 'koffi is not installed (npm install koffi)' };
  }
  if (!fs.existsSync(benchTargetPath)) return { name, reason: `${benchTargetPath} is missing` };
  const library = koffi.load(benchTargetPath);
  const empty = library.func('int keycell_bench_empty(void)');
  const sum = library.func('uint32_t keycell_bench_sum(const uint8_t *data, size_t length)');
  return {
    name,
    kind: 'sync',
    empty,
    sum: (data: Uint8Array) => sum(data, data.length),
    close: async () => library.unload(),
  };
}

let pkuReason: string | null | undefined;

/**
 * Returns why isolation 'pku' cannot run here, or null when it can. The
 * machine is probed once: the probe allocates every free key, and it switches
 * Syscall User Dispatch off on this thread, which after the first domain call
 * would let the trapped-syscall rows run untrapped. `keycell bench` asks
 * before it opens any domain.
 */
export function pkuUnavailableReason(): string | null {
  if (pkuReason !== undefined) return pkuReason;
  const { cpu } = native().probe();
  if (!cpu.pku) pkuReason = 'this CPU has no protection keys (no pku flag)';
  else if (!cpu.ospke) pkuReason = 'the kernel has not enabled protection keys (no ospke flag)';
  else pkuReason = null;
  return pkuReason;
}

/**
 * keycell: the benchmark target loaded into a domain and called through its
 * gates, with the 64-byte buffer copied in through the argument area as any
 * caller's buffer would be.
 */
export async function keycellPath(isolation: Isolation): Promise<CallPath | UnavailablePath> {
  const name = `keycell call (isolation: ${isolation})`;
  const reason = isolation === 'pku' ? pkuUnavailableReason() : null;
  if (reason) return { name, reason };
  const domain = await Domain.create({ isolation });
  const target = await domain.load(benchTargetPath);
  const empty = target.func('int keycell_bench_empty(void)');
  const sum = target.func('uint32_t keycell_bench_sum(const uint8_t *data, size_t length)');
  return {
    name,
    kind: 'sync',
    empty,
    sum: (data: Uint8Array) => sum(data, data.length),
    close: async () => domain.close(),
  };
}

/**
 * A worker thread that waits on a shared word. The caller writes the request
 * into shared memory, wakes the worker and waits for the answer: the fastest
 * synchronous round trip worker_threads offer.
 */
const WORKER_SOURCE = `
const { workerData } = require('node:worker_threads');
const m = { exports: {} };
process.dlopen(m, workerData.addonPath);
const { empty, sum } = m.exports.bench;
const control = new Int32Array(workerData.control);
const data = new Uint8Array(workerData.data);
for (;;) {
  Atomics.wait(control, 0, 0);
  const op = Atomics.load(control, 0);
  if (op === 3) break;
  control[1] = op === 1 ? empty() : sum(data);
  Atomics.store(control, 0, 0);
  Atomics.notify(control, 0);
}
`;

export async function workerPath(): Promise<CallPath> {
  const control = new SharedArrayBuffer(8);
  const shared = new SharedArrayBuffer(64);
  const worker = new Worker(WORKER_SOURCE, {
    eval: true,
    workerData: { addonPath, control, data: shared },
  });
  const words = new Int32Array(control);
  const data = new Uint8Array(shared);
  await new Promise((resolve) => setTimeout(resolve, 50));

  const request = (op: number) => {
    Atomics.store(words, 0, op);
    Atomics.notify(words, 0);
    Atomics.wait(words, 0, op);
    return words[1];
  };
  return {
    name: 'worker_threads round trip',
    kind: 'sync',
    empty: () => request(1),
    sum: (input: Uint8Array) => {
      data.set(input);
      return request(2);
    },
    close: async () => {
      Atomics.store(words, 0, 3);
      Atomics.notify(words, 0);
      await worker.terminate();
    },
  };
}

const CHILD_SOURCE = `
const m = { exports: {} };
process.dlopen(m, process.argv[1]);
const { empty, sum } = m.exports.bench;
process.on('message', (message) => {
  process.send(message.op === 'empty' ? empty() : sum(message.data));
});
`;

/** A child process answering IPC messages: the usual way to isolate native code today. */
export async function childPath(): Promise<CallPath> {
  const child = spawn(process.execPath, ['-e', CHILD_SOURCE, addonPath], {
    serialization: 'advanced',
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const call = (message: object) =>
    new Promise((resolve) => {
      child.once('message', resolve);
      child.send(message);
    });
  await call({ op: 'empty' });
  return {
    name: 'child_process round trip',
    kind: 'async',
    empty: () => call({ op: 'empty' }),
    sum: (data: Uint8Array) => call({ op: 'sum', data }),
    close: async () => {
      child.kill();
    },
  };
}
