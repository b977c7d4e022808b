/**
 * Calling library functions through signatures: argument marshalling, copies
 * back, returned pointers, zero-copy buffers and the errors a caller meets.
 * Runs with isolation 'none' on any machine; test/pku/ repeats the zlib and
 * fault cases under protection keys.
 */
import zlib from 'node:zlib';

import { beforeAll, describe, expect, test } from 'vitest';

import { Domain } from '../../src/domain.js';
import { LoadError } from '../../src/errors.js';
import { parseSignature, SignatureError } from '../../src/loader/signature.js';
import { DomainPointer } from '../../src/pointer.js';
import { domainPool } from '../support/domain-pool.js';
import { buildLoaderFixtures, type LoaderFixtures } from '../support/loader-fixtures.js';

const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';
let fixtures: LoaderFixtures;

beforeAll(() => {
  fixtures = buildLoaderFixtures();
});

const domain = domainPool({ isolation: 'none' });

describe('signatures', () => {
  test('parse C declarations with and without parameter names', () => {
    const signature = parseSignature(
      'int crypto_generichash(uint8_t *out, size_t outlen, const uint8_t *in, ' +
        'uint64_t inlen, const uint8_t *key, size_t keylen)',
    );
    expect(signature.name).toBe('crypto_generichash');
    expect(signature.parameters.map((parameter) => parameter.name)).toEqual([
      'out',
      'outlen',
      'in',
      'inlen',
      'key',
      'keylen',
    ]);
    expect(signature.parameters[2].type).toMatchObject({ kind: 'pointer', const: true });
    expect(
      parseSignature(
        'unsigned long f(unsigned int, long long y, struct z_stream_s *)',
      ).parameters.map((p) => p.type.kind),
    ).toEqual(['int', 'int', 'pointer']);
  });

  test.each([
    ['int f(float x)', /float is not supported/],
    ['int f(blob x)', /unknown type 'blob'/],
    ['int f(void x, int)', /cannot be void/],
    ['f(int)', /cannot parse signature/],
    ['int f(int, int, int, int, int, int, int)', /at most 6 integer/],
  ])('refuses %s', (text, message) => {
    expect(() => parseSignature(text)).toThrow(SignatureError);
    expect(() => parseSignature(text)).toThrow(message);
  });
});

describe('calling zlib through signatures', () => {
  test('strings, numbers and results round-trip, in both signature forms', async () => {
    const z = await (await domain()).load(LIBZ);
    const version = z.func('const char *zlibVersion(void)');
    const result = version();
    expect(result).toBeInstanceOf(DomainPointer);
    expect((result as DomainPointer).readCString()).toBe('1.2.13');

    const crc32 = z.func('crc32', 'unsigned long', [
      'unsigned long',
      'const uint8_t *',
      'unsigned int',
    ]);
    const data = Buffer.from('keycell keeps native code in its cell');
    expect(crc32(0, data, data.length)).toBe(zlib.crc32(data));
    expect(crc32(0, null, 0)).toBe(0);
  });

  test('non-const buffers are copied back, const ones are not', async () => {
    const z = await (await domain()).load(LIBZ);
    const compress2 = z.func(
      'int compress2(uint8_t *dest, unsigned long *destLen, ' +
        'const uint8_t *source, unsigned long sourceLen, int level)',
    );
    const source = Buffer.from('abc'.repeat(1000));
    const before = Buffer.from(source);
    const dest = Buffer.alloc(200);
    const length = new BigUint64Array([200n]);
    expect(compress2(dest, length, source, source.length, 9)).toBe(0);
    expect(length[0]).toBeLessThan(200n);
    expect(zlib.inflateSync(dest.subarray(0, Number(length[0]))).equals(source)).toBe(true);
    expect(source.equals(before)).toBe(true);
  });

  test('buffers from domain.alloc() pass without copying and see the callee write', async () => {
    const target = await domain();
    const z = await target.load(LIBZ);
    const compress = z.func(
      'int compress(uint8_t *dest, unsigned long *destLen, ' +
        'const uint8_t *source, unsigned long sourceLen)',
    );
    const input = await target.alloc(4 << 20);
    const output = await target.alloc(5 << 20);
    const length = await target.alloc(8);
    input.bytes.fill(42);
    new DataView(length.bytes.buffer, length.bytes.byteOffset).setBigUint64(
      0,
      BigInt(output.bytes.length),
      true,
    );
    expect(compress(output.bytes, length.bytes, input.bytes, input.bytes.length)).toBe(0);
    const packed = Number(
      new DataView(length.bytes.buffer, length.bytes.byteOffset).getBigUint64(0, true),
    );
    expect(
      zlib.inflateSync(output.bytes.subarray(0, packed)).equals(Buffer.alloc(4 << 20, 42)),
    ).toBe(true);
    input.free();
    output.free();
    length.free();
  });

  test('wrong arguments are Type- or RangeErrors naming function and argument', async () => {
    const z = await (await domain()).load(LIBZ);
    const crc32 = z.func(
      'unsigned long crc32(unsigned long crc, const uint8_t *buf, unsigned int len)',
    );
    expect(() => crc32(0, Buffer.alloc(1))).toThrow(/crc32\(\) takes 3 argument\(s\), got 2/);
    expect(() => crc32(-1, null, 0)).toThrow(RangeError);
    expect(() => crc32(0.5, null, 0)).toThrow(/argument 1 \(crc\) must be an integer/);
    expect(() => crc32(0, {}, 0)).toThrow(/argument 2 \(buf\) must be a Buffer/);
    expect(() => z.func('int inflateNope(void)')).toThrow(LoadError);
    expect(() => z.func('int inflateNope(void)')).toThrow(/inflateNope: no such exported symbol/);
  });

  test('a pointer from one domain is refused by another', async () => {
    const first = await (await domain()).load(LIBZ);
    const second = await (await domain()).load(LIBZ);
    const pointer = first.func('const char *zlibVersion(void)')() as DomainPointer;
    const crc32 = second.func('unsigned long crc32(unsigned long, const uint8_t *, unsigned int)');
    expect(() => crc32(0, pointer, 1)).toThrow(/points into another domain/);
  });
});

describe('fixture libraries through the API', () => {
  test('TLS, constructors and dependencies work through func()', async () => {
    const needs = await (await domain()).load(fixtures.needs);
    expect(needs.func('int fixture_constructed(void)')()).toBe(1);
    expect(needs.func('int fixture_from_dependency(void)')()).toBe(42);
    const format = needs.func('char *fixture_format(int value)');
    expect((format(123) as DomainPointer).readCString()).toBe('value=123');
    expect(needs.func('size_t fixture_strlen(const char *text)')('héllo')).toBe(6);
  });
});

describe('closing', () => {
  test('destructors run inside the domain as it closes', async () => {
    const target = await Domain.create({ isolation: 'none' });
    const needs = await target.load(fixtures.needs);
    needs.func('void fixture_trap_on_exit(void)')();
    target.close();
    expect(target.closed).toBe(true);
    expect(target.fault?.kind).toBe('ill');
  });

  test('a domain whose destructors are quiet closes without a fault', async () => {
    const target = await Domain.create({ isolation: 'none' });
    await target.load(fixtures.needs);
    target.close();
    expect(target.fault).toBeNull();
  });
});
