/**
 * Debian kernels for the PKU guest, downloaded once into the cache.
 *
 * keycell is tested on the kernels its users run: bookworm's 6.1 and
 * bookworm-backports' 6.12. Each is fetched with apt-get against a private
 * sources list in the cache folder, so the host's apt configuration is only
 * read (for its mirror), never changed. From the package we keep the kernel
 * image and the few modules the guest loads to reach the host's files over
 * virtio-9p, plus their dependencies as modules.dep lists them.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import path from 'node:path';

import { GuestError } from './errors.js';

export const KERNELS = {
  '6.1': { suite: 'bookworm' },
  '6.12': { suite: 'bookworm-backports' },
} as const;

export type KernelName = keyof typeof KERNELS;

export function isKernelName(value: string): value is KernelName {
  return Object.hasOwn(KERNELS, value);
}

/** The modules the guest's init loads; anything built into the kernel is skipped. */
const WANTED_MODULES = ['virtio_pci', '9pnet_virtio', '9p', 'overlay'];

export interface CachedKernel {
  name: KernelName;
  /** Debian package it came from, e.g. linux-image-6.1.0-28-amd64. */
  pkg: string;
  vmlinuz: string;
  /** Uncompressed .ko files, in the order they must be loaded. */
  modules: string[];
}

const KEYRING = '/usr/share/keyrings/debian-archive-keyring.gpg';

/** Reads the Debian mirror the host's apt already uses (deb822 or one-line format). */
export function hostDebianMirror(files = listSourceFiles()): string {
  for (const file of files) {
    const text = fs.readFileSync(file, 'utf8');
    for (const match of text.matchAll(/^URIs:\s*(\S+)/gm)) {
      if (!/security/.test(match[1])) return match[1];
    }
    for (const match of text.matchAll(/^deb\s+(?:\[[^\]]*\]\s+)?(\S+)\s+\S+/gm)) {
      if (!/security/.test(match[1])) return match[1];
    }
  }
  throw new GuestError(
    'no Debian mirror found in /etc/apt/sources.list or /etc/apt/sources.list.d/*.sources; ' +
      'the PKU guest downloads its kernels from the mirror apt uses',
  );
}

function listSourceFiles(): string[] {
  const files = ['/etc/apt/sources.list'];
  const dir = '/etc/apt/sources.list.d';
  if (fs.existsSync(dir)) {
    for (const entry of fs.readdirSync(dir).sort()) {
      if (entry.endsWith('.sources') || entry.endsWith('.list')) files.push(path.join(dir, entry));
    }
  }
  return files.filter((file) => fs.existsSync(file));
}

/** Runs apt-get or apt-cache against the private configuration in `aptDir`. */
function apt(tool: 'apt-get' | 'apt-cache', aptDir: string, args: string[], cwd?: string): string {
  const options = [
    `-oDir::Etc::SourceList=${path.join(aptDir, 'sources.list')}`,
    `-oDir::Etc::SourceParts=${path.join(aptDir, 'sources.list.d')}`,
    `-oDir::State::Lists=${path.join(aptDir, 'lists')}`,
    `-oDir::Cache=${path.join(aptDir, 'cache')}`,
    '-oDir::State::status=/var/lib/dpkg/status',
    '-oAPT::Sandbox::User=root',
    '-oDebug::NoLocking=1',
    '-oAPT::Get::List-Cleanup=0',
    '-qq',
  ];
  const result = spawnSync(tool, [...options, ...args], { cwd, encoding: 'utf8' });
  if (result.error) throw new GuestError(`${tool} could not run: ${result.error.message}`);
  if (result.status !== 0) {
    throw new GuestError(
      `${tool} ${args.join(' ')} failed (status ${result.status}): ${result.stderr.trim()}`,
    );
  }
  return result.stdout;
}

/** Finds the versioned image package that linux-image-amd64 points to in `suite`. */
function resolveImagePackage(aptDir: string): string {
  const depends = apt('apt-cache', aptDir, ['depends', 'linux-image-amd64']);
  const match = /Depends:\s*(linux-image-\d[^\s]*-amd64)\b/.exec(depends);
  if (!match)
    throw new GuestError(`cannot tell which kernel linux-image-amd64 depends on:\n${depends}`);
  return match[1];
}

/** Reads the `depends=` entry of a module's .modinfo section: the modules it needs first. */
export function moduleDependencies(ko: Buffer): string[] {
  const marker = Buffer.from('\0depends=');
  const at = ko.indexOf(marker);
  if (at < 0) return [];
  const start = at + marker.length;
  const value = ko.subarray(start, ko.indexOf(0, start)).toString('latin1');
  return value
    .split(',')
    .filter(Boolean)
    .map((name) => name.replace(/-/g, '_'));
}

function moduleName(file: string): string {
  return path
    .basename(file)
    .replace(/\.ko(\.xz|\.zst|\.gz)?$/, '')
    .replace(/-/g, '_');
}

