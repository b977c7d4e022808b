/**
 * Debian libraries and hostile fixtures in domains isolated by protection
 * keys: zlib works under the domain's PKRU, and every reach outside the
 * domain (from a constructor, a function, a write to its own code) is a
 * SandboxFault while the process lives on.
 */
import zlib from 'node:zlib';

import { beforeAll, describe, expect, test } from 'vitest';

import { SandboxFault } from '../../src/errors.js';
import { native } from '../../src/native.js';
import { domainPool } from '../support/domain-pool.js';
import { zlibStreamRoundTrip } from '../support/zlib.js';
import { buildLoaderFixtures, type LoaderFixtures } from '../support/loader-fixtures.js';
import { pkuPlatform, requirePku } from '../support/pku.js';

const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';
let fixtures: LoaderFixtures;

beforeAll(() => {
  requirePku();
  fixtures = buildLoaderFixtures();
}, 120_000);

const domain = domainPool({ isolation: 'pku' });

describe(`loaded libraries under protection keys (${pkuPlatform()})`, () => {
  test('zlib compresses and inflates 10 MB inside the domain', async () => {
    const target = await domain();
    const z = await target.load(LIBZ);
    const compress2 = z.func(
      'int compress2(uint8_t *dest, unsigned long *destLen, ' +
        'const uint8_t *source, unsigned long sourceLen, int level)',
    );
    const uncompress = z.func(
      'int uncompress(uint8_t *dest, unsigned long *destLen, ' +
        'const uint8_t *source, unsigned long sourceLen)',
    );
    const size = 10 << 20;
    const input = await target.alloc(size);
    for (let i = 0; i < size; i += 4096) input.bytes.fill(i % 251, i, i + 2048);
    const packed = await target.alloc(size + (size >> 8) + 64);
    const length = await target.alloc(8);
    const lengthView = new DataView(length.bytes.buffer, length.bytes.byteOffset, 8);

    lengthView.setBigUint64(0, BigInt(packed.bytes.length), true);
    expect(compress2(packed.bytes, length.bytes, input.bytes, size, 1)).toBe(0);
    const packedLength = Number(lengthView.getBigUint64(0, true));
    expect(zlib.inflateSync(packed.bytes.subarray(0, packedLength)).equals(input.bytes)).toBe(true);

    const output = await target.alloc(size);
    lengthView.setBigUint64(0, BigInt(size), true);
    expect(uncompress(output.bytes, length.bytes, packed.bytes, packedLength)).toBe(0);
    expect(Buffer.compare(output.bytes, input.bytes)).toBe(0);
  }, 240_000);

  test('zlib deflates and inflates 10 MB as streams, z_stream in domain memory', async () => {
    const target = await domain();
    const z = await target.load(LIBZ);
    const input = Buffer.alloc(10 << 20);
    for (let i = 0; i < input.length; i += 4096) input.fill(i % 251, i, i + 2048);
    const { compressed, restored } = await zlibStreamRoundTrip(target, z, input);
    expect(zlib.inflateSync(compressed).equals(input)).toBe(true);
    expect(restored.equals(input)).toBe(true);
  }, 240_000);

  test('a constructor that reads host memory fails the load with a SandboxFault', async () => {
    const target = await domain();
    const error = await target.load(fixtures.peekConstructor).catch((caught) => caught);
    expect(error).toBeInstanceOf(SandboxFault);
    expect(error.kind).toBe('pku');
    expect(target.fault).toBe(error);
  });

  test('reading or writing a host buffer from library code is a SandboxFault', async () => {
    const secret = Buffer.from('host secret');
    const address = native().selftest.bufferAddress(secret);
    for (const name of [
      'int hostile_read(uintptr_t address)',
      'void hostile_write(uintptr_t address)',
    ]) {
      const library = await (await domain()).load(fixtures.hostile);
      const error = (() => {
        try {
          library.func(name)(address);
        } catch (caught) {
          return caught as SandboxFault;
        }
        return null;
      })();
      expect(error, name).toBeInstanceOf(SandboxFault);
      expect(error!.kind).toBe('pku');
      expect(error!.faultAddress).toBe(BigInt(address));
    }
    expect(secret.toString()).toBe('host secret');
  });

  test('library code cannot patch itself: its pages are not writable', async () => {
    const library = await (await domain()).load(fixtures.hostile);
    expect(() => library.func('void hostile_patch_code(void)')()).toThrow(SandboxFault);
  });
});
