/**
 * Calling library functions through signatures: argument marshalling, copies
 * back, returned pointers, zero-copy buffers and the errors a caller meets.
 * Runs with isolation 'none' on any machine; test/pku/ repeats the zlib and
 * fault cases under protection keys.
 */
import zlib from 'node:zlib';

import { beforeAll, describe, expect, test } from 'vitest';

import { Domain } from '../../src/domain.js';
import { DomainClosedError, LoadError } from '../../src/errors.js';
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

describe('argument and result conversion', () => {
  test('each integer result type truncates and sign-extends as C does', async () => {
    const values = await (await domain()).load(fixtures.values);
    const cases: [string, string, bigint, number | bigint][] = [
      ['int8_t', 'i8', 0x1ffn, -1],
      ['uint8_t', 'u8', 0x1ffn, 255],
      ['int16_t', 'i16', 0x18000n, -32768],
      ['uint16_t', 'u16', 0x1ffffn, 65535],
      ['int32_t', 'i32', 0x180000000n, -2147483648],
      ['uint32_t', 'u32', 0x1ffffffffn, 4294967295],
      ['int64_t', 'i64', 0xffffffffffffffffn, -1],
      ['int64_t', 'i64', 0x8000000000000000n, -(2n ** 63n)],
      ['int64_t', 'i64', 2n ** 53n - 1n, Number.MAX_SAFE_INTEGER],
      ['int64_t', 'i64', 2n ** 53n, 2n ** 53n],
      ['uint64_t', 'u64', 0xffffffffffffffffn, 2n ** 64n - 1n],
      ['uint64_t', 'u64', 2n ** 32n + 5n, 2 ** 32 + 5],
    ];
    for (const [type, name, input, expected] of cases) {
      const fn = values.func(`${type} values_${name}(uint64_t raw)`);
      expect(fn(input), `${type} from 0x${input.toString(16)}`).toBe(expected);
    }
    const not = values.func('bool values_not(bool value)');
    expect(not(false)).toBe(true);
    expect(not(true)).toBe(false);
  });

  test('integer arguments reach the callee as exact 64-bit register values', async () => {
    const values = await (await domain()).load(fixtures.values);
    const pick = values.func(
      'uint64_t values_pick(uint64_t a, uint64_t b, int64_t c, int64_t d, uint64_t e, int which)',
    );
    const args = [2 ** 53 - 1, 2n ** 64n - 1n, -1, -(2 ** 40) - 3, 2 ** 63, 0] as const;
    const expected = [
      2 ** 53 - 1,
      2n ** 64n - 1n,
      2n ** 64n - 1n,
      2n ** 64n - 2n ** 40n - 3n,
      2n ** 63n,
    ];
    for (let which = 0; which < 5; which++) {
      const call = [...args.slice(0, 5), which];
      expect(pick(...call), `argument ${which + 1}`).toBe(expected[which]);
    }
    expect(() => pick(2 ** 64, 0, 0, 0, 0, 0)).toThrow(/argument 1 \(a\) is out of range/);
    expect(() => pick(0, -1, 0, 0, 0, 0)).toThrow(RangeError);
    expect(() => pick(0, 0, 2n ** 63n, 0, 0, 0)).toThrow(/argument 3 \(c\) is out of range/);
    expect(() => pick(0, 0, 0, 0, 0, 2 ** 31)).toThrow(/argument 6 \(which\) is out of range/);
    expect(() => pick(0, 0, 0, 0, 0, '1')).toThrow(
      /must be an integer \(number or bigint\), not string/,
    );
  });

  test('integer and double arguments interleave, each in its own registers', async () => {
    const values = await (await domain()).load(fixtures.values);
    const mix = values.func(
      'double values_mix(int32_t a, double x, int64_t b, double y, uint8_t c, double z)',
    );
    expect(mix(1, 2, 3, 4, 5, 6)).toBe(1 + 20 + 300 + 4000 + 50000 + 600000);
    expect(mix(-1, 0.5, -2n, 0.25, 255, 0)).toBe(-1 + 5 - 200 + 250 + 2550000);
    expect(() => mix(1, 2n, 3, 4, 5, 6)).toThrow(/argument 2 \(x\) must be a number, not bigint/);
  });

  test('strings, buffers and out-parameters cross in both directions', async () => {
    const values = await (await domain()).load(fixtures.values);
    const length = values.func('size_t values_length(const char *text)');
    const echo = values.func('const char *values_echo(const char *text)');
    const sum = values.func(
      'uint32_t values_sum(const uint8_t *data, size_t length, uint64_t *out)',
    );
    expect(length('')).toBe(0);
    expect(length('naïve ☃')).toBe(Buffer.byteLength('naïve ☃'));
    expect((echo('in and out') as DomainPointer).readCString()).toBe('in and out');
    expect(echo(null)).toBeNull();

    const data = Uint8Array.from({ length: 300 }, (_, i) => i & 0xff);
    const out = new BigUint64Array(1);
    expect(sum(data, data.length, out)).toBe(data.reduce((a, b) => a + b, 0));
    expect(out[0]).toBe(300n);
    const big = Buffer.alloc(2 << 20);
    expect(() => sum(big, big.length, out)).toThrow(/do not fit the 1048576-byte argument area/);
  });
});

describe('closing', () => {
  test('a function of a closed domain throws DomainClosedError', async () => {
    const target = await Domain.create({ isolation: 'none' });
    const values = await target.load(fixtures.values);
    const length = values.func('size_t values_length(const char *text)');
    const not = values.func('bool values_not(bool value)');
    expect(not(false)).toBe(true);
    target.close();
    expect(() => not(false)).toThrow(DomainClosedError);
    expect(() => length('text')).toThrow(DomainClosedError);
  });

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
