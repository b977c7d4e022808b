/**
 * Pointers and buffers that live in a domain's memory.
 *
 * A `DomainPointer` is what a domain function returns for a pointer: a
 * domain address that means nothing in host memory, tied to its domain.
 * Reading through it copies bytes out of the domain, bounds-checked against
 * the domain's image; what comes out is data the sandbox controlled and
 * should be checked before it is trusted.
 */
import type { Domain } from './domain.js';
import { copyFromDomain, copyIntoDomain, domainLayout } from './domain-memory.js';

export class DomainPointer {
  /** The domain address. */
  readonly address: bigint;

  constructor(
    /** The domain whose memory the pointer addresses. */
    readonly domain: Domain,
    address: bigint | number,
  ) {
    this.address = BigInt(address);
  }

  /** Returns a pointer `bytes` further on. */
  offset(bytes: number | bigint): DomainPointer {
    return new DomainPointer(this.domain, this.address + BigInt(bytes));
  }

  /** Copies `length` bytes out of the domain; throws DomainMemoryError outside its image. */
  read(length: number): Buffer {
    return copyFromDomain(this.domain, this.imageOffset(), length);
  }

  /**
   * Copies a NUL-terminated string out of the domain, reading at most
   * `maxLength` bytes (the domain chose the bytes: treat the text as input).
   */
  readCString(maxLength = 4096, encoding: BufferEncoding = 'utf8'): string {
    const { imageBase, imageSize } = domainLayout(this.domain);
    const offset = this.imageOffset();
    const length = Math.max(0, Math.min(maxLength, imageBase + imageSize - (imageBase + offset)));
    let bytes: Buffer;
    try {
      bytes = copyFromDomain(this.domain, offset, length);
    } catch {
      bytes = this.readUntilUnreadable(offset, length);
    }
    const end = bytes.indexOf(0);
    return bytes.subarray(0, end < 0 ? bytes.length : end).toString(encoding);
  }

  /** Copies `bytes` into writable domain memory at this address. */
  write(bytes: Uint8Array): void {
    copyIntoDomain(this.domain, this.imageOffset(), bytes);
  }

  toString(): string {
    return `DomainPointer(domain ${this.domain.id}, 0x${this.address.toString(16)})`;
  }

  /** Reads page by page up to the first page the domain cannot read. */
  private readUntilUnreadable(offset: number, length: number): Buffer {
    const parts: Buffer[] = [];
    let at = offset;
    while (at < offset + length) {
      const chunk = Math.min(4096 - (at % 4096), offset + length - at);
      try {
        const part = copyFromDomain(this.domain, at, chunk);
        parts.push(part);
        if (part.includes(0)) break;
      } catch {
        break;
      }
      at += chunk;
    }
    return Buffer.concat(parts);
  }

  private imageOffset(): number {
    const { imageBase } = domainLayout(this.domain);
    return Number(this.address - BigInt(imageBase));
  }
}

/** Memory from the domain's heap with a zero-copy view; `free()` gives it back. */
export interface DomainBuffer {
  pointer: DomainPointer;
  /** A view over the domain memory itself: writes are seen by domain code at once. */
  bytes: Uint8Array;
  free(): void;
}
