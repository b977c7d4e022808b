/**
 * System calls of loaded libraries reach the host only through the syscall
 * gate and the domain's policy. Isolation 'none' here, so it runs anywhere;
 * test/pku/syscalls.test.ts repeats it under protection keys.
 */
import net from 'node:net';

import { beforeAll, describe, expect, test } from 'vitest';

import { Domain, type SyscallEvent } from '../../src/domain.js';
import { PolicyViolation, SandboxFault } from '../../src/errors.js';
import { PolicyError } from '../../src/policy/index.js';
import { domainPool } from '../support/domain-pool.js';
import { buildLoaderFixtures, type LoaderFixtures } from '../support/loader-fixtures.js';
import { checkSodium, LIBSODIUM } from '../support/sodium.js';

const EPERM = 1;
let fixtures: LoaderFixtures;

beforeAll(() => {
  fixtures = buildLoaderFixtures();
});

const domain = domainPool({ isolation: 'none' });

/** Starts a loopback server that records whether anyone connected. */
async function listener(): Promise<{ port: number; connections: () => number; close: () => void }> {
  let count = 0;
  const server = net.createServer((socket) => {
    count++;
    socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as net.AddressInfo).port;
  return { port, connections: () => count, close: () => server.close() };
}

describe('libsodium through the syscall gate', () => {
  test('works under the compute policy: test vectors, secretbox, randomness', async () => {
    await checkSodium(await domain({ policy: 'compute' }));
  });

  test('under the pure policy it can get no randomness and aborts', async () => {
    const target = await domain({ policy: 'pure' });
    const events: SyscallEvent[] = [];
    target.on('syscall', (event: SyscallEvent) => events.push(event));
    const sodium = await target.load(LIBSODIUM);
    expect(() => sodium.func('int sodium_init(void)')()).toThrow(SandboxFault);
    expect(events.map((event) => event.syscall)).toContain('getrandom');
    expect(events.every((event) => !event.allowed)).toBe(true);
    expect(events.map((event) => event.syscall)).toContain('openat');
  });
});

describe('a library that phones home', () => {
  test('under no-network, socket fails with EPERM and nothing connects', async () => {
    const server = await listener();
    const target = await domain({ policy: 'no-network' });
    const events: SyscallEvent[] = [];
    target.on('syscall', (event: SyscallEvent) => events.push(event));
    const library = await target.load(fixtures.network);
    expect(library.func('int network_phone_home(int port)')(server.port)).toBe(EPERM);
    expect(events).toHaveLength(1);
    expect(events[0]).toMatchObject({
      syscall: 'socket',
      allowed: false,
      result: -EPERM,
      reason: "not allowed by the domain's policy",
    });
    await new Promise((resolve) => setTimeout(resolve, 50));
    expect(server.connections()).toBe(0);
    server.close();
  });

  test("with onViolation 'throw' the call throws a PolicyViolation naming the call", async () => {
    const target = await domain({ policy: 'no-network', onViolation: 'throw' });
    const library = await target.load(fixtures.network);
    const error = (() => {
      try {
        library.func('int network_phone_home(int port)')(9);
      } catch (caught) {
        return caught as PolicyViolation;
      }
      return null;
    })();
    expect(error).toBeInstanceOf(PolicyViolation);
    expect(error).toMatchObject({
      code: 'POLICY_VIOLATION',
      syscall: 'socket',
      domainId: target.id,
    });
    expect(error!.policy).toBe('no-network');
    expect(error!.args.slice(0, 3)).toEqual([2n, 1n, 0n]);
    expect(error!.instructionPointer).toBeGreaterThan(0n);
    expect(error!.message).toMatch(/attempted socket at 0x[0-9a-f]+: not allowed/);
  });

  test('a policy that allows socket still gets none: the monitor does not mediate it', async () => {
    const target = await domain({ policy: { extends: 'no-network', allow: ['socket'] } });
    const events: SyscallEvent[] = [];
    target.on('syscall', (event: SyscallEvent) => events.push(event));
    const library = await target.load(fixtures.network);
    expect(library.func('int network_phone_home(int port)')(9)).toBe(EPERM);
    expect(events[0].reason).toMatch(/does not mediate/);
  });
});

describe('domain options', () => {
  test('are checked', async () => {
    await expect(
      Domain.create({ isolation: 'none', onViolation: 'ignore' as never }),
    ).rejects.toThrow(/onViolation must be 'errno' or 'throw'/);
    await expect(
      Domain.create({ isolation: 'none', policy: { allow: ['ptrace'] } }),
    ).rejects.toThrow(PolicyError);
  });
});
