/**
 * Runs a command inside a QEMU guest whose CPU has protection keys.
 *
 * QEMU's `-cpu max` under TCG emulates PKU and OSPKE even where the host CPU
 * lacks them. The guest boots a cached Debian kernel with a busybox
 * initramfs, mounts the host's root read-only over virtio-9p beneath a tmpfs
 * overlay (so the guest sees this machine's files and may write, with writes
 * thrown away), chroots into it, runs the command in the caller's working
 * directory and reports the exit status on the serial console. Folders named
 * in `shares` are mounted writable at the same path, for results that must
 * come back.
 *
 * Timings inside the guest say nothing about hardware: under TCG a WRPKRU
 * costs about a microsecond.
 */
import { spawn, spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';

import { packageRoot } from '../native.js';
import { GuestError } from './errors.js';
import { ensureHostTools } from './host-tools.js';
import { ensureKernel, type CachedKernel, type KernelName } from './kernels.js';

export interface GuestOptions {
  kernel: KernelName;
  /** Program and arguments, run through the guest's /bin/sh `exec`. */
  command: string[];
  /** Working directory inside the guest; defaults to the caller's. */
  cwd?: string;
  memoryMiB?: number;
  cpus?: number;
  /** Seconds before the guest is stopped and the run fails. */
  timeoutSeconds?: number;
  /** Host folders mounted writable at the same path inside the guest. */
  shares?: string[];
  /** Extra environment for the command (PATH, HOME and KEYCELL_* pass through already). */
  env?: Record<string, string>;
  /** Where the command's output goes, line by line. */
  onOutput?: (line: string) => void;
  /** Where the runner's own messages go. */
  onLog?: (line: string) => void;
  /** Folder for downloaded kernels; defaults to KEYCELL_GUEST_CACHE or .cache/guest. */
  cacheDir?: string;
}

export interface GuestResult {
  kernel: KernelName;
  /** `uname -r` inside the guest. */
  release: string;
  /** Whether the guest CPU reported pku in /proc/cpuinfo. */
  pku: boolean;
  exitCode: number;
  seconds: number;
}

const MARK_START = 'KEYCELL-GUEST-START';
const MARK_EXIT = 'KEYCELL-GUEST-EXIT=';
/** Environment variables that reach the guest command unchanged when set. */
const PASSED_ENV = [
  'PATH',
  'HOME',
  'LANG',
  'CI',
  'FORCE_COLOR',
  'NO_COLOR',
  'NODE_OPTIONS',
  'TERM',
];

export function defaultCacheDir(): string {
  return process.env.KEYCELL_GUEST_CACHE ?? path.join(packageRoot, '.cache', 'guest');
}

/** Quotes a string for a POSIX shell. */
function shellQuote(value: string): string {
  return `'${value.replace(/'/g, `'\\''`)}'`;
}

function guestEnvironment(options: GuestOptions): Record<string, string> {
  const env: Record<string, string> = {};
  for (const [name, value] of Object.entries(process.env)) {
    if (value !== undefined && (PASSED_ENV.includes(name) || name.startsWith('KEYCELL_')))
      env[name] = value;
  }
  env.KEYCELL_GUEST_KERNEL = options.kernel;
  return { ...env, ...options.env };
}

function commandScript(options: GuestOptions, cwd: string): string {
  const lines = [`cd ${shellQuote(cwd)} || exit 125`];
  for (const [name, value] of Object.entries(guestEnvironment(options))) {
    if (/^[A-Za-z_][A-Za-z0-9_]*$/.test(name)) lines.push(`export ${name}=${shellQuote(value)}`);
  }
  // Through a pipe, not the serial console: programs then see no terminal and
  // print plain lines instead of redrawing progress in place.
  const status = '/tmp/.keycell-guest-status';
  lines.push(
    `{ ${options.command.map(shellQuote).join(' ')} < /dev/null 2>&1; echo $? > ${status}; } | cat`,
  );
  lines.push(`exit "$(cat ${status})"`);
  return `${lines.join('\n')}\n`;
}

function initScript(kernel: CachedKernel, shares: string[]): string {
  const shareMounts = shares.map(
    (dir, index) =>
      `$B mkdir -p /mnt${dir} && $B mount -t 9p -o trans=virtio,version=9p2000.L,msize=524288 ` +
      `share${index} /mnt${dir} || fail "cannot mount ${dir}"`,
  );
  return [
    '#!/bin/busybox sh',
    'B=/bin/busybox',
    'fail() { echo "KEYCELL-GUEST-FAIL $*"; $B poweroff -f; }',
    '$B mount -t proc proc /proc; $B mount -t sysfs sys /sys; $B mount -t devtmpfs dev /dev',
    // Module load failures are reported but not fatal: the mount below tells.
    ...kernel.modules.map(
      (file) =>
        `$B insmod /mods/${path.basename(file)} || ` +
        `echo "KEYCELL-GUEST-WARN insmod ${path.basename(file)}"`,
    ),
    '$B mount -t 9p -o trans=virtio,version=9p2000.L,ro,msize=524288,cache=loose ' +
      'hostroot /lower || fail "cannot mount the host root"',
    '$B mount -t tmpfs -o size=75% rw /rw && $B mkdir -p /rw/upper /rw/work',
    '$B mount -t overlay overlay -o lowerdir=/lower,upperdir=/rw/upper,workdir=/rw/work /mnt ' +
      '|| fail "cannot mount the overlay"',
    '$B mount -t proc proc /mnt/proc; $B mount -t sysfs sys /mnt/sys',
    '$B mount -t devtmpfs dev /mnt/dev',
    '$B mkdir -p /mnt/dev/pts /mnt/dev/shm; $B mount -t devpts devpts /mnt/dev/pts',
    '$B mount -t tmpfs shm /mnt/dev/shm',
    ...shareMounts,
    '$B cp /command.sh /mnt/tmp/.keycell-guest-command.sh',
    // A guest without protection keys would make every PKU test meaningless: stop here.
    'if $B grep -qw pku /proc/cpuinfo; then pku=yes; ' +
      'else fail "the guest CPU reports no pku flag"; fi',
    `echo "${MARK_START} release=$($B uname -r) pku=$pku"`,
    '$B chroot /mnt /bin/busybox sh /tmp/.keycell-guest-command.sh',
    `rc=$?; echo "${MARK_EXIT}$rc"`,
    '$B sync; $B poweroff -f',
    '',
  ].join('\n');
}

/** Packs the initramfs with busybox cpio (newc format, as the kernel expects). */
function buildInitramfs(
  workDir: string,
  kernel: CachedKernel,
  options: GuestOptions,
  cwd: string,
  shares: string[],
): string {
  const root = path.join(workDir, 'initramfs');
  for (const dir of ['bin', 'mods', 'proc', 'sys', 'dev', 'lower', 'rw', 'mnt']) {
    fs.mkdirSync(path.join(root, dir), { recursive: true });
  }
  fs.copyFileSync('/bin/busybox', path.join(root, 'bin', 'busybox'));
  fs.chmodSync(path.join(root, 'bin', 'busybox'), 0o755);
  for (const file of kernel.modules)
    fs.copyFileSync(file, path.join(root, 'mods', path.basename(file)));
  fs.writeFileSync(path.join(root, 'command.sh'), commandScript(options, cwd));
  fs.writeFileSync(path.join(root, 'init'), initScript(kernel, shares), { mode: 0o755 });

  const archive = path.join(workDir, 'initramfs.cpio');
  const pack = spawnSync(
    '/bin/sh',
    ['-c', `/bin/busybox find . | /bin/busybox cpio -o -H newc > ${shellQuote(archive)}`],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  if (pack.status !== 0) throw new GuestError(`cannot pack the initramfs: ${pack.stderr}`);
  return archive;
}

function qemuArguments(
  kernel: CachedKernel,
  initramfs: string,
  options: GuestOptions,
  shares: string[],
): string[] {
  const args = [
    '-machine',
    'q35',
    '-cpu',
    'max',
    '-m',
    String(options.memoryMiB ?? 4096),
    '-smp',
    String(options.cpus ?? Math.min(2, os.availableParallelism())),
    '-nographic',
    '-no-reboot',
    '-nodefaults',
    '-serial',
    'stdio',
    '-kernel',
    kernel.vmlinuz,
    '-initrd',
    initramfs,
    '-append',
    'console=ttyS0 quiet loglevel=3 panic=-1 rdinit=/init',
    '-virtfs',
    'local,path=/,mount_tag=hostroot,security_model=none,readonly=on,multidevs=remap',
  ];
  shares.forEach((dir, index) => {
    args.push(
      '-virtfs',
      `local,path=${dir},mount_tag=share${index},security_model=none,multidevs=remap`,
    );
  });
  return args;
}

/** Boots the guest on one kernel, runs the command and resolves with its exit status. */
export async function runInGuest(options: GuestOptions): Promise<GuestResult> {
  const log = options.onLog ?? ((line: string) => process.stderr.write(`${line}\n`));
  const output = options.onOutput ?? ((line: string) => process.stdout.write(`${line}\n`));
  if (options.command.length === 0) throw new GuestError('no command given to run in the guest');

  ensureHostTools(log);
  const kernel = ensureKernel(options.kernel, options.cacheDir ?? defaultCacheDir(), log);
  const cwd = path.resolve(options.cwd ?? process.cwd());
  const shares = (options.shares ?? []).map((dir) => fs.realpathSync(dir));

  const workDir = fs.mkdtempSync(path.join(os.tmpdir(), 'keycell-guest-'));
  try {
    const initramfs = buildInitramfs(workDir, kernel, options, cwd, shares);
    return await boot(kernel, initramfs, options, shares, output, log);
  } finally {
    fs.rmSync(workDir, { recursive: true, force: true });
  }
}

function boot(
  kernel: CachedKernel,
  initramfs: string,
  options: GuestOptions,
  shares: string[],
  output: (line: string) => void,
  log: (line: string) => void,
): Promise<GuestResult> {
  const started = Date.now();
  const qemu = spawn('qemu-system-x86_64', qemuArguments(kernel, initramfs, options, shares), {
    stdio: ['ignore', 'pipe', 'pipe'],
  });

  let release = '';
  let pku = false;
  let exitCode: number | null = null;
  let failure = '';
  const bootLog: string[] = [];
  let pending = '';

  const onLine = (raw: string) => {
    // The serial console ends lines with CR LF; BIOS output adds escape sequences.
    const line = raw.replace(/\r/g, '');
    if (!release) {
      const start = new RegExp(`${MARK_START} release=(\\S+) pku=(yes|no)`).exec(line);
      if (start) {
        release = start[1];
        pku = start[2] === 'yes';
        log(
          `keycell guest: Linux ${release} (Debian ${options.kernel}), ` +
            `PKU ${pku ? 'present' : 'ABSENT'}`,
        );
        return;
      }
      if (line.includes('KEYCELL-GUEST-FAIL'))
        failure = line.slice(line.indexOf('KEYCELL-GUEST-FAIL') + 19);
      bootLog.push(line);
      if (bootLog.length > 200) bootLog.shift();
      return;
    }
    if (exitCode !== null) return;
    const exit = new RegExp(`${MARK_EXIT}(\\d+)`).exec(line);
    if (exit) {
      const before = line.slice(0, exit.index);
      if (before.trim()) output(before);
      exitCode = Number(exit[1]);
      return;
    }
    if (/^\[\s*\d+\.\d+\]/.test(line)) return; // kernel log line
    output(line);
  };

  qemu.stdout.setEncoding('utf8');
  qemu.stdout.on('data', (chunk: string) => {
    pending += chunk;
    let newline = pending.indexOf('\n');
    while (newline >= 0) {
      onLine(pending.slice(0, newline));
      pending = pending.slice(newline + 1);
      newline = pending.indexOf('\n');
    }
  });
  let stderr = '';
  qemu.stderr.setEncoding('utf8');
  qemu.stderr.on('data', (chunk: string) => {
    stderr += chunk;
  });

  const timeoutSeconds = options.timeoutSeconds ?? 2700;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    qemu.kill('SIGKILL');
  }, timeoutSeconds * 1000);

  return new Promise((resolve, reject) => {
    qemu.on('error', (error) => {
      clearTimeout(timer);
      reject(new GuestError(`cannot start qemu-system-x86_64: ${error.message}`));
    });
    qemu.on('close', (status) => {
      clearTimeout(timer);
      if (pending) onLine(pending);
      const seconds = (Date.now() - started) / 1000;
      const context =
        `\n--- guest console (last lines) ---\n${bootLog.slice(-40).join('\n')}` +
        `\n--- qemu stderr ---\n${stderr.trim()}`;
      if (timedOut) {
        reject(
          new GuestError(
            `the ${options.kernel} guest did not finish within ${timeoutSeconds} s and was stopped`,
          ),
        );
      } else if (!release) {
        const reason = failure || `qemu exited with status ${status} before the command started`;
        reject(new GuestError(`the ${options.kernel} guest failed to boot: ${reason}${context}`));
      } else if (exitCode === null) {
        reject(
          new GuestError(
            `the ${options.kernel} guest stopped without reporting the command's ` +
              `exit status${context}`,
          ),
        );
      } else {
        resolve({ kernel: options.kernel, release, pku, exitCode, seconds });
      }
    });
  });
}
