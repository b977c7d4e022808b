/**
 * Debian's zlib driven through its streaming API inside a domain: a z_stream
 * lives in domain memory (from domain.alloc) and deflate/inflate run chunk by
 * chunk, as a real caller would. Shared by the native and PKU suites.
 */
import type { Domain } from '../../src/domain.js';
import type { Library } from '../../src/library.js';

export const LIBZ = '/usr/lib/x86_64-linux-gnu/libz.so.1';

/** z_stream on x86-64 (zlib.h): the fields the caller sets and reads. */
const Z_STREAM_SIZE = 112;
const NEXT_IN = 0;
const AVAIL_IN = 8;
const NEXT_OUT = 24;
const AVAIL_OUT = 32;
const TOTAL_OUT = 40;
const Z_OK = 0;
const Z_STREAM_END = 1;
const Z_FINISH = 4;
const Z_NO_FLUSH = 0;
const Z_BUF_ERROR = -5;
const CHUNK = 256 << 10;

/** The z_stream in domain memory, with its fields read and written through a DataView. */
async function stream(domain: Domain) {
  const memory = await domain.alloc(Z_STREAM_SIZE);
  memory.bytes.fill(0);
  const view = new DataView(memory.bytes.buffer, memory.bytes.byteOffset, Z_STREAM_SIZE);
  return {
    memory,
    setInput: (address: bigint, length: number) => {
      view.setBigUint64(NEXT_IN, address, true);
      view.setUint32(AVAIL_IN, length, true);
    },
    setOutput: (address: bigint, length: number) => {
      view.setBigUint64(NEXT_OUT, address, true);
      view.setUint32(AVAIL_OUT, length, true);
    },
    availIn: () => view.getUint32(AVAIL_IN, true),
    availOut: () => view.getUint32(AVAIL_OUT, true),
    totalOut: () => Number(view.getBigUint64(TOTAL_OUT, true)),
  };
}

/** Runs `step` (deflate or inflate) over `input`, CHUNK bytes in and out at a time. */
async function pump(
  domain: Domain,
  init: () => number,
  step: (flush: number) => number,
  end: () => number,
  strm: Awaited<ReturnType<typeof stream>>,
  input: Uint8Array,
): Promise<Buffer> {
  if (init() !== Z_OK) throw new Error('stream initialisation failed');
  const inBuffer = await domain.alloc(CHUNK);
  const outBuffer = await domain.alloc(CHUNK);
  const output: Buffer[] = [];
  // The pattern of zlib's own example (zpipe.c): feed a chunk, then call until the
  // output buffer is no longer filled completely. Z_BUF_ERROR only means no progress.
  let status = Z_OK;
  for (let offset = 0; offset < input.length && status !== Z_STREAM_END;) {
    const length = Math.min(CHUNK, input.length - offset);
    inBuffer.bytes.set(input.subarray(offset, offset + length));
    strm.setInput(inBuffer.pointer.address, length);
    offset += length;
    const flush = offset >= input.length ? Z_FINISH : Z_NO_FLUSH;
    do {
      strm.setOutput(outBuffer.pointer.address, CHUNK);
      status = step(flush);
      if (status < 0 && status !== Z_BUF_ERROR) throw new Error(`zlib returned ${status}`);
      output.push(Buffer.from(outBuffer.bytes.subarray(0, CHUNK - strm.availOut())));
    } while (strm.availOut() === 0);
  }
  if (status !== Z_STREAM_END) throw new Error(`the stream did not end (last status ${status})`);
  if (end() !== Z_OK) throw new Error('stream end failed');
  inBuffer.free();
  outBuffer.free();
  return Buffer.concat(output);
}

/** Compresses with deflate and decompresses with inflate, both as streams in the domain. */
export async function zlibStreamRoundTrip(
  domain: Domain,
  z: Library,
  input: Uint8Array,
): Promise<{ compressed: Buffer; restored: Buffer }> {
  const version = 'const char *version';
  const deflateInit = z.func(`int deflateInit_(void *strm, int level, ${version}, int size)`);
  const deflate = z.func('int deflate(void *strm, int flush)');
  const deflateEnd = z.func('int deflateEnd(void *strm)');
  const inflateInit = z.func(`int inflateInit_(void *strm, ${version}, int size)`);
  const inflate = z.func('int inflate(void *strm, int flush)');
  const inflateEnd = z.func('int inflateEnd(void *strm)');

  const packer = await stream(domain);
  const compressed = await pump(
    domain,
    () => deflateInit(packer.memory.bytes, 6, '1.2.13', Z_STREAM_SIZE) as number,
    (flush) => deflate(packer.memory.bytes, flush) as number,
    () => deflateEnd(packer.memory.bytes) as number,
    packer,
    input,
  );
  if (packer.totalOut() !== compressed.length) throw new Error('total_out disagrees');

  const unpacker = await stream(domain);
  const restored = await pump(
    domain,
    () => inflateInit(unpacker.memory.bytes, '1.2.13', Z_STREAM_SIZE) as number,
    // inflate runs to the stream's end whatever the flush; Z_FINISH would demand
    // room for all the output at once.
    () => inflate(unpacker.memory.bytes, Z_NO_FLUSH) as number,
    () => inflateEnd(unpacker.memory.bytes) as number,
    unpacker,
    compressed,
  );
  return { compressed, restored };
}
