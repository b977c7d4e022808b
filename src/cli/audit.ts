/**
 * `keycell audit [--json]`: audit this very process (node with keycell's
 * addon loaded) for PKRU-writing sites. Exit status 0 when every site is a
 * verified gate, 1 when gadgets exist (they do on stock glibc and node).
 */
import type { Command } from 'commander';

import { native } from '../native.js';
import { auditProcess, formatFinding, type AuditReport } from '../scanner/index.js';

export function registerAudit(program: Command): void {
  program
    .command('audit')
    .description(
      'search every executable mapping of this node process for PKRU- and base-writing code',
    )
    .option('--json', 'print the report as JSON')
    .action(async (options: { json?: boolean }) => {
      try {
        native(); // audit the process as keycell runs it: with its own gates mapped
      } catch (error) {
        process.stderr.write(
          `keycell audit: warning: ${(error as Error).message}; auditing without it\n`,
        );
      }
      const report = await auditProcess();
      process.stdout.write(
        `${options.json ? JSON.stringify(report, null, 2) : formatAudit(report)}\n`,
      );
      process.exitCode = report.sites.some((site) => site.verdict === 'gadget') ? 1 : 0;
    });
}

/** Formats an audit for a terminal: gadgets first, then verified gates. */
export function formatAudit(report: AuditReport): string {
  const lines = [
    `keycell audit: process ${report.pid}, ${report.mappings} executable mappings, ` +
      `${(report.bytes / 1e6).toFixed(1)} MB searched in ${report.milliseconds.toFixed(0)} ms`,
  ];
  const sorted = [...report.sites].sort((a, b) =>
    a.verdict === b.verdict ? 0 : a.verdict === 'gadget' ? -1 : 1,
  );
  for (const site of sorted) {
    lines.push(
      `${site.verdict === 'gate' ? 'verified gate' : 'GADGET'} in ${site.finding.file}: ` +
        site.reason,
    );
    lines.push(formatFinding(site.finding));
  }
  for (const skipped of report.unreadable) {
    lines.push(`not searched: ${skipped.mapping}: ${skipped.reason}`);
  }
  const gadgets = report.sites.filter((site) => site.verdict === 'gadget').length;
  const gates = report.sites.length - gadgets;
  lines.push(
    `${gadgets} gadget${gadgets === 1 ? '' : 's'}, ` +
      `${gates} verified gate${gates === 1 ? '' : 's'}`,
  );
  return lines.join('\n');
}
