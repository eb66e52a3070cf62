/**
 * A Wan2.1 pack (format 2: per-channel latent normalisation, 4× temporal compression with the
 * first frame alone, cross-attention text padded with zero rows) through the command line on a
 * real 9-frame clip: invert, reconstruct, edit and swap --mask. The pack is the tiny random-weight
 * export of python/flowedit_export (test/fixtures/packs/wan-tiny), so outputs mean nothing; what
 * is checked is that every command runs the pack's contract end to end, keeps the clip's size,
 * rate and frame count, and that swap keeps the source outside the mask.
 */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { cp, readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { findFfmpeg, type FfmpegTools } from '../../src/media/ffmpeg-tools.js';
import { prepareMask, maskFrame, readMask } from '../../src/media/mask.js';
import { probeVideo, readVideo } from '../../src/media/video.js';
import { MEDIA, ROOT, tempDir } from '../paths.js';
import { flowedit as runCli, type Result } from './run.js';

const run = promisify(execFile);
const WAN_TINY = join(ROOT, 'test/fixtures/packs/wan-tiny');

function flowedit(args: string[]): Promise<Result> {
  return runCli([...args, '--model', WAN_TINY]);
}

let tools: FfmpegTools;
let dir: string;
let clip: string;
let maskVideo: string;
before(async () => {
  tools = await findFfmpeg();
  dir = await tempDir('flowedit-wan-cli-');
  // 9 frames (1 + 4·2: three latent frames) of the real clip and its mask, at 112×64 (multiples of 16)
  clip = join(dir, 'clip.mp4');
  maskVideo = join(dir, 'clip-mask.mp4');
  const trim = ['-frames:v', '9', '-vf', 'scale=112:64', '-c:v', 'libx264', '-crf', '10', '-pix_fmt', 'yuv420p'];
  await run(tools.ffmpeg, ['-v', 'error', '-i', join(MEDIA, 'diffueraser-example1-17f.mp4'), ...trim, clip]);
  await run(tools.ffmpeg, ['-v', 'error', '-i', join(MEDIA, 'diffueraser-example1-mask-17f.mp4'), ...trim, maskVideo]);
});

async function assertClip(path: string): Promise<void> {
  const p = await probeVideo(path, tools);
  assert.deepEqual([p.width, p.height, p.rate, p.frames], [112, 64, { num: 15, den: 1 }, 9], path);
}

test('Wan2.1 pack: invert → reconstruct → edit on a 9-frame clip keeps its size, rate and frames', async () => {
  const inv = join(dir, 'clip.flowinv');
  const r1 = await flowedit(['invert', clip, '--source-prompt', 'a man walks on a path', '--steps', '2', '-o', inv]);
  assert.equal(r1.code, 0, r1.stderr);
  const rec = join(dir, 'rec.mp4');
  const r2 = await flowedit(['reconstruct', inv, '-o', rec, '-q']);
  assert.equal(r2.code, 0, r2.stderr);
  await assertClip(rec);
  const edited = join(dir, 'edit.mp4');
  const r3 = await flowedit(['edit', inv, '--target-prompt', 'a woman walks on a path', '-o', edited, '-q']);
  assert.equal(r3.code, 0, r3.stderr);
  await assertClip(edited);
});

test('Wan2.1 pack: --window 5 edits the 9-frame clip in shorter windows; a count the pack does not take is refused before any work', async () => {
  const inv = join(dir, 'windowed.flowinv');
  const r = await flowedit(['invert', clip, '--window', '5', '--steps', '2', '-o', inv]);
  assert.equal(r.code, 0, r.stderr);
  const { readInversion } = await import('../../src/edit/frames/inversion-file.js');
  const windows = (await readInversion(inv)).header.clip!.windows;
  assert.ok(windows.length >= 2 && windows.every((w) => w.padded === 5), JSON.stringify(windows));
  const rec = join(dir, 'windowed.mp4');
  assert.equal((await flowedit(['reconstruct', inv, '-o', rec, '-q'])).code, 0);
  await assertClip(rec);
  const bad = await flowedit(['swap', clip, '--mask', maskVideo, '--target-prompt', 'a robot', '--window', '4', '-o', join(dir, 'never.mp4')]);
  assert.notEqual(bad.code, 0);
  assert.match(bad.stderr, /--window 4: one pass of this pack takes 1, 5, 9 frames/);
});

test('Wan2.1 pack: swap --mask on a 9-frame clip keeps the source outside the mask (≥ 35 dB after re-encoding)', async () => {
  const out = join(dir, 'swap.mp4');
  const r = await flowedit(['swap', clip, '--mask', maskVideo, '--source-prompt', 'a man walks on a path', '--target-prompt', 'a red robot walks on a path', '--steps', '2', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  await assertClip(out);
  const [src, got] = [await readVideo(clip, { tools }), await readVideo(out, { tools })];
  const { width, height } = src.info;
  const applied = prepareMask(await readMask(maskVideo, { tools }), { width, height, frames: src.frames.length }, { grow: 2, feather: 6, invert: false });
  let se = 0;
  let n = 0;
  let changed = 0;
  src.frames.forEach((f, i) => {
    const m = maskFrame(applied, i);
    const plane = width * height;
    for (let j = 0; j < plane; j++) {
      for (let c = 0; c < 3; c++) {
        const d = f.data[c * plane + j]! - got.frames[i]!.data[c * plane + j]!;
        if (m[j] === 0) {
          se += d * d;
          n++;
        } else if (m[j] === 1 && Math.abs(d) > 0.1) changed++;
      }
    }
  });
  const db = 10 * Math.log10(4 / (se / n));
  assert.ok(db >= 35, `PSNR outside the mask ${db.toFixed(1)} dB`);
  assert.ok(changed > 0, 'inside the mask the clip changed');
});

test('Wan2.1 pack: flowedit layers ranks its layers on a folder of own media (stills and a clip) and --write changes only the task defaults of a copy', async () => {
  const pack = join(dir, 'wan-copy');
  await cp(WAN_TINY, pack, { recursive: true });
  const r = await runCli(['layers', '--model', pack, '--task', 'swap', '--calibration', join(ROOT, 'test/fixtures/calibration/own'), '--steps', '4', '--write']);
  assert.equal(r.code, 0, r.stderr);
  const out = r.stdout + r.stderr;
  assert.match(out, /diffueraser-12f\.mp4: clip, frames 1–9 of 12/);
  // Text enters by cross-attention, after the first self-attention: at layer 0 both paths compute
  // the same keys and values from the same x_t, so sharing there cannot move the prediction.
  const rank = (layer: number) => Number(new RegExp(`^\\s+\\d+\\s+${layer}\\s+([0-9.]+)$`, 'm').exec(out)?.[1]);
  assert.equal(rank(0), 0, out);
  assert.ok(rank(1) > 0, out);
  const [before, after] = [JSON.parse(await readFile(join(WAN_TINY, 'manifest.json'), 'utf8')), JSON.parse(await readFile(join(pack, 'manifest.json'), 'utf8'))];
  assert.deepEqual(after.defaults.tasks.swap.shareLayers, [1]);
  delete after.defaults.tasks;
  assert.deepEqual(after, before, 'nothing else changed');
});
