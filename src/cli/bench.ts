/** `keycell bench [--quick] [--json FILE]`: call costs through each path, with ratios. */
import fs from 'node:fs';

import type { Command } from 'commander';

import { formatBench, PRESETS, runBench } from '../bench/index.js';

export function registerBench(program: Command): void {
  program
    .command('bench')
    .description('measure what a call costs through keycell and the alternatives, side by side')
    .option('--quick', 'short sampling (a smoke run; figures are rough)')
    .option('--json <file>', 'also write the results as JSON')
    .action(async (options: { quick?: boolean; json?: string }) => {
      const report = await runBench(options.quick ? PRESETS.quick : PRESETS.full);
      process.stdout.write(`${formatBench(report)}\n`);
      if (options.json) fs.writeFileSync(options.json, `${JSON.stringify(report, null, 2)}\n`);
    });
}
