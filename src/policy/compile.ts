/**
 * Turns a policy (a preset name or a PolicySpec) into the compact table the
 * native monitor consults on every system call of a domain.
 *
 * Table layout (little-endian), version 1:
 *   header, 16 bytes: magic "KCPL", version, entry count (512), string bytes
 *   one 32-byte entry per system call number 0..511:
 *     u8 allow, u8 fd mode (0 unchecked, 1 any, 2 own, 3 list), u8 fd arg,
 *     u8 path arg, u8 open-flags arg, u8 access (0 any, 1 read, 2 write),
 *     u8 protection arg, u8 allowed PROT_* bits, u32 path-prefix offset,
 *     u32 path-prefix count, u64 fd bitmap (list mode), u8 dirfd arg, 7 spare
 *   then the path prefixes, each NUL-terminated.
 * An argument index of 255 means "no such argument". System calls that
 * keycell always denies are refused here too, with a message, though the
 * native side enforces them whatever the table says.
 */
import { KeycellError } from '../errors.js';
import { native } from '../native.js';
import { SHAPES } from './shapes.js';
import {
  isPresetName,
  PRESETS,
  type PolicySpec,
  type PresetName,
  type SyscallRule,
} from './spec.js';
import { isSyscallName, SYSCALL_NUMBERS, syscallName, type SyscallName } from './syscalls.js';

export const TABLE_MAGIC = 0x4c50434b; // "KCPL"
export const TABLE_VERSION = 1;
export const TABLE_ENTRIES = 512;
export const ENTRY_SIZE = 32;
const HEADER_SIZE = 16;
const NO_ARG = 255;
const FD_MODES = { unchecked: 0, any: 1, own: 2, list: 3 } as const;
const PROT_BITS = { read: 1, write: 2 } as const;

/** A policy that cannot be compiled; the message names the policy and the rule. */
export class PolicyError extends KeycellError {
  override name = 'PolicyError';
  declare readonly code: 'POLICY_INVALID';

  constructor(
    /** The policy's name. */
    readonly policy: string,
    message: string,
  ) {
    super('POLICY_INVALID', `policy '${policy}': ${message}`);
  }
}

export interface CompiledPolicy {
  name: string;
  /** The rules in force, by system call. */
  rules: ReadonlyMap<SyscallName, SyscallRule>;
  table: Uint8Array;
}

function normalise(rule: SyscallName | SyscallRule, policy: string): SyscallRule {
  const value = typeof rule === 'string' ? { syscall: rule } : rule;
  if (!value || typeof value !== 'object' || !isSyscallName(value.syscall)) {
    throw new PolicyError(
      policy,
      `unknown system call ${JSON.stringify(typeof rule === 'string' ? rule : value?.syscall)}`,
    );
  }
  return value;
}

/** Checks that each condition applies to the call and is well-formed. */
function validate(
  rule: SyscallRule,
  policy: string,
  alwaysDenied: ReadonlyMap<string, string>,
): void {
  const where = `rule for ${rule.syscall}`;
  const reason = alwaysDenied.get(rule.syscall);
  if (reason)
    throw new PolicyError(
      policy,
      `${rule.syscall} cannot be allowed: keycell always denies it (${reason})`,
    );

  const shape = SHAPES[rule.syscall] ?? {};
  if (rule.fds !== undefined) {
    if (shape.fd === undefined)
      throw new PolicyError(policy, `${where}: fds applies only to calls that take a descriptor`);
    if (Array.isArray(rule.fds)) {
      for (const fd of rule.fds) {
        if (!Number.isInteger(fd) || fd < 0 || fd > 63)
          throw new PolicyError(policy, `${where}: fds must be integers from 0 to 63, not ${fd}`);
      }
    } else if (rule.fds !== 'own' && rule.fds !== 'any') {
      throw new PolicyError(policy, `${where}: fds must be 'own', 'any' or a list of descriptors`);
    }
  }
  if (rule.paths !== undefined) {
    if (shape.path === undefined)
      throw new PolicyError(policy, `${where}: paths applies only to calls that take a path`);
    for (const prefix of rule.paths) {
      if (
        typeof prefix !== 'string' ||
        !prefix.startsWith('/') ||
        prefix.includes('\0') ||
        /(^|\/)\.\.?(\/|$)/.test(prefix)
      ) {
        throw new PolicyError(
          policy,
          `${where}: path prefixes must be absolute and free of . and .. ` +
            `(got ${JSON.stringify(prefix)})`,
        );
      }
    }
  }
  if (
    rule.access !== undefined &&
    (shape.openFlags === undefined || !['read', 'write'].includes(rule.access))
  ) {
    throw new PolicyError(
      policy,
      `${where}: access ('read' or 'write') applies only to open and openat`,
    );
  }
  if (rule.protections !== undefined) {
    if (shape.protection === undefined)
      throw new PolicyError(policy, `${where}: protections applies only to mprotect`);
    for (const protection of rule.protections) {
      if (!Object.hasOwn(PROT_BITS, protection))
        throw new PolicyError(
          policy,
          `${where}: protections may be 'read' and 'write', never ${JSON.stringify(protection)}`,
        );
    }
  }
}

