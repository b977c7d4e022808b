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

/** A way a domain's getpid reaches the kernel: the library and function that make it. */
interface MediatedPath {
  kind: 'gate' | 'trapped';
  library: string;
  signature: string;
}

const MEDIATED: MediatedPath[] = [
  // Through the runtime's getpid, which calls the syscall gate.
  { kind: 'gate', library: runtimePath, signature: 'int getpid(void)' },
  // A raw SYSCALL instruction in domain code, trapped by Syscall User Dispatch.
  { kind: 'trapped', library: benchTargetPath, signature: 'long keycell_bench_raw_getpid(void)' },
];

function rowName(path: MediatedPath, isolation: Isolation): string {
  return `mediated syscall, ${path.kind} path (isolation: ${isolation})`;
}

/** Opens a no-network domain (its policy allows getpid) and checks the path answers this pid. */
async function mediatedPath(path: MediatedPath, isolation: Isolation): Promise<CallPath> {
  const domain = await Domain.create({ isolation, policy: 'no-network' });
  const getpid = (await domain.load(path.library)).func(path.signature);
  if (getpid() !== process.pid) {
    domain.close();
    throw new Error(`getpid by the ${path.kind} path (isolation ${isolation}) gave another pid`);
  }
  return {
    name: rowName(path, isolation),
    kind: 'sync',
    empty: getpid,
    sum: () => 0,
    close: async () => domain.close(),
  };
}

async function time(path: CallPath, options: MeasureOptions): Promise<number> {
  try {
    return (await measure(path, path.empty, undefined, options)).medianNs;
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

  for (const path of MEDIATED) {
    for (const isolation of ['none', 'pku'] as const) {
      const name = rowName(path, isolation);
      const unavailable = isolation === 'pku' ? pkuUnavailableReason() : null;
      if (unavailable) {
        rows.push({ path: name, medianNs: null, ratio: null, reason: unavailable });
        continue;
      }
      const ns = await time(await mediatedPath(path, isolation), options);
      rows.push({ path: name, medianNs: ns, ratio: ns / directNs });
    }
  }
  return rows;
}
