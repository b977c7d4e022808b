/**
 * Host-side access to a domain's memory, for keycell's loader and tests.
 *
 * Offsets count from the start of the domain's image area. Addresses inside a
 * domain have their own type, `DomainAddress`, so that a value that came from
 * a domain is never mistaken for a host pointer.
 */
import { withNativeDomain, type Domain } from './domain.js';
import type { NativeDomainLayout } from './native.js';

declare const domainAddressBrand: unique symbol;

/** An address inside a domain's memory; meaningless in host memory. */
export type DomainAddress = number & { readonly [domainAddressBrand]: true };

/** Page protections; write and execute are never granted together. */
export const Protection = { none: 0, read: 1, readWrite: 3, readExecute: 5 } as const;
export type Protection = (typeof Protection)[keyof typeof Protection];

export const PAGE_SIZE = 4096;

/** Returns the domain's layout: image, stack and thread pointer addresses. */
export function domainLayout(domain: Domain): NativeDomainLayout {
  return withNativeDomain(domain, (native) => native.layout());
}

/** Returns the domain address of image offset `offset`. */
export function domainAddress(domain: Domain, offset: number): DomainAddress {
  return (domainLayout(domain).imageBase + offset) as DomainAddress;
}

/** Sets the protection of the page-aligned image range [offset, offset + length). */
export function protectDomainPages(
  domain: Domain,
  offset: number,
  length: number,
  protection: Protection,
): void {
  withNativeDomain(domain, (native) => native.protect(offset, length, protection));
}

/** Makes the DTV at image `offset` the one the domain's __tls_get_addr uses. */
export function setThreadVector(domain: Domain, offset: number): void {
  withNativeDomain(domain, (native) => native.setThreadVector(offset));
}

/** Returns a copy of `length` bytes of domain memory at `offset`. */
export function copyFromDomain(domain: Domain, offset: number, length: number): Buffer {
  return withNativeDomain(domain, (native) => native.read(offset, length));
}

/** Copies `bytes` into writable domain memory at `offset`. */
export function copyIntoDomain(domain: Domain, offset: number, bytes: Uint8Array): void {
  withNativeDomain(domain, (native) => native.write(offset, bytes));
}

/**
 * Returns an ArrayBuffer over read-write domain memory without copying. It is
 * detached when the domain closes or those pages lose write access; while it
 * lives it keeps the domain from being collected.
 */
export function viewDomainMemory(domain: Domain, offset: number, length: number): ArrayBuffer {
  const buffer = withNativeDomain(domain, (native) => native.view(offset, length));
  viewOwners.set(buffer, domain);
  return buffer;
}

const viewOwners = new WeakMap<ArrayBuffer, Domain>();

/** Rounds `length` up to whole pages. */
function pageAligned(length: number): number {
  return Math.ceil(length / PAGE_SIZE) * PAGE_SIZE;
}

/**
 * Places machine code that NO SCANNER HAS CHECKED in executable pages at image
 * `offset` and returns its address. Only for tests of the gates: loaded code
 * must go through the scanner.
 */
export function placeUnscannedCode(domain: Domain, code: Uint8Array, offset = 0): DomainAddress {
  const length = pageAligned(Math.max(code.length, 1));
  protectDomainPages(domain, offset, length, Protection.readWrite);
  copyIntoDomain(domain, offset, code);
  protectDomainPages(domain, offset, length, Protection.readExecute);
  return domainAddress(domain, offset);
}
