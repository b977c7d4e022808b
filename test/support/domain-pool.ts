/** Domains a test file opens, each closed after the test that opened it. */
import { afterEach } from 'vitest';

import { Domain, type DomainOptions } from '../../src/domain.js';

/**
 * Registers an afterEach that closes every domain opened through the returned
 * function, which creates domains with `defaults` overridden by its options.
 */
export function domainPool(defaults: DomainOptions): (options?: DomainOptions) => Promise<Domain> {
  const open: Domain[] = [];
  afterEach(() => {
    for (const domain of open.splice(0)) domain.close();
  });
  return async (options = {}) => {
    const domain = await Domain.create({ ...defaults, ...options });
    open.push(domain);
    return domain;
  };
}
