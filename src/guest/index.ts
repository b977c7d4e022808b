/** The PKU guest: run commands on a Debian kernel in QEMU with protection keys. */
export { GuestError } from './errors.js';
export { KERNELS, isKernelName, type KernelName } from './kernels.js';
export { runInGuest, defaultCacheDir, type GuestOptions, type GuestResult } from './runner.js';
