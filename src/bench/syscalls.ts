/**
 * What a system call costs a sandboxed library: getpid with no mediation at
 * all, then getpid from inside a domain through the runtime and the syscall
 * gate (a domain call, the gate's two PKRU switches, the policy decision and
 * the monitor), and with a raw SYSCALL instruction that Syscall User Dispatch
 * traps (SIGSYS, the monitor, the resume trampoline). Ratios are against the
 * unmediated call.
 */
import { Domain, type Isolation } from '../domain.js';
import { runtimePath } from '../loader/load.js';
import { native } from '../native.js';
import { measure, type MeasureOptions } from './measure.js';
import { benchTargetPath, pkuUnavailableReason, type CallPath } from './paths.js';
import type { SyscallRow } from './report.js';

const DIRECT = 'syscall, direct (no mediation)';
function gateRowName(isolation: Isolation): string {
  return `mediated syscall, gate path (isolation: ${isolation})`;
}

function trappedRowName(isolation: Isolation): string {
  return `mediated syscall, trapped path (isolation: ${isolation})`;
}

/** getpid with a raw SYSCALL instruction in domain code: trapped by Syscall User Dispatch. */
async function trappedPath(isolation: Isolation): Promise<CallPath> {
  const domain = await Domain.create({ isolation, policy: 'no-network' });
  const target = await domain.load(benchTargetPath);
  const getpid = target.func('long keycell_bench_raw_getpid(void)');
  if (getpid() !== process.pid) {
    domain.close();
    throw new Error(`a trapped getpid (isolation ${isolation}) did not return this pid`);
  }
  return {
    name: trappedRowName(isolation),
    kind: 'sync',
    empty: getpid,
    sum: () => 0,
    close: async () => domain.close(),
  };
}

/** getpid through a domain's runtime, under the no-network policy that allows it. */
async function gatePath(isolation: Isolation): Promise<CallPath> {
  const domain = await Domain.create({ isolation, policy: 'no-network' });
  const runtime = await domain.load(runtimePath);
  const getpid = runtime.func('int getpid(void)');
  if (getpid() !== process.pid) {
    domain.close();
    throw new Error(`getpid through the gate (isolation ${isolation}) did not return this pid`);
  }
  return {
    name: gateRowName(isolation),
    kind: 'sync',
    empty: getpid,
    sum: () => 0,
    close: async () => domain.close(),
  };
}

async function time(path: CallPath, options: MeasureOptions): Promise<number> {
  try {
    return (await measure(path, () => path.empty(), options)).medianNs;
  } finally {
    await path.close();
  }
}

/** Measures the syscall rows; rows that cannot run here say why. */
export async function measureSyscalls(options: MeasureOptions): Promise<SyscallRow[]> {
  const { getpid } = native().bench;
  const direct: CallPath = {
    name: DIRECT,
    kind: 'sync',
    empty: getpid,
    sum: () => 0,
    close: async () => {},
  };
  const directNs = await time(direct, options);
  const rows: SyscallRow[] = [{ path: DIRECT, medianNs: directNs, ratio: 1 }];

  const paths = [
    [gateRowName, gatePath],
    [trappedRowName, trappedPath],
  ] as const;
  for (const [rowName, makePath] of paths) {
    for (const isolation of ['none', 'pku'] as const) {
      const unavailable = isolation === 'pku' ? pkuUnavailableReason() : null;
      if (unavailable) {
        rows.push({ path: rowName(isolation), medianNs: null, ratio: null, reason: unavailable });
        continue;
      }
      const ns = await time(await makePath(isolation), options);
      rows.push({ path: rowName(isolation), medianNs: ns, ratio: ns / directNs });
    }
  }
  return rows;
}
