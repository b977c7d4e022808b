/** `keycell doctor [--json]`: exit status 0 when keycell can isolate here, 1 when not. */
import type { Command } from 'commander';

import { formatDoctor, runDoctor } from '../doctor.js';

export function registerDoctor(program: Command): void {
  program
    .command('doctor')
    .description('check whether this machine and process can isolate code with protection keys')
    .option('--json', 'print the report as JSON')
    .action((options: { json?: boolean }) => {
      const report = runDoctor();
      process.stdout.write(
        `${options.json ? JSON.stringify(report, null, 2) : formatDoctor(report)}\n`,
      );
      process.exitCode = report.canIsolate ? 0 : 1;
    });
}
