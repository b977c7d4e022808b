/**
 * Checks of Debian's libsodium inside a domain, shared by the native suite
 * (isolation 'none') and the PKU suite: published test vectors and round
 * trips through the library's own functions.
 */
import { expect } from 'vitest';

import type { Domain } from '../../src/domain.js';

export const LIBSODIUM = '/usr/lib/x86_64-linux-gnu/libsodium.so.23';

/** BLAKE2b-256 of "abc", from the BLAKE2 reference test vectors. */
export const BLAKE2B_256_ABC = 'bddd813c634239723171ef3fee98579b94964e3bb1cb3e427262c8c068d52319';

const SECRETBOX_KEYBYTES = 32;
const SECRETBOX_NONCEBYTES = 24;
const SECRETBOX_MACBYTES = 16;

/** Loads libsodium into `domain` and checks init, hashing, secretbox and randomness. */
export async function checkSodium(domain: Domain): Promise<void> {
  const sodium = await domain.load(LIBSODIUM);
  expect(sodium.func('int sodium_init(void)')()).toBe(0);

  const hash = sodium.func(
    'int crypto_generichash(uint8_t *out, size_t outlen, const uint8_t *in, ' +
      'uint64_t inlen, const uint8_t *key, size_t keylen)',
  );
  const digest = Buffer.alloc(32);
  expect(hash(digest, 32, Buffer.from('abc'), 3, null, 0)).toBe(0);
  expect(digest.toString('hex')).toBe(BLAKE2B_256_ABC);

  const random = sodium.func('void randombytes_buf(uint8_t *buf, size_t size)');
  const key = Buffer.alloc(SECRETBOX_KEYBYTES);
  const nonce = Buffer.alloc(SECRETBOX_NONCEBYTES);
  random(key, key.length);
  random(nonce, nonce.length);
  expect(key.equals(Buffer.alloc(SECRETBOX_KEYBYTES))).toBe(false);
  expect(key.subarray(0, SECRETBOX_NONCEBYTES).equals(nonce)).toBe(false);

  const seal = sodium.func(
    'int crypto_secretbox_easy(uint8_t *c, const uint8_t *m, uint64_t mlen, ' +
      'const uint8_t *n, const uint8_t *k)',
  );
  const open = sodium.func(
    'int crypto_secretbox_open_easy(uint8_t *m, const uint8_t *c, uint64_t clen, ' +
      'const uint8_t *n, const uint8_t *k)',
  );
  const message = Buffer.from('keycell keeps libsodium in its cell');
  const box = Buffer.alloc(message.length + SECRETBOX_MACBYTES);
  expect(seal(box, message, message.length, nonce, key)).toBe(0);
  const opened = Buffer.alloc(message.length);
  expect(open(opened, box, box.length, nonce, key)).toBe(0);
  expect(opened.equals(message)).toBe(true);

  box[3] ^= 1;
  expect(open(opened, box, box.length, nonce, key)).toBe(-1);
}
