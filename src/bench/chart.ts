/**
 * The chart `keycell bench --svg` writes: one row per call path, a bar each
 * for the empty call and the 64-byte buffer call, on a log scale (the paths
 * span four orders of magnitude), labelled with the median and its ratio to
 * the plain N-API call. Observable Plot draws it; linkedom stands in for the
 * browser's DOM, so no browser is needed.
 */
import { formatDuration, formatRatio, type CallRow } from './report.js';

/** One bar of the chart, or one "not measured" note in place of a path's bars. */
interface Mark {
  path: string;
  call: string;
  ns: number | null;
  label: string;
}

/** Where bars start: below every call the chart can show, and a round power of ten. */
const FLOOR_NS = 1;

/** Labels a power-of-ten tick ("10 ns", "1 us"), keeping no needless digits. */
function tickLabel(ns: number): string {
  if (ns < 1000) return `${ns} ns`;
  if (ns < 1e6) return `${ns / 1000} us`;
  return `${ns / 1e6} ms`;
}

/** The chart's marks: two bars per measured path, one note per path that was not. */
function marksOf(rows: readonly CallRow[]): Mark[] {
  return rows.flatMap((row): Mark[] => {
    if (row.emptyNs === null || row.buffer64Ns === null) {
      const label = `not measured: ${row.reason}`;
      return [{ path: row.path, call: 'empty call', ns: null, label }];
    }
    const bar = (call: string, ns: number, ratio: number | null): Mark => ({
      path: row.path,
      call,
      ns,
      label: `${call} ${formatDuration(ns)}${ratio === null ? '' : ` (${formatRatio(ratio)})`}`,
    });
    return [
      bar('empty call', row.emptyNs, row.emptyRatio),
      bar('64-byte buffer', row.buffer64Ns, row.buffer64Ratio),
    ];
  });
}

/** Returns the chart of the call rows as a standalone SVG document. */
export async function callChart(rows: readonly CallRow[]): Promise<string> {
  const Plot = await import('@observablehq/plot');
  const { parseHTML } = await import('linkedom');
  const { document } = parseHTML('<!DOCTYPE html><html><body></body></html>');

  const marks = marksOf(rows);
  const measured = marks.filter((mark) => mark.ns !== null);
  const largest = Math.max(...measured.map((mark) => mark.ns!));
  // Two decades past the longest bar leave room for its label.
  const top = 10 ** Math.ceil(Math.log10(largest * 100));
  const ticks = Array.from({ length: Math.log10(top) + 1 }, (_, power) => 10 ** power);
  const svg = Plot.plot({
    document,
    width: 880,
    marginLeft: 210,
    marginRight: 20,
    style: { background: 'white', fontSize: '11px' },
    x: {
      type: 'log',
      domain: [FLOOR_NS, top],
      ticks,
      tickFormat: tickLabel,
      label: 'median time per call, log scale; (Nx) = ratio to the plain N-API call',
      grid: true,
    },
    fy: { domain: rows.map((row) => row.path), label: null },
    y: { domain: ['empty call', '64-byte buffer'], axis: null },
    color: { domain: ['empty call', '64-byte buffer'], range: ['#4269d0', '#efb118'] },
    marks: [
      Plot.barX(measured, { fy: 'path', y: 'call', x1: FLOOR_NS, x2: 'ns', fill: 'call' }),
      Plot.text(measured, {
        fy: 'path',
        y: 'call',
        x: 'ns',
        text: 'label',
        textAnchor: 'start',
        dx: 4,
      }),
      Plot.text(
        marks.filter((mark) => mark.ns === null),
        { fy: 'path', x: FLOOR_NS, text: 'label', textAnchor: 'start', dx: 4, fill: '#666' },
      ),
    ],
  });
  return `<?xml version="1.0" encoding="UTF-8"?>\n${svg.outerHTML}\n`;
}
