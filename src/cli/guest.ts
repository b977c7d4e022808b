/**
 * `keycell guest [--kernel 6.1|6.12|all] -- command...`: run a command in the
 * PKU guest. Exits with the command's status (the first failing one with
 * `all`), or 2 when the guest itself fails.
 */
import { Command, InvalidArgumentError } from 'commander';

import { GuestError, isKernelName, KERNELS, runInGuest, type KernelName } from '../guest/index.js';

function parseKernels(value: string): KernelName[] {
  if (value === 'all') return Object.keys(KERNELS) as KernelName[];
  if (isKernelName(value)) return [value];
  throw new InvalidArgumentError(`choose one of ${Object.keys(KERNELS).join(', ')} or all`);
}

function parsePositive(value: string): number {
  const number = Number(value);
  if (!Number.isInteger(number) || number <= 0)
    throw new InvalidArgumentError('expected a positive integer');
  return number;
}

interface GuestCliOptions {
  kernel: KernelName[];
  mem: number;
  cpus?: number;
  timeout: number;
  share: string[];
}

export function registerGuest(program: Command): void {
  program
    .command('guest')
    .description('run a command inside a QEMU guest whose CPU has protection keys (Debian kernels)')
    .argument('<command...>', 'the command and its arguments (put -- before it)')
    .option('--kernel <name>', 'guest kernel: 6.1, 6.12 or all', parseKernels, [
      '6.1',
    ] as KernelName[])
    .option('--mem <MiB>', 'guest memory', parsePositive, 4096)
    .option('--cpus <n>', 'guest CPUs', parsePositive)
    .option('--timeout <seconds>', 'stop the guest after this long', parsePositive, 2700)
    .option(
      '--share <dir>',
      'host folder mounted writable at the same path (repeatable)',
      collect,
      [],
    )
    .passThroughOptions()
    .action(async (command: string[], options: GuestCliOptions) => {
      let status = 0;
      try {
        for (const kernel of options.kernel) {
          const result = await runInGuest({
            kernel,
            command,
            memoryMiB: options.mem,
            cpus: options.cpus,
            timeoutSeconds: options.timeout,
            shares: options.share,
          });
          process.stderr.write(
            `keycell guest: exit status ${result.exitCode} on Linux ${result.release} ` +
              `after ${result.seconds.toFixed(1)} s\n`,
          );
          if (status === 0) status = result.exitCode;
        }
      } catch (error) {
        if (!(error instanceof GuestError)) throw error;
        process.stderr.write(`keycell guest: ${error.message}\n`);
        status = 2;
      }
      process.exitCode = status;
    });
}

function collect(value: string, previous: string[]): string[] {
  return [...previous, value];
}
