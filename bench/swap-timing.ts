/**
 * Wall time of `swap` through the library (decode and encode excluded, model load separate):
 * a still and a 17-frame clip at the pack's default size, and optionally a real clip with its
 * mask. Usage: node dist/bench/swap-timing.js [--model <pack>] [--steps N] [--clip file --mask file]
 * Prints figures; asserts nothing (timings on shared machines are noisy).
 */
import { fileURLToPath } from 'node:url';
import { parseArgs } from 'node:util';
import { swapClip, swapImage, swapSettings, type SwapSettings } from '../src/edit/frames/swap-jobs.js';
import { readImage, resizeImage } from '../src/media/image.js';
import { readMask } from '../src/media/mask.js';
import { readVideo } from '../src/media/video.js';
import { builtinPackDir } from '../src/model/builtin.js';
import { loadPack } from '../src/model/pack.js';

const { values } = parseArgs({
  options: { model: { type: 'string' }, steps: { type: 'string' }, clip: { type: 'string' }, mask: { type: 'string' }, frames: { type: 'string' } },
});
const packDir = values.model ?? builtinPackDir();
/** This script runs as dist/bench/swap-timing.js. */
const SAMPLE = fileURLToPath(new URL('../../samples/red-circle-on-stripes.png', import.meta.url));
const MASK = fileURLToPath(new URL('../../samples/red-circle-mask.png', import.meta.url));

const t0 = performance.now();
const pack = await loadPack(packDir);
const load = performance.now() - t0;
const settings: SwapSettings = swapSettings(
  pack.manifest,
  { sourcePrompt: 'a red circle on stripes', targetPrompt: 'a blue square on stripes' },
  { steps: values.steps ? Number(values.steps) : undefined, mask: { grow: 2, feather: 6 } },
);
const [w, h] = pack.manifest.image.defaultSize ?? [64, 64];
const still = await resizeImage(await readImage(SAMPLE), w, h);
const mask = await readMask(MASK);
const time = async (label: string, fn: () => Promise<{ calls: number }>) => {
  const t = performance.now();
  const { calls } = await fn();
  console.log(`  ${label.padEnd(44)} ${((performance.now() - t) / 1000).toFixed(2)} s (${calls} model calls)`);
};
console.log(`pack ${pack.manifest.id} (${packDir}), steps ${settings.steps}, solver ${settings.solver}, load ${(load / 1000).toFixed(2)} s`);
await time(`still ${w}×${h}`, () => swapImage(pack, still, mask, settings));
// A 17-frame clip: the still drifting one pixel a frame.
const frames = Array.from({ length: 17 }, (_, f) => {
  const data = new Float32Array(still.data.length);
  const plane = w * h;
  for (let c = 0; c < 3; c++) for (let y = 0; y < h; y++) for (let x = 0; x < w; x++) data[c * plane + y * w + x] = still.data[c * plane + y * w + Math.min(w - 1, Math.max(0, x - f))]!;
  return { width: w, height: h, data };
});
await time(`clip 17 frames ${w}×${h}`, () => swapClip(pack, { frames, rate: { num: 15, den: 1 } }, mask, settings));
if (values.clip && values.mask) {
  const clip = await readVideo(values.clip);
  const n = values.frames ? Number(values.frames) : clip.frames.length;
  const m = await readMask(values.mask);
  const cut = { frames: clip.frames.slice(0, n), rate: clip.rate };
  const mk = m.frames.length === 1 ? m : { ...m, frames: m.frames.slice(0, n) };
  await time(`${values.clip.split('/').pop()} ${n} frames ${clip.info.width}×${clip.info.height}`, () => swapClip(pack, cut, mk, settings));
}
await pack.release();
