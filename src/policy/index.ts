/** Syscall policies: presets, custom rules, their compiled tables and audit proposals. */
export { compilePolicy, PolicyError, type CompiledPolicy } from './compile.js';
export { proposePolicy, type PolicyProposal, type SyscallAttempt } from './propose.js';
export { PRESETS, type PolicySpec, type PresetName, type SyscallRule } from './spec.js';
export { SYSCALL_NUMBERS, syscallName, type SyscallName } from './syscalls.js';
