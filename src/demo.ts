/**
 * `keycell demo`: keycell doing its job in one command.
 *
 *  1. compresses a file with Debian's zlib inside a domain whose policy is
 *     `compute`, and checks the result with Node's own zlib;
 *  2. loads a misbehaving library (built with keycell, addon/demo) into a
 *     `no-network` domain and shows its attempt to phone home denied, while a
 *     listener on loopback confirms nothing arrived;
 *  3. lets the same library try to read a secret in host memory, and shows
 *     the read stopped by protection keys while the process runs on.
 *
 * It needs protection keys. Where the CPU lacks them it runs itself inside
 * the QEMU guest, which emulates them, and says so.
 */
import fs from 'node:fs';
import net from 'node:net';
import path from 'node:path';
import { styleText } from 'node:util';
import zlib from 'node:zlib';

import { Domain, type SyscallEvent } from './domain.js';
import { SandboxFault } from './errors.js';
import { runInGuest } from './guest/index.js';
import { addonPath, native, packageRoot } from './native.js';

export const demoLibraryPath = path.join(path.dirname(addonPath), 'keycell-demo-malicious.so');
const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';

type Print = (line: string) => void;

/** Colours only for a terminal (or when the run inside the guest is told the host has one). */
function paint(format: Parameters<typeof styleText>[0], text: string): string {
  const wanted = process.env.FORCE_COLOR
    ? process.env.FORCE_COLOR !== '0'
    : process.stdout.isTTY && !process.env.NO_COLOR;
  return wanted ? styleText(format, text) : text;
}

const ok = (text: string) => paint('green', text);
const stopped = (text: string) => paint(['bold', 'green'], text);
const heading = (text: string) => paint('bold', text);
const hex = (value: bigint | number) => `0x${value.toString(16)}`;

/** Step 1: zlib in a compute domain. Returns the compressed size. */
async function compressFile(file: string, print: Print): Promise<void> {
  const input = fs.readFileSync(file);
  print(heading(`1. Compressing ${file} (${input.length} bytes) with zlib in a domain`));
  const domain = await Domain.create({ isolation: 'pku', policy: 'compute' });
  try {
    const z = await domain.load(LIBZ);
    print(
      `   loaded ${LIBZ} into domain ${domain.id} (policy compute) in ${z.loadMs.toFixed(1)} ms`,
    );
    const compress2 = z.func(
      'int compress2(uint8_t *dest, unsigned long *destLen, const uint8_t *source, ' +
        'unsigned long sourceLen, int level)',
    );
    const bound = Number(
      z.func('unsigned long compressBound(unsigned long sourceLen)')(input.length),
    );
    const source = await domain.alloc(Math.max(input.length, 1));
    const packed = await domain.alloc(bound);
    source.bytes.set(input);
    const length = new BigUint64Array([BigInt(bound)]);
    const status = compress2(packed.bytes, length, source.bytes, input.length, 9);
    if (status !== 0) throw new Error(`compress2 returned ${String(status)}`);
    const compressed = Buffer.from(packed.bytes.subarray(0, Number(length[0])));
    const roundTrip = zlib.inflateSync(compressed).equals(input);
    print(
      `   ${input.length} -> ${compressed.length} bytes; Node's zlib inflates it back: ` +
        (roundTrip ? ok('identical') : 'DIFFERENT'),
    );
    if (!roundTrip) throw new Error('the compressed data did not round-trip');
  } finally {
    domain.close();
  }
}

/** Listens on loopback and counts the connections that arrive. */
async function loopbackListener(): Promise<{
  port: number;
  received: () => number;
  close: () => void;
}> {
  let received = 0;
  const server = net.createServer((socket) => {
    received++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as net.AddressInfo;
  return { port, received: () => received, close: () => server.close() };
}

/** Steps 2 and 3: the misbehaving library in a no-network domain. */
async function containMisbehaviour(print: Print): Promise<void> {
  print(heading('2. A library that phones home, in a no-network domain'));
  const domain = await Domain.create({ isolation: 'pku', policy: 'no-network' });
  const listener = await loopbackListener();
  try {
    const denied: SyscallEvent[] = [];
    domain.on('syscall', (event: SyscallEvent) => {
      if (!event.allowed) denied.push(event);
    });
    const library = await domain.load(demoLibraryPath);
    const phoneHome = library.func('int demo_phone_home(int port, const char *secret)');
    const errno = phoneHome(listener.port, 'the host secret');
    await new Promise((resolve) => setTimeout(resolve, 100));
    for (const event of denied) {
      print(
        `   ${event.syscall}(${event.args.slice(0, 3).join(', ')}) ` +
          `from ${hex(event.instructionPointer)}: ` +
          stopped(`denied`) +
          ` (${event.reason})`,
      );
    }
    print(
      `   the library saw errno ${String(errno)}; connections that reached 127.0.0.1:` +
        `${listener.port}: ${listener.received() === 0 ? ok('none') : listener.received()}`,
    );
    if (denied.length === 0 || listener.received() !== 0) {
      throw new Error('the library reached the network');
    }

    print(heading('3. The same library reads host memory'));
    const secret = Buffer.from('the host secret, in a Node Buffer');
    const address = native().selftest.bufferAddress(secret);
    try {
      library.func('uint64_t demo_steal(uintptr_t address)')(address);
      throw new Error('the read of host memory was not stopped');
    } catch (error) {
      if (!(error instanceof SandboxFault)) throw error;
      print(`   read at ${hex(address)}: ` + stopped(`stopped`) + ` by protection keys`);
      print(`   ${error.message}`);
    }
    print(
      `   the host runs on, the secret is intact: ` +
        (secret.toString() === 'the host secret, in a Node Buffer' ? ok('yes') : 'NO'),
    );
  } finally {
    listener.close();
    domain.close();
  }
}

/** Runs the demo here when this CPU has protection keys; otherwise inside the guest. */
export async function runDemo(file: string | undefined, print: Print): Promise<number> {
  const target = path.resolve(file ?? path.join(packageRoot, 'README.md'));
  if (!fs.existsSync(target)) throw new Error(`${target}: no such file to compress`);

  const { cpu } = native().probe();
  if (!cpu.pku || !cpu.ospke) {
    if (process.env.KEYCELL_GUEST_KERNEL) {
      throw new Error('the guest reports no protection keys; the demo cannot run');
    }
    print(
      'This CPU has no protection keys, so the demo runs inside a QEMU guest that ' +
        'emulates them (Debian Linux 6.12). Booting takes a few seconds; timings in ' +
        'the guest mean nothing.',
    );
    const result = await runInGuest({
      kernel: '6.12',
      command: [process.execPath, path.join(packageRoot, 'bin', 'keycell.js'), 'demo', target],
      env: { FORCE_COLOR: process.stdout.isTTY && !process.env.NO_COLOR ? '1' : '0' },
      onOutput: print,
      onLog: print,
    });
    return result.exitCode;
  }

  await compressFile(target, print);
  await containMisbehaviour(print);
  print(ok('keycell kept both libraries in their cells.'));
  return 0;
}