function listFiles(dir: string): string[] {
  return fs
    .readdirSync(dir, { withFileTypes: true, recursive: true })
    .filter((entry) => entry.isFile())
    .map((entry) => path.join(entry.parentPath, entry.name));
}

function readModule(file: string): Buffer {
  if (file.endsWith('.ko')) return fs.readFileSync(file);
  const result = spawnSync('xz', ['-dc', file], { maxBuffer: 64 << 20 });
  if (result.status !== 0)
    throw new GuestError(`xz could not decompress ${file}: ${result.stderr}`);
  return result.stdout;
}

/**
 * Copies `wanted` and the modules they depend on into `targetDir`, uncompressed
 * and named so that sorting by name gives a valid load order. Modules missing
 * from the package are built into the kernel and need no loading.
 */
function extractModules(moduleRoot: string, wanted: string[], targetDir: string): string[] {
  const files = new Map(
    listFiles(moduleRoot)
      .filter((f) => /\.ko(\.xz)?$/.test(f))
      .map((f) => [moduleName(f), f]),
  );
  const order: string[] = [];
  const contents = new Map<string, Buffer>();
  const visit = (name: string) => {
    const file = files.get(name);
    if (!file || contents.has(name)) return;
    const ko = readModule(file);
    contents.set(name, ko);
    for (const dependency of moduleDependencies(ko)) visit(dependency);
    order.push(name);
  };
  for (const name of wanted) visit(name);

  return order.map((name, index) => {
    const target = path.join(targetDir, `${String(index).padStart(2, '0')}-${name}.ko`);
    fs.writeFileSync(target, contents.get(name)!);
    return target;
  });
}

/** Returns the cached kernel, downloading and unpacking it on first use. */
export function ensureKernel(
  name: KernelName,
  cacheDir: string,
  log: (line: string) => void,
): CachedKernel {
  const kernelDir = path.join(cacheDir, `kernel-${name}`);
  const manifestPath = path.join(kernelDir, 'kernel.json');
  if (fs.existsSync(manifestPath)) {
    const cached = JSON.parse(fs.readFileSync(manifestPath, 'utf8')) as CachedKernel;
    if (fs.existsSync(cached.vmlinuz) && cached.modules.every((file) => fs.existsSync(file)))
      return cached;
  }

  const aptDir = path.join(cacheDir, `apt-${name}`);
  fs.rmSync(aptDir, { recursive: true, force: true });
  for (const dir of ['sources.list.d', 'lists/partial', 'cache/archives/partial']) {
    fs.mkdirSync(path.join(aptDir, dir), { recursive: true });
  }
  const mirror = hostDebianMirror();
  fs.writeFileSync(
    path.join(aptDir, 'sources.list'),
    `deb [signed-by=${KEYRING}] ${mirror} ${KERNELS[name].suite} main\n`,
  );

  log(`keycell guest: fetching Debian's ${KERNELS[name].suite} kernel (${name}) into ${cacheDir}`);
  apt('apt-get', aptDir, ['update']);
  const pkg = resolveImagePackage(aptDir);
  const download = path.join(aptDir, 'download');
  fs.mkdirSync(download, { recursive: true });
  apt('apt-get', aptDir, ['download', pkg], download);
  const deb = fs.readdirSync(download).find((file) => file.endsWith('.deb'));
  if (!deb) throw new GuestError(`apt-get download ${pkg} left no .deb in ${download}`);

  const unpacked = path.join(aptDir, 'unpacked');
  const extract = spawnSync('dpkg-deb', ['-x', path.join(download, deb), unpacked], {
    encoding: 'utf8',
  });
  if (extract.status !== 0) throw new GuestError(`dpkg-deb -x ${deb} failed: ${extract.stderr}`);

  fs.rmSync(kernelDir, { recursive: true, force: true });
  fs.mkdirSync(path.join(kernelDir, 'modules'), { recursive: true });
  const bootDir = path.join(unpacked, 'boot');
  const image = fs.readdirSync(bootDir).find((file) => file.startsWith('vmlinuz-'));
  if (!image) throw new GuestError(`${pkg} has no /boot/vmlinuz-*`);
  const vmlinuz = path.join(kernelDir, 'vmlinuz');
  fs.copyFileSync(path.join(bootDir, image), vmlinuz);

  const release = image.slice('vmlinuz-'.length);
  const moduleRoot = path.join(unpacked, 'lib', 'modules', release);
  const modules = extractModules(moduleRoot, WANTED_MODULES, path.join(kernelDir, 'modules'));

  const kernel: CachedKernel = { name, pkg, vmlinuz, modules };
  fs.writeFileSync(manifestPath, JSON.stringify(kernel, null, 2));
  fs.rmSync(aptDir, { recursive: true, force: true });
  return kernel;
}
