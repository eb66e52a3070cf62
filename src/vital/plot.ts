/**
 * A layer study as a picture: an SVG (written by hand, no dependency) with one bar per shareable
 * layer, its guidance responsiveness on the first calibration set (the chosen set highlighted,
 * further sets as dots), and, after a sweep, what each (k, τ) keeps of the source (background
 * PSNR) and achieves (objects right, or inside PSNR without right answers), k on x, one line per τ.
 */
import type { LayerStudy, Trial } from './study.js';

export interface PlotLabels {
  /** the pack's id, for the title */
  readonly pack: string;
  /** a name per calibration set, e.g. "seed 0" */
  readonly sets: readonly string[];
}

const WIDTH = 760;
const BARS_HEIGHT = 320;
const SWEEP_HEIGHT = 300;
const CHOSEN = '#e0701f';
const OTHER = '#9aa9b8';
const SET_COLOURS = ['#1f4e79', '#2e8b57', '#8b2e6b', '#6b6b2e'];
const TAU_COLOURS = ['#1f77b4', '#d62728', '#2ca02c', '#9467bd', '#8c564b', '#17becf'];

const esc = (s: string): string => s.replace(/[&<>"']/g, (c) => `&#${c.charCodeAt(0)};`);
const n = (v: number): string => String(Number(v.toFixed(3)));

/** About `count` round tick values covering [lo, hi] (steps of 1, 2 or 5 × 10^n). */
export function niceTicks(lo: number, hi: number, count = 5): number[] {
  if (!(hi > lo)) return [lo];
  const raw = (hi - lo) / count;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = ([1, 2, 5, 10].find((m) => m * mag >= raw) ?? 10) * mag;
  const ticks: number[] = [];
  for (let t = Math.ceil(lo / step - 1e-9) * step; t <= hi + step * 1e-9; t += step) ticks.push(Number(t.toPrecision(12)));
  return ticks;
}

/** A plot area: a box in the SVG and the data ranges it maps. */
interface Frame {
  readonly x: number;
  readonly y: number;
  readonly w: number;
  readonly h: number;
  readonly lo: number;
  readonly hi: number;
}

const yOf = (f: Frame, v: number): number => f.y + f.h - ((v - f.lo) / (f.hi - f.lo)) * f.h;

/** The y axis with its ticks (as many decimals as their step needs) and grid lines, and its label. */
function yAxis(f: Frame, label: string): string {
  const ticks = niceTicks(f.lo, f.hi).filter((t) => t >= f.lo && t <= f.hi);
  const step = ticks.length > 1 ? ticks[1]! - ticks[0]! : 1;
  const format = (v: number) => v.toFixed(Math.max(0, Math.min(6, -Math.floor(Math.log10(step) + 1e-9))));
  const parts = ticks.map((t) => {
    const y = yOf(f, t).toFixed(1);
    return `<line x1="${f.x}" x2="${f.x + f.w}" y1="${y}" y2="${y}" stroke="#e4e4e4"/><text x="${f.x - 6}" y="${y}" text-anchor="end" dominant-baseline="middle">${esc(format(t))}</text>`;
  });
  const mid = f.y + f.h / 2;
  parts.push(`<line x1="${f.x}" x2="${f.x}" y1="${f.y}" y2="${f.y + f.h}" stroke="#888"/><line x1="${f.x}" x2="${f.x + f.w}" y1="${f.y + f.h}" y2="${f.y + f.h}" stroke="#888"/>`);
  parts.push(`<text x="${f.x - 44}" y="${mid}" transform="rotate(-90 ${f.x - 44} ${mid})" text-anchor="middle">${esc(label)}</text>`);
  return parts.join('');
}

/** The bar chart: one bar per layer (pack order), the chosen layers highlighted, further sets as dots. */
function barsPanel(s: LayerStudy, labels: PlotLabels, top: number): string {
  const first = s.scores[0]!;
  const all = s.scores.flatMap((sc) => sc.mean).filter(Number.isFinite);
  const f: Frame = { x: 70, y: top + 52, w: WIDTH - 100, h: BARS_HEIGHT - 102, lo: 0, hi: Math.max(...all, 1e-9) * 1.1 };
  const chosen = new Set(s.pick.layers);
  const slot = f.w / first.layers.length;
  const every = Math.max(1, Math.ceil(first.layers.length / 32)); // layer numbers that fit under the axis
  const out = [`<text class="title" x="${WIDTH / 2}" y="${top + 20}" text-anchor="middle">Guidance responsiveness per layer: ${esc(labels.pack)}, ${esc(s.task)} (chosen: ${esc(s.pick.layers.join(', ') || 'none')}, τ ${n(s.pick.fraction)})</text>`];
  out.push(yAxis(f, `R (${labels.sets[0] ?? 'set 1'})`));
  first.layers.forEach((layer, i) => {
    const v = first.mean[i]!;
    const x = f.x + i * slot + slot * 0.15;
    const y = yOf(f, Number.isFinite(v) ? v : 0);
    const pick = chosen.has(layer);
    out.push(
      `<rect class="bar${pick ? ' chosen' : ''}" data-layer="${layer}" data-score="${v}" x="${x.toFixed(1)}" y="${y.toFixed(1)}" width="${(slot * 0.7).toFixed(1)}" height="${(f.y + f.h - y).toFixed(1)}" fill="${pick ? CHOSEN : OTHER}"><title>layer ${layer}: R ${v.toFixed(4)}, rank ${first.ranking.indexOf(layer) + 1}${pick ? ', chosen' : ''}</title></rect>`,
    );
    if (i % every === 0) out.push(`<text x="${(x + slot * 0.35).toFixed(1)}" y="${f.y + f.h + 14}" text-anchor="middle">${layer}</text>`);
  });
  s.scores.slice(1).forEach((sc, j) => {
    sc.layers.forEach((layer, i) => {
      const at = first.layers.indexOf(layer);
      const v = sc.mean[i]!;
      if (at < 0 || !Number.isFinite(v)) return;
      out.push(`<circle class="set-mark" cx="${(f.x + (at + 0.5) * slot).toFixed(1)}" cy="${yOf(f, v).toFixed(1)}" r="3.5" fill="${SET_COLOURS[j % SET_COLOURS.length]}"><title>layer ${layer}: R ${v.toFixed(4)} (${esc(labels.sets[j + 1] ?? `set ${j + 2}`)})</title></circle>`);
    });
  });
  out.push(`<text x="${f.x + f.w / 2}" y="${f.y + f.h + 32}" text-anchor="middle">layer</text>`);
  const legend = [`<rect x="0" y="-9" width="12" height="10" fill="${CHOSEN}"/><text x="16" y="0">chosen</text>`, `<rect x="70" y="-9" width="12" height="10" fill="${OTHER}"/><text x="86" y="0">not chosen</text>`];
  s.scores.slice(1).forEach((_, j) => legend.push(`<circle cx="${186 + j * 90}" cy="-4" r="3.5" fill="${SET_COLOURS[j % SET_COLOURS.length]}"/><text x="${194 + j * 90}" y="0">${esc(labels.sets[j + 1] ?? `set ${j + 2}`)}</text>`));
  out.push(`<g transform="translate(${f.x} ${top + 40})">${legend.join('')}</g>`);
  return out.join('\n');
}

/** One sweep measure against k, one line per τ; the chosen setting ringed when the sweep chose it. */
function sweepPanel(s: LayerStudy, x: number, top: number, w: number, title: string, axis: string, value: (t: Trial) => number | null, format: (v: number) => string, range?: readonly [number, number]): string {
  const points = s.sweep.map((t) => ({ t, v: value(t) })).filter((p): p is { t: Trial; v: number } => p.v !== null && Number.isFinite(p.v));
  const ks = [...new Set(s.sweep.map((t) => t.k))].sort((a, b) => a - b);
  const vs = points.map((p) => p.v);
  const [lo0, hi0] = vs.length ? [Math.min(...vs), Math.max(...vs)] : [0, 1];
  const pad = (hi0 - lo0) * 0.1 || Math.max(Math.abs(hi0) * 0.05, 0.5);
  const f: Frame = { x: x + 60, y: top + 52, w: w - 80, h: SWEEP_HEIGHT - 112, lo: range?.[0] ?? lo0 - pad, hi: range?.[1] ?? hi0 + pad };
  const xOf = (k: number) => f.x + (ks.length === 1 ? f.w / 2 : (ks.indexOf(k) / (ks.length - 1)) * f.w);
  const out = [`<text class="title" x="${x + w / 2}" y="${top + 20}" text-anchor="middle">${esc(title)}</text>`, yAxis(f, axis)];
  for (const k of ks) out.push(`<text x="${xOf(k).toFixed(1)}" y="${f.y + f.h + 14}" text-anchor="middle">${k}</text>`);
  out.push(`<text x="${f.x + f.w / 2}" y="${f.y + f.h + 32}" text-anchor="middle">k (top layers shared)</text>`);
  const taus = [...new Set(s.sweep.map((t) => t.fraction))].sort((a, b) => a - b);
  taus.forEach((tau, i) => {
    const colour = TAU_COLOURS[i % TAU_COLOURS.length]!;
    const line = points.filter((p) => p.t.fraction === tau).sort((a, b) => a.t.k - b.t.k);
    const xy = line.map((p) => `${xOf(p.t.k).toFixed(1)},${yOf(f, p.v).toFixed(1)}`);
    if (xy.length > 1) out.push(`<polyline class="sweep-line" data-tau="${tau}" points="${xy.join(' ')}" fill="none" stroke="${colour}" stroke-width="2"/>`);
    for (const p of line) {
      out.push(`<circle cx="${xOf(p.t.k).toFixed(1)}" cy="${yOf(f, p.v).toFixed(1)}" r="3" fill="${colour}"><title>k ${p.t.k}, τ ${n(tau)}: ${esc(format(p.v))}</title></circle>`);
    }
    out.push(`<g transform="translate(${f.x + i * 64} ${top + 40})"><line x1="0" x2="14" y1="-4" y2="-4" stroke="${colour}" stroke-width="2"/><text x="18" y="0">τ ${n(tau)}</text></g>`);
  });
  const pick = s.pickedBy === 'sweep' ? points.find((p) => p.t === s.pick) : undefined;
  if (pick) out.push(`<circle class="pick" cx="${xOf(pick.t.k).toFixed(1)}" cy="${yOf(f, pick.v).toFixed(1)}" r="8" fill="none" stroke="#000" stroke-width="1.5"><title>chosen: k ${pick.t.k}, τ ${n(pick.t.fraction)}</title></circle>`);
  return out.join('\n');
}

/** The study as an SVG document: the layer bars, and the sweep's two panels when there was a sweep. */
export function layersPlotSvg(s: LayerStudy, labels: PlotLabels): string {
  const parts = [barsPanel(s, labels, 0)];
  let height = BARS_HEIGHT;
  if (s.sweep.length > 0) {
    const half = WIDTH / 2;
    parts.push(sweepPanel(s, 0, height, half, 'What the sweep keeps of the source', 'background PSNR (dB)', (t) => t.score.psnrBackground, (v) => v.toFixed(1)));
    parts.push(
      s.answers
        ? sweepPanel(s, half, height, half, 'What it achieves: objects right', 'objects right (%)', (t) => (t.score.right === null ? null : t.score.right * 100), (v) => `${v.toFixed(0)} %`, [0, 100])
        : sweepPanel(s, half, height, half, 'What it changes inside the mask (no answers)', 'inside PSNR (dB)', (t) => t.score.psnrInside, (v) => v.toFixed(1)),
    );
    height += SWEEP_HEIGHT;
  }
  return [
    `<?xml version="1.0" encoding="UTF-8"?>`,
    `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${height}" viewBox="0 0 ${WIDTH} ${height}" font-family="DejaVu Sans, Liberation Sans, Arial, sans-serif" font-size="11" fill="#222">`,
    `<rect width="${WIDTH}" height="${height}" fill="#fff"/>`,
    `<style>.title { font-size: 13px; font-weight: bold; }</style>`,
    ...parts,
    '</svg>',
    '',
  ].join('\n');
}

/** The plot is an SVG: its file name must say so. */
export function assertSvgName(path: string): void {
  if (!/\.svg$/i.test(path)) throw new Error(`--plot writes an SVG image: name it ${path.replace(/\.[^./]*$/, '')}.svg`);
}