/** Collects the rules of a policy after applying its preset, allow and deny lists. */
function resolveRules(input: PresetName | PolicySpec): {
  name: string;
  rules: Map<SyscallName, SyscallRule>;
} {
  if (isPresetName(input)) return resolveRules({ name: input, extends: input });
  if (!input || typeof input !== 'object') {
    throw new TypeError(
      `a policy is a preset name (${Object.keys(PRESETS).join(', ')}) or an object, ` +
        `not ${String(input)}`,
    );
  }
  const name = input.name ?? input.extends ?? 'custom';
  if (input.extends !== undefined && !isPresetName(input.extends)) {
    throw new PolicyError(
      name,
      `unknown preset ${JSON.stringify(input.extends)}; choose ${Object.keys(PRESETS).join(', ')}`,
    );
  }
  const rules = new Map<SyscallName, SyscallRule>();
  for (const rule of input.extends ? PRESETS[input.extends] : []) rules.set(rule.syscall, rule);
  for (const entry of input.allow ?? []) {
    const rule = normalise(entry, name);
    rules.set(rule.syscall, rule);
  }
  for (const syscall of input.deny ?? []) {
    if (!isSyscallName(syscall))
      throw new PolicyError(name, `unknown system call ${JSON.stringify(syscall)} in deny`);
    rules.delete(syscall);
  }
  return { name, rules };
}

function encodeEntry(
  view: DataView,
  rule: SyscallRule,
  strings: string[],
  stringBytes: { length: number },
): void {
  const shape = SHAPES[rule.syscall] ?? {};
  const offset = HEADER_SIZE + SYSCALL_NUMBERS[rule.syscall] * ENTRY_SIZE;
  const fds = rule.fds ?? (shape.fd === undefined ? undefined : 'any');
  const mode =
    fds === undefined
      ? FD_MODES.unchecked
      : Array.isArray(fds)
        ? FD_MODES.list
        : FD_MODES[fds as 'own' | 'any'];

  view.setUint8(offset, 1);
  view.setUint8(offset + 1, mode);
  view.setUint8(offset + 2, shape.fd ?? NO_ARG);
  // A call that takes a path always has it checked: no `paths` means any path the
  // always-denied rules leave, and the monitor then uses the host's copy.
  const paths = shape.path === undefined ? undefined : (rule.paths ?? ['/']);
  view.setUint8(offset + 3, paths ? shape.path! : NO_ARG);
  view.setUint8(offset + 4, shape.openFlags ?? NO_ARG);
  view.setUint8(offset + 5, rule.access === 'read' ? 1 : rule.access === 'write' ? 2 : 0);
  view.setUint8(offset + 6, shape.protection ?? NO_ARG);
  view.setUint8(
    offset + 7,
    (rule.protections ?? []).reduce((bits, p) => bits | PROT_BITS[p], 0),
  );
  view.setUint32(offset + 8, stringBytes.length, true);
  view.setUint32(offset + 12, paths?.length ?? 0, true);
  let bitmap = 0n;
  if (Array.isArray(fds)) for (const fd of fds) bitmap |= 1n << BigInt(fd);
  view.setBigUint64(offset + 16, bitmap, true);
  view.setUint8(offset + 24, shape.dirfd ?? NO_ARG);
  for (const prefix of paths ?? []) {
    strings.push(prefix);
    stringBytes.length += Buffer.byteLength(prefix) + 1;
  }
}

/** Compiles a preset name or a policy object; throws PolicyError naming what is wrong. */
export function compilePolicy(input: PresetName | PolicySpec): CompiledPolicy {
  const { name, rules } = resolveRules(input);
  const alwaysDenied = new Map(
    native()
      .policy.alwaysDenied()
      .map((entry) => [syscallName(entry.nr), entry.reason]),
  );
  for (const rule of rules.values()) validate(rule, name, alwaysDenied);

  const entries = new DataView(new ArrayBuffer(HEADER_SIZE + TABLE_ENTRIES * ENTRY_SIZE));
  const strings: string[] = [];
  const stringBytes = { length: 0 };
  for (const rule of rules.values()) encodeEntry(entries, rule, strings, stringBytes);
  entries.setUint32(0, TABLE_MAGIC, true);
  entries.setUint32(4, TABLE_VERSION, true);
  entries.setUint32(8, TABLE_ENTRIES, true);
  entries.setUint32(12, stringBytes.length, true);

  const table = Buffer.concat([
    new Uint8Array(entries.buffer),
    ...strings.map((prefix) => Buffer.from(`${prefix}\0`)),
  ]);
  return { name, rules, table: new Uint8Array(table) };
}
