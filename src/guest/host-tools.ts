/**
 * Host programs the guest runner needs, installed from Debian's packages when
 * they are missing: QEMU for the x86-64 system, a static busybox for the
 * guest's init, and the archive tools that unpack kernel packages.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';

import { GuestError } from './errors.js';

interface HostTool {
  /** A file whose presence proves the tool is installed. */
  path: string;
  /** The Debian package that provides it. */
  pkg: string;
}

const TOOLS: HostTool[] = [
  { path: '/usr/bin/qemu-system-x86_64', pkg: 'qemu-system-x86' },
  { path: '/bin/busybox', pkg: 'busybox-static' },
  { path: '/usr/bin/xz', pkg: 'xz-utils' },
  { path: '/usr/bin/dpkg-deb', pkg: 'dpkg' },
];

/** Returns true when /bin/busybox is statically linked (the guest has no libc of its own). */
function busyboxIsStatic(): boolean {
  const result = spawnSync('/bin/busybox', ['--help'], { encoding: 'utf8' });
  if (result.status === null && result.error) return false;
  const ldd = spawnSync('ldd', ['/bin/busybox'], { encoding: 'utf8' });
  return `${ldd.stdout}${ldd.stderr}`.includes('not a dynamic executable');
}

/** Installs what is missing, or throws a GuestError naming the packages to install. */
export function ensureHostTools(log: (line: string) => void): void {
  const missing = TOOLS.filter((tool) => !fs.existsSync(tool.path)).map((tool) => tool.pkg);
  if (fs.existsSync('/bin/busybox') && !busyboxIsStatic()) missing.push('busybox-static');
  if (missing.length === 0) return;

  const command = `apt-get install -y --no-install-recommends ${missing.join(' ')}`;
  if (process.getuid?.() !== 0) {
    throw new GuestError(
      `the PKU guest needs ${missing.join(', ')}; install them with: sudo ${command}`,
    );
  }
  log(`keycell guest: installing ${missing.join(', ')} from Debian's packages`);
  const env = { ...process.env, DEBIAN_FRONTEND: 'noninteractive' };
  for (const args of [
    ['update', '-qq'],
    ['install', '-y', '-qq', '--no-install-recommends', ...missing],
  ]) {
    const result = spawnSync('apt-get', args, { env, encoding: 'utf8' });
    if (result.status !== 0) {
      throw new GuestError(
        `apt-get ${args[0]} failed (status ${result.status}) ` +
          `while installing ${missing.join(', ')}:\n` +
          `${result.stderr || result.stdout}`.trim(),
      );
    }
  }
}
