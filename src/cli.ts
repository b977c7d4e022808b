/** The `keycell` command line: one module per subcommand under src/cli/. */
import { Command } from 'commander';

import { registerBench } from './cli/bench.js';
import { registerDemo } from './cli/demo.js';
import { registerAudit } from './cli/audit.js';
import { registerDoctor } from './cli/doctor.js';
import { registerGuest } from './cli/guest.js';
import { registerScan } from './cli/scan.js';

const { version } = require('../package.json') as { version: string };

export function buildProgram(): Command {
  const program = new Command('keycell')
    .description(
      'in-process sandboxes for untrusted native code, isolated by memory protection keys',
    )
    .version(version)
    .enablePositionalOptions();
  registerBench(program);
  registerDemo(program);
  registerDoctor(program);
  registerGuest(program);
  registerScan(program);
  registerAudit(program);
  return program;
}

/** Runs the command line; resolves once the chosen subcommand has finished. */
export async function main(argv: string[]): Promise<void> {
  await buildProgram().parseAsync(argv);
}
