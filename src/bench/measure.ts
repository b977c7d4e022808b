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

/** Measures `call` (one operation of `path`) and returns per-call statistics. */
export async function measure(
  path: CallPath,
  call: () => unknown,
  options: MeasureOptions,
): Promise<Measurement> {
  const batch = path.kind === 'sync' ? options.batch : 1;
  const task =
    path.kind === 'sync'
      ? () => {
          for (let i = 0; i < batch; i++) call();
        }
      : async () => {
          await call();
        };
  const latency = await sample(path.name, task, { timeMs: options.timeMs });
  return {
    medianNs: (latency.medianMs * 1e6) / batch,
    rmePercent: latency.rmePercent,
    samples: latency.samples,
  };
}
