/** Batches over clips, run as a user runs them: real ffmpeg, the fixture pack, real files. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { mkdir, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { promisify } from 'node:util';
import { findFfmpeg, type FfmpegTools } from '../../src/media/ffmpeg-tools.js';
import { encodePng } from '../../src/media/image.js';
import { probeVideo, readVideo } from '../../src/media/video.js';
import { psnr, ROOT, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

const run = promisify(execFile);
const W = 64;
const H = 48;
const FRAMES = 9;

/** Where frame f's mask box lies (grown by `ring` pixels): 20×16 pixels, moving right by 2 pixels a frame. */
const inBox = (f: number, x: number, y: number, ring = 0) => x >= 10 + 2 * f - ring && x < 30 + 2 * f + ring && y >= 16 - ring && y < 32 + ring;

let tools: FfmpegTools;
let dir: string;
before(async () => {
  tools = await findFfmpeg();
  dir = await tempDir('flowedit-batch-clips-');
  // a 9-frame clip with sound, and a folder of per-frame masks
  await run(tools.ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', `testsrc=size=${W}x${H}:rate=10`, '-f', 'lavfi', '-i', 'sine=frequency=330',
    '-frames:v', String(FRAMES), '-t', '0.9', '-c:v', 'libx264', '-crf', '8', '-pix_fmt', 'yuv420p', '-c:a', 'aac', join(dir, 'clip.mp4')]);
  await mkdir(join(dir, 'masks'));
  for (let f = 0; f < FRAMES; f++) {
    const data = new Float32Array(3 * W * H);
    for (let c = 0; c < 3; c++) for (let y = 0; y < H; y++) for (let x = 0; x < W; x++) data[c * W * H + y * W + x] = inBox(f, x, y) ? 1 : -1;
    await writeFile(join(dir, 'masks', `${String(f + 1).padStart(4, '0')}.png`), await encodePng({ width: W, height: H, data }));
  }
  await writeFile(join(dir, 'still.png'), await encodePng({ width: W, height: H, data: new Float32Array(3 * W * H) }));
});

test('batch edits and swaps clips: MP4 outputs at the source size, rate and frame count, with its sound; the source outside a per-frame mask', { timeout: 300_000 }, async () => {
  const file = join(dir, 'clips.yaml');
  await writeFile(file, [
    'items:',
    '  - id: edited',
    '    input: clip.mp4',
    '    sourcePrompt: a test pattern',
    '    targets: {a: a red test pattern, b: a blue test pattern}',
    '  - id: swapped',
    '    input: clip.mp4',
    '    mask: masks',
    '    preset: swap-object',
    '    maskGrow: 0',
    '    maskFeather: 0',
    '    sourcePrompt: a test pattern',
    '    targets: {star: a yellow star}',
    '',
  ].join('\n'));
  const out = join(dir, 'out');
  const args = ['batch', file, '--out', out, '--model', TINY, '--steps', '2', '--solver', 'euler', '-q'];
  const r = await flowedit(args);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /batch: 2 done, 0 skipped, 0 failed/);
  const made = (await readdir(out)).filter((n) => n.endsWith('.mp4')).sort();
  assert.deepEqual(made, ['edited-a.mp4', 'edited-b.mp4', 'swapped-star.mp4']);
  for (const name of made) {
    const info = await probeVideo(join(out, name), tools);
    assert.deepEqual([info.width, info.height, info.frames, info.rate.num / info.rate.den], [W, H, FRAMES, 10], name);
    assert.ok(info.audioCodecs.length > 0, `${name} keeps the sound`);
  }
  // outside the moving mask the swap is the source, up to re-encoding (an 8-pixel ring, one H.264
  // block, is left out: the encoder smears the changed inside into it)
  const source = await readVideo(join(dir, 'clip.mp4'), { tools });
  const swapped = await readVideo(join(out, 'swapped-star.mp4'), { tools });
  const outside = (frames: typeof source.frames) =>
    frames.flatMap((img, f) => Array.from(img.data).filter((_, i) => !inBox(f, i % W, Math.floor(i / W) % H, 8)));
  const p = psnr(outside(source.frames), outside(swapped.frames));
  assert.ok(p >= 35, `outside the mask ${p.toFixed(1)} dB`);
  // a re-run finds everything done
  const again = await flowedit(args);
  assert.match(again.stdout, /batch: 0 done, 2 skipped, 0 failed/);
});

test('batch refuses, before running, per-frame masks on a still and masks whose frame count differs from the clip\'s', async () => {
  const file = join(dir, 'bad-clips.yaml');
  await mkdir(join(dir, 'short-masks'), { recursive: true });
  for (const n of ['1.png', '2.png']) await writeFile(join(dir, 'short-masks', n), await encodePng({ width: W, height: H, data: new Float32Array(3 * W * H).fill(1) }));
  await writeFile(file, [
    'preset: swap-object',
    'items:',
    '  - {id: still, input: still.png, mask: masks, targets: {x: a star}}',
    '  - {id: short, input: clip.mp4, mask: short-masks, targets: {x: a star}}',
    '',
  ].join('\n'));
  const out = join(dir, 'never');
  const r = await flowedit(['batch', file, '--out', out, '--model', TINY]);
  assertCleanFailure(r, /item 1 \(still\): mask .*masks has a mask per frame, but the input is a still/);
  assert.match(r.stderr, /item 2 \(short\): The mask has 2 frames but the input has 9/);
  assert.equal(await readdir(out).catch(() => null), null, 'nothing was written');
});

test('the sample manifest plans cleanly: stills make PNGs, clips make MP4s', async () => {
  const r = await flowedit(['batch', join(ROOT, 'samples/batch.yaml'), '--out', join(dir, 'sample-plan'), '--print-config']);
  assert.equal(r.code, 0, r.stderr);
  const files = (JSON.parse(r.stdout) as { items: { outputs: { file: string }[] }[] }).items.flatMap((i) => i.outputs.map((o) => o.file));
  assert.ok(files.includes('clip-swap-cyan.mp4') && files.includes('clip-recolor-cyan.mp4') && files.includes('square-red.png'), files.join(', '));
});
