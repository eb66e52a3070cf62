/**
 * Masked swap on the held-out scenes: the mask is what a user would draw, the union of the
 * edited object in the source and in the ground truth (per frame); the settings are the pack's
 * swap defaults. Outside the applied mask (coverage exactly 0) the output is compared with the
 * source before any encoding; inside, the new object with the ground truth (metrics.ts).
 */
import { maskFrame } from '../../src/media/mask.js';
import { swapFrames, swapSettings } from '../../src/index.js';
import { binary, clipPsnr, union } from '../../src/world/metrics.js';
import { droppedRow, rightByKind, scoreEdit, type Context } from './sections.js';
import type { Row } from './table.js';

const mean = (xs: readonly number[]) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : NaN);
const share = (xs: readonly boolean[]) => (xs.length ? xs.filter(Boolean).length / xs.length : NaN);

/**
 * The source caption with the edited object's words taken out ("a red circle and a blue star on
 * gray dots" without the red circle: "a blue star on gray dots"), what a user would write as the
 * negative prompt of a swap: the scene without what the mask covers. Objects are joined by " and "
 * and followed by the background's " on …" (scenes/world.json's grammar); no two objects of a scene
 * share a colour, so the colour and shape name the one phrase.
 */
export function captionWithout(caption: string, o: { readonly colour: string; readonly shape: string }): string {
  const cut = caption.indexOf(' on ');
  if (cut < 0) throw new Error(`Caption "${caption}" has no background phrase (" on …")`);
  const phrases = caption.slice(0, cut).split(' and ');
  const kept = phrases.filter((p) => !p.endsWith(` ${o.colour} ${o.shape}`));
  if (kept.length !== phrases.length - 1) throw new Error(`Caption "${caption}" does not name one ${o.colour} ${o.shape}`);
  return [kept.join(' and '), caption.slice(cut + 1)].filter((p) => p !== '').join(' ');
}

/** One swap setting's rows: the default, or with the negative prompt captionWithout gives. */
async function swapRows(ctx: Context, withNegative: boolean): Promise<Row[]> {
  const run = async (lc: Context['stills'][number]) => {
    const [width, height] = lc.size;
    const frames = lc.source.map((_, f) => Float32Array.from(union(binary(lc.sourceMask[f]!), binary(lc.truthMask[f]!))));
    const negative = withNegative ? { negativePrompt: captionWithout(lc.caption, lc.objects[lc.edit.object]!) } : {};
    const s = swapSettings(ctx.pack.manifest, { sourcePrompt: lc.caption, targetPrompt: lc.targetCaption, ...negative }, ctx.swap ?? {});
    const out = await swapFrames(ctx.pack, lc.source, { width, height, frames }, s);
    const outside = out.frames.map((_, f) => Uint8Array.from(maskFrame(out.mask, f), (v) => (v === 0 ? 1 : 0)));
    return { ...scoreEdit(ctx, lc, out.frames), outside: clipPsnr(out.frames, lc.source, outside) };
  };
  const s = [];
  for (const lc of ctx.stills) s.push(await run(lc));
  const c = [];
  for (const lc of ctx.clips) c.push(await run(lc));
  const st = swapSettings(ctx.pack.manifest, { targetPrompt: '' }, ctx.swap ?? {});
  const against = withNegative ? 'negative prompt: the source caption without the object' : `guided against ${st.guideAgainst === 'source' ? 'the source prompt' : 'the empty prompt'}`;
  const setting = `${st.solver}, ${st.steps} steps, guidance ${st.guidance}, ${against}, layers ${st.share.layers.join(',')}, τ ${st.share.fraction}, grow ${st.mask.grow}, feather ${st.mask.feather}`;
  const section = withNegative ? 'swap (mask), negative prompt' : 'swap (mask)';
  const n: [number, number] = [s.length, c.length];
  const centred = c.map((r) => r.centreError).filter((e) => !Number.isNaN(e));
  const placed = c.map((r) => r.placedCentreError).filter((e) => !Number.isNaN(e));
  const rows: Row[] = [
    { section, setting, metric: 'PSNR outside mask vs source', stills: mean(s.map((r) => r.outside)), clips: mean(c.map((r) => r.outside)), n, target: '≥ 40', met: mean(s.map((r) => r.outside)) >= 40 && mean(c.map((r) => r.outside)) >= 40 },
    { section, setting, metric: 'share new object right', stills: share(s.map((r) => r.right)), clips: share(c.map((r) => r.right)), n, target: '≥ 85% / ≥ 75%', met: share(s.map((r) => r.right)) >= 0.85 && share(c.map((r) => r.right)) >= 0.75 },
    ...rightByKind(ctx, section, setting, 'share new object right', s, c),
    { section, setting, metric: 'share new colour in place (shape not judged)', stills: share(s.map((r) => r.placed)), clips: share(c.map((r) => r.placed)), n },
    droppedRow(section, setting, s, c),
    { section, setting, metric: 'PSNR vs ground truth', stills: mean(s.map((r) => r.psnrTruth)), clips: mean(c.map((r) => r.psnrTruth)), n },
  ];
  // the targets are the defaults' to meet; the negative prompt's rows are for comparison
  if (withNegative) return rows.map((r) => ({ ...r, target: undefined, met: undefined }));
  return [
    ...rows,
    // over the clips whose new object is right in every frame (n counts those)
    { section, setting, metric: 'centre error px (right clips, mean over frames)', stills: null, clips: mean(centred), n: [0, centred.length], target: '≤ 2 px', met: centred.length > 0 && mean(centred) <= 2 },
    // diagnostic: the same over the clips whose new colour is in place in every frame, shape not judged
    { section, setting, metric: 'centre error px (colour-in-place clips, mean over frames)', stills: null, clips: mean(placed), n: [0, placed.length] },
  ];
}

/**
 * The swap with the pack's defaults (its targets), then the same swaps steering away from the
 * scene without the object (`--negative-prompt`), for comparison.
 */
export async function swap(ctx: Context, o: { readonly negative?: boolean } = {}): Promise<Row[]> {
  const rows = await swapRows(ctx, false);
  return o.negative === false ? rows : [...rows, ...(await swapRows(ctx, true))];
}
