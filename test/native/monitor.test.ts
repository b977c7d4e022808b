/**
 * The syscall monitor performs real system calls for a "domain" whose memory
 * is a host Buffer here: it must refuse every buffer outside that memory,
 * re-check files opened through links, and track the descriptors the domain
 * opened, so that the kernel is never the domain's deputy.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { afterAll, describe, expect, test } from 'vitest';

import { native } from '../../src/native.js';
import { compilePolicy, SYSCALL_NUMBERS, type PolicySpec } from '../../src/policy/index.js';

const AT_FDCWD = -100;
const O_RDONLY = 0;
const O_WRONLY = 1;
const O_CREAT = 0o100;
const F_GETFL = 3;
const F_SETLK = 6;
const nr = (name: keyof typeof SYSCALL_NUMBERS) => SYSCALL_NUMBERS[name];
const scratch = fs.mkdtempSync(path.join(os.tmpdir(), 'keycell-monitor-'));

afterAll(() => fs.rmSync(scratch, { recursive: true, force: true }));

/** A monitor whose domain memory is a fresh 64 KiB Buffer; `at(offset)` gives addresses in it. */
function setUp(policy: Parameters<typeof compilePolicy>[0] = 'no-network') {
  const memory = Buffer.alloc(64 << 10);
  const base = native().selftest.bufferAddress(memory);
  const monitor = new (native().policy.NativeMonitor)(compilePolicy(policy).table, memory, scratch);
  const at = (offset: number) => base + offset;
  const putString = (offset: number, text: string) => {
    memory.write(`${text}\0`, offset);
    return at(offset);
  };
  return { memory, monitor, at, putString };
}

describe('syscall monitor', () => {
  test('opens, reads and closes a file for the domain, tracking its descriptor', () => {
    const file = path.join(scratch, 'hello.txt');
    fs.writeFileSync(file, 'hello from the host');
    const { memory, monitor, at, putString } = setUp();

    const opened = monitor.execute(nr('openat'), [AT_FDCWD, putString(0, file), O_RDONLY, 0]);
    expect(opened).toMatchObject({ allowed: true, path: file });
    const fd = opened.result;
    expect(monitor.ownFds()).toEqual([fd]);

    const read = monitor.execute(nr('read'), [fd, at(4096), 100]);
    expect(read.result).toBe(19);
    expect(memory.subarray(4096, 4096 + 19).toString()).toBe('hello from the host');

    expect(monitor.execute(nr('close'), [fd]).result).toBe(0);
    expect(monitor.ownFds()).toEqual([]);
    expect(monitor.execute(nr('read'), [fd, at(4096), 1])).toMatchObject({
      allowed: false,
      errno: 9,
    });
  });

  test('the kernel never reads or writes host memory for the domain', () => {
    const file = path.join(scratch, 'data.bin');
    fs.writeFileSync(file, Buffer.alloc(64, 7));
    const { monitor, putString } = setUp();
    const secret = Buffer.from('host secret that must not leave');
    const secretAddress = native().selftest.bufferAddress(secret);
    const fd = monitor.execute(nr('openat'), [AT_FDCWD, putString(0, file), O_RDONLY]).result;

    const read = monitor.execute(nr('read'), [fd, secretAddress, 16]);
    expect(read).toMatchObject({
      allowed: false,
      result: -14,
      reason: 'a buffer argument lies outside domain memory',
    });
    expect(secret.toString()).toBe('host secret that must not leave');

    const out = path.join(scratch, 'leak.txt');
    const outFd = monitor.execute(nr('openat'), [
      AT_FDCWD,
      putString(512, out),
      O_WRONLY | O_CREAT,
      0o600,
    ]).result;
    expect(outFd).toBeGreaterThan(2);
    expect(monitor.execute(nr('write'), [outFd, secretAddress, secret.length]).allowed).toBe(false);
    expect(fs.readFileSync(out).length).toBe(0);
    expect(monitor.execute(nr('getrandom'), [secretAddress, 8, 0]).allowed).toBe(false);
    expect(secret.toString()).toBe('host secret that must not leave');
  });

  test('a buffer that runs past the end of domain memory is refused', () => {
    const { monitor, at } = setUp();
    expect(monitor.execute(nr('getrandom'), [at(64 << 10) - 8, 16, 0]).allowed).toBe(false);
    expect(monitor.execute(nr('getrandom'), [at(0), 16, 0]).result).toBe(16);
  });

  test('files opened through a symlink are checked where they lead', () => {
    const link = path.join(scratch, 'innocent');
    fs.symlinkSync('/proc/self/mem', link);
    const { monitor, putString } = setUp();
    const outcome = monitor.execute(nr('openat'), [AT_FDCWD, putString(0, link), O_RDONLY]);
    expect(outcome.allowed).toBe(false);
    expect(outcome.result).toBe(-13);
    expect(outcome.reason).toMatch(new RegExp(`leads to /proc/${process.pid}/mem`));
    expect(monitor.ownFds()).toEqual([]);
  });

  test('symlinks out of a path prefix are caught after the open', () => {
    const inside = path.join(scratch, 'allowed');
    fs.mkdirSync(inside);
    fs.writeFileSync(path.join(scratch, 'outside.txt'), 'x');
    fs.symlinkSync('../outside.txt', path.join(inside, 'escape'));
    const spec: PolicySpec = { allow: [{ syscall: 'openat', paths: [inside], access: 'read' }] };
    const { monitor, putString } = setUp(spec);
    const outcome = monitor.execute(nr('openat'), [
      AT_FDCWD,
      putString(0, path.join(inside, 'escape')),
      O_RDONLY,
    ]);
    expect(outcome.allowed).toBe(false);
    expect(outcome.reason).toContain('outside.txt, which the policy does not allow');
  });

  test('magic links under /proc never resolve', () => {
    const { monitor, putString } = setUp();
    const outcome = monitor.execute(nr('openat'), [AT_FDCWD, putString(0, '/dev/stdin'), O_RDONLY]);
    expect(outcome.result).toBeLessThan(0);
  });

  test('host descriptors stay out of reach, whatever their number', () => {
    const hostFd = fs.openSync(path.join(scratch, 'host.txt'), 'w');
    const { monitor, at } = setUp();
    const outcome = monitor.execute(nr('write'), [hostFd, at(0), 4]);
    expect(outcome).toMatchObject({ allowed: false, errno: 9 });
    fs.closeSync(hostFd);
  });

  test('fcntl without pointers is mediated; lock commands are refused', () => {
    const file = path.join(scratch, 'lock.txt');
    fs.writeFileSync(file, '');
    const { monitor, at, putString } = setUp();
    const fd = monitor.execute(nr('openat'), [AT_FDCWD, putString(0, file), O_RDONLY]).result;
    expect(monitor.execute(nr('fcntl'), [fd, F_GETFL, 0]).allowed).toBe(true);
    expect(monitor.execute(nr('fcntl'), [fd, F_SETLK, at(128)])).toMatchObject({
      allowed: false,
      reason: 'fcntl command 6 is not mediated',
    });
  });

  test('a call the policy allows but whose memory arguments are unknown is refused', () => {
    const { monitor, at } = setUp({ extends: 'no-network', allow: ['ioctl'] });
    expect(monitor.execute(nr('ioctl'), [1, 0x5401, at(0)]).reason).toMatch(/does not mediate/);
  });
});
