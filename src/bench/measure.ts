/**
 * Timing for `keycell bench`, done by tinybench (warm-up, repeated samples,
 * percentiles). Calls that take nanoseconds are timed in batches, since one
 * clock read costs more than the call; the figure reported is the median of
 * the per-call time over all batches.
 */
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
}

/** Measures `call` (one operation of `path`) and returns per-call statistics. */
export async function measure(
  path: CallPath,
  call: () => unknown,
  options: MeasureOptions,
): Promise<Measurement> {
  const { Bench } = await import('tinybench');
  const batch = path.kind === 'sync' ? options.batch : 1;
  const bench = new Bench({ time: options.timeMs, warmupTime: Math.max(50, options.timeMs / 5) });
  if (path.kind === 'sync') {
    bench.add(path.name, () => {
      for (let i = 0; i < batch; i++) call();
    });
  } else {
    bench.add(path.name, async () => {
      await call();
    });
  }
  await bench.run();

  const result = bench.tasks[0].result;
  if (!('latency' in result) || result.latency === undefined) {
    const reason = 'error' in result ? String(result.error) : result.state;
    throw new Error(`benchmark of ${path.name} did not complete: ${reason}`);
  }
  return {
    medianNs: (result.latency.p50 * 1e6) / batch,
    rmePercent: result.latency.rme,
    samples: result.latency.samplesCount,
  };
}
