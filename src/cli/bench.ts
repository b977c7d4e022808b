/**
 * `keycell bench [--quick] [--json FILE] [--svg FILE]`: call costs through
 * each path with ratios, scanner throughput and library load times. Refuses
 * (exit status 2) inside keycell's QEMU guest, where every figure would
 * measure the emulator rather than keycell.
 */
import fs from 'node:fs';

import type { Command } from 'commander';

import { callChart, formatBench, PRESETS, runBench } from '../bench/index.js';

/** Returns why timings taken in this environment would mislead, or null. */
export function emulationReason(env: NodeJS.ProcessEnv = process.env): string | null {
  const kernel = env.KEYCELL_GUEST_KERNEL;
  if (kernel === undefined) return null;
  return (
    `this is keycell's QEMU guest (kernel ${kernel}), where the CPU is emulated and timings ` +
    'mean nothing; run keycell bench on the host'
  );
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure what a call costs through keycell and the alternatives, side by side')
    .option('--quick', 'short sampling (a smoke run; figures are rough)')
    .option('--json <file>', 'also write every row and the machine as JSON')
    .option('--svg <file>', 'also write a chart of the call rows as SVG')
    .action(async (options: { quick?: boolean; json?: string; svg?: string }) => {
      const refusal = emulationReason();
      if (refusal) {
        process.stderr.write(`keycell bench: ${refusal}\n`);
        process.exitCode = 2;
        return;
      }

      const report = await runBench(options.quick ? PRESETS.quick : PRESETS.full);
      process.stdout.write(`${formatBench(report)}\n`);
      if (options.json) fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
      if (options.svg) fs.writeFileSync(options.svg, await callChart(report.calls));
    });
}
