/** Masks that select nothing are refused by the command line before any model loads. */
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { before, test } from 'node:test';
import { encodePng } from '../../src/media/image.js';
import { findFfmpeg } from '../../src/media/ffmpeg-tools.js';
import { MEDIA, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, brokenPack, flowedit } from './run.js';

const run = promisify(execFile);

let dir: string;
/** The tiny pack with a transformer that is not ONNX: loading it fails, so only a refusal before the load can pass. */
let broken: string;
before(async () => {
  dir = await tempDir('flowedit-mask-cli-');
  broken = await brokenPack(dir);
});

/** A w × h PNG of one grey level v in [-1, 1]. */
async function flatPng(path: string, v: number, w = 64, h = 64): Promise<string> {
  await writeFile(path, await encodePng({ width: w, height: h, data: new Float32Array(3 * w * h).fill(v) }));
  return path;
}

test('the broken pack fails when it loads (so the refusals below come first)', { timeout: 60_000 }, async () => {
  const mask = join(MEDIA, 'vace-test2-mask.png');
  const r = await flowedit(['swap', SAMPLE, '--mask', mask, '--model', broken, '--target-prompt', 'a blue square', '--steps', '2', '-o', join(dir, 'loaded.png')]);
  assertCleanFailure(r, /Cannot load ONNX graph .*transformer\.onnx/);
});

test('swap refuses an all-black mask, or an all-white one with --invert-mask, before the pack loads', { timeout: 60_000 }, async () => {
  const black = await flatPng(join(dir, 'black.png'), -1);
  const white = await flatPng(join(dir, 'white.png'), 1);
  // the refusal, not the load, must be what stops the command
  const out = join(dir, 'never.png');
  const base = ['swap', SAMPLE, '--model', broken, '--target-prompt', 'a blue square', '--steps', '2', '-o', out];
  assertCleanFailure(await flowedit([...base, '--mask', black]), /the mask covers no pixels: paint the region to edit white/);
  assertCleanFailure(await flowedit([...base, '--mask', white, '--invert-mask']), /the mask covers no pixels: with --invert-mask, paint the region to edit black/);
  assert.deepEqual((await readdir(dir)).filter((f) => f.startsWith('never')), []);
});

test('swap refuses an all-black mask video before the pack loads', { timeout: 60_000 }, async () => {
  const tools = await findFfmpeg();
  const mask = join(dir, 'black-17f.mp4');
  await run(tools.ffmpeg, ['-v', 'error', '-f', 'lavfi', '-i', 'color=black:size=64x48:rate=10', '-frames:v', '17', '-pix_fmt', 'yuv420p', mask]);
  const clip = join(MEDIA, 'diffueraser-example1-17f.mp4');
  const r = await flowedit(['swap', clip, '--mask', mask, '--model', broken, '--target-prompt', 'a blue square', '--steps', '2', '-o', join(dir, 'never.mp4')]);
  assertCleanFailure(r, /the mask covers no pixels: paint the region to edit white/);
});

test('swap with a mask that covers every pixel runs, and says so once', { timeout: 120_000 }, async () => {
  const white = await flatPng(join(dir, 'white-all.png'), 1);
  const out = join(dir, 'all-swapped.png');
  const r = await flowedit(['swap', SAMPLE, '--mask', white, '--model', TINY, '--target-prompt', 'a blue square', '--steps', '2', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr.match(/The mask covers every pixel/g)?.length, 1, r.stderr);
  assert.match(r.stderr, /use `flowedit edit` instead/);
});
