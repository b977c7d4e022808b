/**
 * What a system call costs a sandboxed library: getpid with no mediation at
 * all, then getpid from inside a domain through the runtime and the syscall
 * gate (a domain call, the gate's two PKRU switches, the policy decision and
 * the monitor). Ratios are against the unmediated call.
 */
import { Domain, type Isolation } from '../domain.js';
import { runtimePath } from '../loader/load.js';
import { native } from '../native.js';
import { measure, type MeasureOptions } from './measure.js';
import { pkuUnavailableReason, type CallPath } from './paths.js';
import type { SyscallRow } from './report.js';

const DIRECT = 'syscall, direct (no mediation)';
const TRAPPED = 'mediated syscall, trapped path';
// TODO(keycell): time the trapped path once raw syscalls are mediated by Syscall User Dispatch.
const NO_TRAPPING = 'raw syscall instructions are not trapped yet (Syscall User Dispatch)';

function gateRowName(isolation: Isolation): string {
  return `mediated syscall, gate path (isolation: ${isolation})`;
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

  for (const isolation of ['none', 'pku'] as const) {
    const unavailable = isolation === 'pku' ? pkuUnavailableReason() : null;
    if (unavailable) {
      rows.push({ path: gateRowName(isolation), medianNs: null, ratio: null, reason: unavailable });
      continue;
    }
    const ns = await time(await gatePath(isolation), options);
    rows.push({ path: gateRowName(isolation), medianNs: ns, ratio: ns / directNs });
  }
  rows.push({ path: TRAPPED, medianNs: null, ratio: null, reason: NO_TRAPPING });
  return rows;
}
