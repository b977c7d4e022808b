/**
 * keycell: in-process sandboxes for untrusted native code, isolated by
 * memory protection keys. This module is the public API.
 */
export { Domain, type DomainOptions, type Isolation, type SyscallEvent } from './domain.js';
export { Library, type DomainFunction } from './library.js';
export { audit, attemptsFromEvents, type SyscallAuditReport } from './audit.js';
export { DomainPointer, type DomainBuffer } from './pointer.js';
export {
  KeycellError,
  SandboxFault,
  DomainClosedError,
  DomainPoisonedError,
  DomainReentryError,
  DomainMemoryError,
  IsolationUnavailableError,
  PkeysExhaustedError,
  ScanError,
  PolicyViolation,
  LoadError,
  type LoadErrorCode,
  type ScanErrorCode,
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
export {
  compilePolicy,
  proposePolicy,
  PolicyError,
  PRESETS as POLICY_PRESETS,
  type CompiledPolicy,
  type PolicySpec,
  type PresetName,
  type SyscallRule,
  type SyscallAttempt,
} from './policy/index.js';
export * from './scanner/index.js';
