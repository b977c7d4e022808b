/** `keycell demo [file]`: zlib at work in a domain, then a misbehaving library contained. */
import type { Command } from 'commander';

import { runDemo } from '../demo.js';

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('compress a file with zlib in a domain, then contain a misbehaving library')
    .argument('[file]', 'the file to compress (default: keycell README.md)')
    .action(async (file: string | undefined) => {
      process.exitCode = await runDemo(file, (line) => process.stdout.write(`${line}\n`));
    });
}
