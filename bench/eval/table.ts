/** The benchmark's result rows, printed as one table and written as JSON. */

export interface Row {
  readonly section: string;
  readonly setting: string;
  readonly metric: string;
  readonly stills: number | null;
  readonly clips: number | null;
  /** cases measured: [stills, clips] */
  readonly n: readonly [number, number];
  /** the target as text, e.g. "≥ 32 / ≥ 30" */
  readonly target?: string;
  /** whether the target is met (null when there is none) */
  readonly met?: boolean | null;
}

/** PSNR above this is an exact match (the MSE floor of 1e-12 gives 126 dB). */
const EXACT_DB = 100;

const fmt = (v: number | null, unit: string) =>
  v === null || Number.isNaN(v)
    ? '—'
    : unit === '%'
      ? `${(100 * v).toFixed(0)}%`
      : unit === 's'
        ? `${v.toFixed(2)} s`
        : unit === 'dB' && v > EXACT_DB
          ? 'exact'
          : v.toFixed(2);

export function unitOf(metric: string): string {
  return metric.includes('share') ? '%' : metric.includes('time') ? 's' : metric.includes('px') ? 'px' : 'dB';
}

export function formatTable(rows: readonly Row[]): string {
  const head = ['section', 'setting', 'metric', 'stills', 'clips', 'n (s/c)', 'target', 'met'];
  const body = rows.map((r) => {
    const u = unitOf(r.metric);
    return [r.section, r.setting, r.metric, fmt(r.stills, u), fmt(r.clips, u), `${r.n[0]}/${r.n[1]}`, r.target ?? '', r.met === undefined || r.met === null ? '' : r.met ? 'yes' : 'NO'];
  });
  const widths = head.map((h, i) => Math.max(h.length, ...body.map((b) => b[i]!.length)));
  const line = (cells: readonly string[]) => cells.map((c, i) => c.padEnd(widths[i]!)).join('  ').trimEnd();
  return [line(head), line(widths.map((w) => '-'.repeat(w))), ...body.map(line)].join('\n');
}
