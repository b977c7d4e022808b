/**
 * Timing for `keycell bench`, done by tinybench (warm-up, repeated samples,
 * percentiles). Calls that take nanoseconds are timed in batches, since one
 * clock read costs more than the call; the figure reported is the median of
 * the per-call time over all batches. Tasks that take milliseconds (scans,
 * library loads) are timed one at a time, with a floor on the sample count so
 * that a short sampling time still yields a median of several runs.
 */
import { BenchError } from '../errors.js';
import type { CallPath } from './paths.js';

export interface Measurement {
  /** Median nanoseconds per call. */
  medianNs: number;
  /** Relative margin of error of the mean, in percent. */
  rmePercent: number;
  samples: number;
}

export interface MeasureOptions {
  /** Milliseconds spent sampling each task. */
  timeMs: number;
  /** Calls per sample for synchronous paths. */
  batch: number;
  /** Fewest samples of a task that takes milliseconds (a scan, a library load). */
  slowSamples: number;
}

/**
 * What a task function may return instead of nothing: the milliseconds that
 * count, when the task does untimed set-up or clean-up around the timed part.
 */
export interface TimedPart {
  overriddenDuration: number;
}

/** Latency of one task in milliseconds: its median and how many samples it rests on. */
export interface Latency {
  medianMs: number;
  rmePercent: number;
  samples: number;
}

/** Samples `task` with tinybench and returns its latency; throws if it never completed. */
export async function sample(
  name: string,
  task: () => unknown,
  settings: { timeMs: number; iterations?: number; warmupIterations?: number },
): Promise<Latency> {
  // tinybench is an ES module; this file compiles to CommonJS, which may import() it.
  const { Bench } = await import('tinybench');
  const bench = new Bench({
    time: settings.timeMs,
    warmupTime: Math.max(50, settings.timeMs / 5),
    ...(settings.iterations === undefined ? {} : { iterations: settings.iterations }),
    ...(settings.warmupIterations === undefined
      ? {}
      : { warmupIterations: settings.warmupIterations }),
  });
  bench.add(name, task);
  await bench.run();

  const result = bench.tasks[0].result;
  if (!('latency' in result) || result.latency === undefined) {
    const cause = 'error' in result ? result.error : undefined;
    const reason = cause === undefined ? result.state : String(cause);
    throw new BenchError(name, `did not complete: ${reason}`, { cause });
  }
  return {
    medianMs: result.latency.p50,
    rmePercent: result.latency.rme,
    samples: result.latency.samplesCount,
  };
}

/** Samples a task that takes milliseconds: few iterations, one warm-up run. */
export function sampleSlow(
  name: string,
  task: () => unknown,
  options: MeasureOptions,
): Promise<Latency> {
  return sample(name, task, {
    timeMs: options.timeMs,
    iterations: options.slowSamples,
    warmupIterations: 1,
  });
}

/**
 * Returns a loop calling `call(argument)` (or `call()` without an argument)
 * `batch` times. Each loop is compiled from its own source text, so V8 keeps
 * separate type feedback per path: a loop shared by all paths would see every
 * path's function at one call site and charge each of them for a megamorphic
 * call that none has in real use.
 */
function batchLoop(call: (argument?: unknown) => unknown, argument: unknown, batch: number) {
  const invocation = argument === undefined ? 'call()' : 'call(argument)';
  const make = new Function(
    'call',
    'argument',
    'batch',
    `return function batchOfCalls() { for (let i = 0; i < batch; i++) ${invocation}; };`,
  ) as (call: unknown, argument: unknown, batch: number) => () => void;
  return make(call, argument, batch);
}

/**
 * Measures `call` (one operation of `path`, given `argument`) and returns
 * per-call statistics.
 */
export async function measure(
  path: CallPath,
  call: (argument?: unknown) => unknown,
  argument: unknown,
  options: MeasureOptions,
): Promise<Measurement> {
  const batch = path.kind === 'sync' ? options.batch : 1;
  const task =
    path.kind === 'sync'
      ? batchLoop(call, argument, batch)
      : async () => {
          await call(argument);
        };
  const latency = await sample(path.name, task, { timeMs: options.timeMs });
  return {
    medianNs: (latency.medianMs * 1e6) / batch,
    rmePercent: latency.rmePercent,
    samples: latency.samples,
  };
}
