/**
 * The compiled addon (`build/Release/keycell.node`, from addon/ and gates/),
 * loaded once and typed here. Everything else reaches native code through
 * this module.
 */
import fs from 'node:fs';
import path from 'node:path';

/** What `probe()` reports about the CPU, the kernel and this process. */
export interface NativeProbe {
  cpu: { pku: boolean; ospke: boolean; fsgsbase: boolean; fsgsbaseEnabled: boolean };
  syscallUserDispatch: { supported: boolean; error: string | null };
  pkeys: { free: number; keys: number[]; stopReason: string };
  pkru: number | null;
}

/** Result of writing PKRU, reading it back and restoring the old value. */
export interface PkruRoundTrip {
  before: number;
  written: number;
  read: number;
  after: number;
}

/** A system call as the policy decision sees it. */
export interface SyscallRequest {
  nr: number;
  args: (number | bigint)[];
}

/** The calling domain as the policy decision sees it. */
export interface PolicyContext {
  ranges: [number | bigint, number | bigint][];
  ownFds: number[];
  cwd?: string;
  /** NUL-terminated strings in domain memory, by address. */
  strings: Record<string, string>;
}

export interface PolicyDecision {
  allowed: boolean;
  errno: number;
  reason: string;
  path: string | null;
}

export interface NativeAddon {
  policy: {
    /** System calls no policy can allow, with the reason. */
    alwaysDenied(): { nr: number; reason: string }[];
    decide(table: Uint8Array, request: SyscallRequest, context: PolicyContext): PolicyDecision;
  };
  probe(): NativeProbe;
  /** The benchmark target's functions behind plain Node-API calls (no isolation). */
  bench: { empty(): number; sum(data: Uint8Array): number };
  selftest: {
    pkruRead(): number;
    pkruRoundTrip(value: number): PkruRoundTrip;
    /** Ends the calling process on success: run it in a child made for it. */
    pkeyFaultProbe(): { faulted: false; value: number };
  };
}

/** The package root: one level above both `src/` and `dist/`. */
export const packageRoot = path.resolve(__dirname, '..');

/** Absolute path of the addon that cmake-js (or node-gyp) builds. */
export const addonPath = path.join(packageRoot, 'build', 'Release', 'keycell.node');

let addon: NativeAddon | undefined;

/** Returns the loaded addon, loading it on first use. */
export function native(): NativeAddon {
  if (addon) return addon;
  if (!fs.existsSync(addonPath)) {
    throw new Error(
      `keycell's native addon is missing at ${addonPath}; ` +
        'build it with `npm run build` (needs cmake and a C++ compiler)',
    );
  }
  const module = { exports: {} as NativeAddon };
  process.dlopen(module, addonPath);
  addon = module.exports;
  return addon;
}
