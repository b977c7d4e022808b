#!/usr/bin/env node
/**
 * The whole test suite, as `npm test` runs it:
 *   1. builds the addon (cmake-js) and the TypeScript, so nothing stale is tested;
 *   2. runs the `native` vitest project on this machine;
 *   3. runs the `pku` project natively when this CPU has protection keys, and
 *      always inside the QEMU guest on Debian's 6.1 and 6.12 kernels.
 * A suite that cannot run counts as failed. The last line sums up every suite.
 * KEYCELL_GUEST_KERNELS (e.g. "6.12") narrows the guest kernels for a local run.
 */
import { spawnSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '..');
const bin = (name) => path.join(root, 'node_modules', '.bin', name);
const results = fs.mkdtempSync(path.join(os.tmpdir(), 'keycell-results-'));

/** Runs a command in the package root with inherited output; returns its exit status. */
function run(command, args, env = {}) {
  const result = spawnSync(command, args, {
    cwd: root,
    stdio: 'inherit',
    env: { ...process.env, ...env },
  });
  if (result.error) throw result.error;
  return result.status ?? 1;
}

function build() {
  const steps = [
    [bin('cmake-js'), ['compile', '--log-level', 'warn']],
    [bin('tsc'), ['-p', 'tsconfig.build.json']],
  ];
  for (const [command, args] of steps) {
    if (run(command, args) !== 0) {
      console.error(
        `keycell tests: build step failed: ${path.basename(command)} ${args.join(' ')}`,
      );
      process.exit(1);
    }
  }
}

function hostHasPku() {
  const probe = spawnSync(
    process.execPath,
    [path.join(root, 'bin', 'keycell.js'), 'doctor', '--json'],
    {
      cwd: root,
      encoding: 'utf8',
    },
  );
  const report = JSON.parse(probe.stdout);
  return report.checks.some((check) => check.id === 'cpu.ospke' && check.ok);
}

function vitestArgs(project, reportFile) {
  return [
    'run',
    '--project',
    project,
    '--reporter=default',
    '--reporter=json',
    `--outputFile.json=${reportFile}`,
  ];
}

/** Reads a vitest JSON report; a missing or unreadable one means the suite did not complete. */
function readReport(name, reportFile, status) {
  let report = null;
  try {
    report = JSON.parse(fs.readFileSync(reportFile, 'utf8'));
  } catch {
    report = null;
  }
  if (!report)
    return {
      name,
      passed: 0,
      failed: 1,
      skipped: 0,
      status,
      note: 'no test report (suite did not run)',
    };
  const failedSuites = report.numFailedTestSuites ?? 0;
  return {
    name,
    passed: report.numPassedTests,
    failed: report.numFailedTests + (report.numFailedTests === 0 ? failedSuites : 0),
    skipped: report.numPendingTests + report.numTodoTests,
    status,
    note: status === 0 ? '' : `exit status ${status}`,
  };
}

build();
const suites = [];

const nativeReport = path.join(results, 'native.json');
suites.push(
  readReport('native', nativeReport, run(bin('vitest'), vitestArgs('native', nativeReport))),
);

if (hostHasPku()) {
  const report = path.join(results, 'pku-host.json');
  suites.push(readReport('pku (this CPU)', report, run(bin('vitest'), vitestArgs('pku', report))));
}

const kernels = (process.env.KEYCELL_GUEST_KERNELS ?? '6.1 6.12').split(/[\s,]+/).filter(Boolean);
for (const kernel of kernels) {
  const report = path.join(results, `pku-${kernel}.json`);
  const status = run(process.execPath, [
    path.join(root, 'bin', 'keycell.js'),
    'guest',
    '--kernel',
    kernel,
    '--share',
    results,
    '--',
    bin('vitest'),
    ...vitestArgs('pku', report),
  ]);
  suites.push(readReport(`pku (guest, Linux ${kernel})`, report, status));
}

console.log('\nkeycell test summary');
for (const suite of suites) {
  const note = suite.note ? `  [${suite.note}]` : '';
  console.log(
    `  ${suite.name.padEnd(26)} ${suite.passed} passed, ${suite.failed} failed, ` +
      `${suite.skipped} skipped${note}`,
  );
}
const total = (key) => suites.reduce((sum, suite) => sum + suite[key], 0);
const failed =
  total('failed') + suites.filter((suite) => suite.status !== 0 && suite.failed === 0).length;
fs.rmSync(results, { recursive: true, force: true });
console.log(`keycell: ${total('passed')} passed, ${failed} failed, ${total('skipped')} skipped`);
process.exitCode = failed === 0 ? 0 : 1;
