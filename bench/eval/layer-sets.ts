/**
 * Edit quality with the pack's measured layer sets (flowedit layers --write) next to every layer
 * sharing and no sharing at all, for the text edit and the masked swap, on the held-out stills and
 * the first clips. Each variant runs the same measure as its section (sections.ts, swap.ts); only
 * the layer set or the sharing range differs:
 *   measured   the pack's defaults for the task;
 *   all layers every context layer shares, for the task's τ;
 *   no sharing τ = 0: the edit path never sees the reconstruction path's keys/values.
 */
import type { SettingOptions } from '../../src/edit/frames/settings.js';
import { textEdit, type Context } from './sections.js';
import { swap } from './swap.js';
import type { Row } from './table.js';

const KEEP = new Set(['share target object right', 'share new object right', 'PSNR vs ground truth', 'PSNR background vs source']);

export async function layerSets(ctx: Context, clips: number): Promise<Row[]> {
  const sub: Context = { ...ctx, clips: ctx.clips.slice(0, clips) };
  const variants: [string, SettingOptions][] = [
    ['measured', {}],
    ['all layers', { shareLayers: ctx.pack.transformer.contextLayers }],
    ['no sharing', { shareSteps: 0 }],
  ];
  const rows: Row[] = [];
  for (const [name, o] of variants) {
    const relabel = (task: string) => (r: Row): Row => ({ ...r, section: `layer sets: ${task}`, setting: `${name}: ${r.setting}`, target: undefined, met: undefined });
    rows.push(...(await textEdit({ ...sub, edit: { ...ctx.edit, ...o } })).filter((r) => KEEP.has(r.metric)).map(relabel('text edit')));
    rows.push(...(await swap({ ...sub, swap: o }, { negative: false })).filter((r) => KEEP.has(r.metric)).map(relabel('swap')));
  }
  return rows;
}
