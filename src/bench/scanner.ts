/**
 * Scan throughput on the node binary and glibc: the candidate search alone
 * (Buffer.indexOf over the executable bytes) and a whole scan (ELF parsing,
 * search, Capstone explanations and symbol lookup). Files are read once
 * beforehand, so disk speed does not enter the figures.
 *
 * Run with `npm run bench:scanner`; prints one row per target and task.
 */
import fs from 'node:fs';

import { executableRegions, findPatterns, parseElf, scanElf } from '../scanner/index.js';

const TARGETS = [process.execPath, '/lib/x86_64-linux-gnu/libc.so.6'];

/** Milliseconds each task is sampled for. */
const TIME = 1500;

interface Row {
  target: string;
  task: string;
  codeMegabytes: number;
  meanMilliseconds: number;
  megabytesPerSecond: number;
  samples: number;
}

async function main(): Promise<void> {
  // tinybench is an ES module; this file compiles to CommonJS, which may import() it.
  const { Bench } = await import('tinybench');
  const bench = new Bench({ time: TIME, warmupTime: 300 });
  const codeBytes = new Map<string, number>();

  for (const target of TARGETS) {
    const bytes = fs.readFileSync(target);
    const regions = executableRegions(parseElf(bytes, target));
    codeBytes.set(
      target,
      regions.reduce((sum, region) => sum + region.bytes.length, 0),
    );
    bench.add(`${target}|search`, () => {
      for (const region of regions) findPatterns(region.bytes);
    });
    bench.add(`${target}|scan`, async () => {
      await scanElf(bytes, target);
    });
  }
  await bench.run();

  const rows: Row[] = bench.tasks.map((task) => {
    const [target, name] = task.name.split('|');
    const result = task.result;
    if (result.state !== 'completed') {
      throw new Error(`${task.name} did not complete: ${result.state}`);
    }
    const megabytes = codeBytes.get(target)! / 1e6;
    const mean = result.latency.mean;
    return {
      target,
      task: name,
      codeMegabytes: Number(megabytes.toFixed(1)),
      meanMilliseconds: Number(mean.toFixed(2)),
      megabytesPerSecond: Math.round(megabytes / (mean / 1000)),
      samples: result.latency.samplesCount,
    };
  });
  console.table(rows);
}

main().catch((error: unknown) => {
  process.stderr.write(`bench:scanner: ${error instanceof Error ? error.stack : String(error)}\n`);
  process.exitCode = 1;
});
