/**
 * keycell: in-process sandboxes for untrusted native code, isolated by
 * memory protection keys. This module is the public API.
 */
export { Domain, type DomainOptions, type Isolation } from './domain.js';
export {
  KeycellError,
  SandboxFault,
  DomainClosedError,
  DomainPoisonedError,
  DomainReentryError,
  DomainMemoryError,
  IsolationUnavailableError,
  PkeysExhaustedError,
  type FaultKind,
  type FaultReport,
} from './errors.js';
export { runDoctor, formatDoctor, type DoctorCheck, type DoctorReport } from './doctor.js';
export {
  runInGuest,
  GuestError,
  KERNELS,
  type GuestOptions,
  type GuestResult,
  type KernelName,
} from './guest/index.js';
