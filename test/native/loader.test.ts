/**
 * The loader on real Debian libraries and on fixtures built from source,
 * with isolation 'none' so that it runs on any machine; the PKU suite loads
 * the same libraries into protected domains.
 */
import zlib from 'node:zlib';

import { afterEach, beforeAll, describe, expect, test } from 'vitest';

import { callDomainFunction, openDomain, type Domain } from '../../src/domain.js';
import { copyFromDomain, copyIntoDomain, domainLayout } from '../../src/domain-memory.js';
import { LoadError, ScanError } from '../../src/errors.js';
import { loadLibrary, runtimePath, type LoadedLibrary } from '../../src/loader/load.js';
import { Library } from '../../src/library.js';
import { zlibStreamRoundTrip } from '../support/zlib.js';
import { buildLoaderFixtures, type LoaderFixtures } from '../support/loader-fixtures.js';
import { buildFixture } from '../support/scanner-fixtures.js';

const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';

let fixtures: LoaderFixtures;
const domains: Domain[] = [];

beforeAll(() => {
  process.env.NODE_NO_WARNINGS = '1';
  fixtures = buildLoaderFixtures();
});

afterEach(() => {
  for (const domain of domains.splice(0)) domain.close();
});

function domain(): Domain {
  const created = openDomain({ isolation: 'none' });
  domains.push(created);
  return created;
}

/** Calls an exported function of `library` with integer arguments; returns RAX. */
function call(
  target: Domain,
  library: LoadedLibrary,
  name: string,
  args: (number | bigint)[] = [],
): bigint {
  const symbol = library.exports.get(name);
  if (!symbol) throw new Error(`${library.path} does not export ${name}`);
  return callDomainFunction(target, library.base + symbol.value, args).value;
}

/** Domain memory from the runtime's malloc, with copies in and out. */
async function heap(target: Domain) {
  const runtime = await loadLibrary(target, runtimePath);
  const { imageBase } = domainLayout(target);
  return {
    alloc: (size: number) => Number(call(target, runtime, 'malloc', [size])),
    put: (address: number, bytes: Uint8Array) => copyIntoDomain(target, address - imageBase, bytes),
    get: (address: number, length: number) => copyFromDomain(target, address - imageBase, length),
    string: (address: number) => {
      const bytes = copyFromDomain(target, address - imageBase, 256);
      return bytes.subarray(0, bytes.indexOf(0)).toString('latin1');
    },
  };
}

describe('loading Debian zlib', () => {
  test('links, answers and round-trips 10 MB through compress2 and uncompress', async () => {
    const target = domain();
    const z = await loadLibrary(target, LIBZ);
    const memory = await heap(target);
    expect(memory.string(Number(call(target, z, 'zlibVersion')))).toBe('1.2.13');

    const input = Buffer.alloc(10 << 20);
    for (let i = 0; i < input.length; i++) input[i] = (i % 251) ^ (i >> 12);
    const source = memory.alloc(input.length);
    const bound = Number(call(target, z, 'compressBound', [input.length]));
    const packed = memory.alloc(bound);
    const length = memory.alloc(8);
    memory.put(source, input);

    expect(Number(call(target, z, 'crc32', [0, source, input.length]))).toBe(zlib.crc32(input));
    const size = Buffer.alloc(8);
    size.writeBigUInt64LE(BigInt(bound));
    memory.put(length, size);
    expect(call(target, z, 'compress2', [packed, length, source, input.length, 6])).toBe(0n);
    const packedLength = Number(memory.get(length, 8).readBigUInt64LE());
    const compressed = memory.get(packed, packedLength);
    expect(zlib.inflateSync(compressed).equals(input)).toBe(true);

    const unpacked = memory.alloc(input.length);
    size.writeBigUInt64LE(BigInt(input.length));
    memory.put(length, size);
    expect(call(target, z, 'uncompress', [unpacked, length, packed, packedLength])).toBe(0n);
    expect(memory.get(unpacked, input.length).equals(input)).toBe(true);
  }, 60_000);

  test('its code pages are executable and never writable; relocations are in place', async () => {
    const target = domain();
    const z = await loadLibrary(target, LIBZ);
    expect(z.loadMs).toBeGreaterThan(0);
    expect(z.soname).toBe('libz.so.1');
    // zlib's GOT entry for memcpy resolves into the runtime, not into the host's libc.
    const runtime = await loadLibrary(target, runtimePath);
    const memcpy = runtime.base + runtime.exports.get('memcpy')!.value;
    expect(memcpy).toBeGreaterThan(domainLayout(target).imageBase);
    expect(() => copyIntoDomain(target, z.offset + 0x3000, Uint8Array.of(0xcc))).toThrow(
      /not writable/,
    );
  });
});

describe('zlib streams', () => {
  test('deflate and inflate stream 10 MB through a z_stream in domain memory', async () => {
    const target = domain();
    const z = await Library.load(target, LIBZ);
    const input = Buffer.alloc(10 << 20);
    for (let i = 0; i < input.length; i++) input[i] = (i % 251) ^ (i >> 12);
    const { compressed, restored } = await zlibStreamRoundTrip(target, z, input);
    expect(compressed.length).toBeLessThan(input.length);
    expect(zlib.inflateSync(compressed).equals(input)).toBe(true);
    expect(restored.equals(input)).toBe(true);
  }, 120_000);
});

describe('linking fixtures', () => {
  test('loads DT_NEEDED, runs constructors, serves TLS and libc imports', async () => {
    const target = domain();
    const needs = await loadLibrary(target, fixtures.needs);
    const memory = await heap(target);
    expect(call(target, needs, 'fixture_constructed')).toBe(1n);
    expect(call(target, needs, 'fixture_from_dependency')).toBe(42n);
    expect(call(target, needs, 'fixture_tls_next')).toBe(42n);
    expect(call(target, needs, 'fixture_tls_next')).toBe(43n);
    expect(memory.string(Number(call(target, needs, 'fixture_format', [-7])))).toBe('value=-7');
  });

  test('an import nothing provides fails the load, listing every missing symbol', async () => {
    const error = await loadLibrary(domain(), fixtures.missing).catch((caught) => caught);
    expect(error).toBeInstanceOf(LoadError);
    expect(error.code).toBe('MISSING_SYMBOLS');
    expect(error.missing).toEqual([
      { symbol: 'keycell_fixture_absent_one', library: fixtures.missing },
      { symbol: 'keycell_fixture_absent_two', library: fixtures.missing },
    ]);
    expect(error.message).toContain('keycell_fixture_absent_two (wanted by ');
  });

  test('code with a WRPKRU is refused by the scanner before it becomes executable', async () => {
    const library = buildFixture(fixtures.dir, 'intended.S', 'intended');
    const error = await loadLibrary(domain(), library).catch((caught) => caught);
    expect(error).toBeInstanceOf(ScanError);
    expect(error.code).toBe('FINDINGS');
    expect(error.findings[0].kind).toBe('wrpkru');
  });

  test('a missing dependency names the library and where it looked', async () => {
    const error = await loadLibrary(domain(), '/nonexistent/libkeycell.so').catch(
      (caught) => caught,
    );
    expect(error).toBeInstanceOf(LoadError);
    expect(error.message).toContain('/nonexistent/libkeycell.so');
  });
});
