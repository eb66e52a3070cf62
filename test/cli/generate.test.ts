/** flowedit generate: stills and clips from a prompt, deterministic in the seed, checked before work. */
import assert from 'node:assert/strict';
import { readFile, readdir, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { generateFrames, checkGenerate } from '../../src/edit/frames/generate.js';
import { readImage } from '../../src/media/image.js';
import { probeVideo } from '../../src/media/video.js';
import { allowedFrameCounts } from '../../src/edit/frames/windows.js';
import { loadPack, readPack } from '../../src/model/pack.js';
import { TINY, TINY_UNCOND, maxAbsDiff, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

test('generate writes a PNG of the pack size; the same seed gives the same bytes, another seed another image', async () => {
  const dir = await tempDir();
  const out = (name: string) => join(dir, name);
  const args = (seed: number, name: string) => ['generate', '--model', TINY, '--prompt', 'a red circle on stripes', '--seed', String(seed), '-q', '-o', out(name)];
  for (const [seed, name] of [[1, 'a.png'], [1, 'b.png'], [2, 'c.png']] as const) {
    const r = await flowedit(args(seed, name));
    assert.equal(r.code, 0, r.stderr);
  }
  const [a, b, c] = await Promise.all(['a.png', 'b.png', 'c.png'].map((n) => readFile(out(n))));
  assert.ok(a!.equals(b!), 'same seed, same bytes');
  assert.ok(!a!.equals(c!), 'another seed, another image');
  const img = await readImage(out('a.png'));
  assert.deepEqual([img.width, img.height], [64, 64]);
});

test('generate --frames writes an MP4 with that many frames at --fps', async () => {
  const dir = await tempDir();
  const out = join(dir, 'clip.mp4');
  const r = await flowedit(['generate', '--model', TINY, '--prompt', 'a blue square', '--frames', '5', '--fps', '12', '-q', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const info = await probeVideo(out);
  assert.equal(info.frames, 5);
  assert.equal(info.rate.num / info.rate.den, 12);
  assert.deepEqual([info.width, info.height], [64, 64]);
});

test('generate refuses bad requests before any model runs, and leaves no output', async () => {
  const dir = await tempDir();
  const cases: [string[], RegExp][] = [
    [['--frames', '40', '-o', join(dir, 'x.mp4')], /at most 9 frames/],
    [['--width', '50', '-o', join(dir, 'x.png')], /--width must be a positive multiple of 8/],
    [['--frames', '5', '-o', join(dir, 'x.png')], /MP4|\.mp4|video/i],
    [['-o', join(dir, 'x.jpg')], /PNG/],
    [['--prompt', 'one two three four five six seven eight nine', '-o', join(dir, 'x.png')], /token|words|long/i],
  ];
  for (const [extra, message] of cases) {
    const r = await flowedit(['generate', '--model', TINY, '--prompt', 'a red circle', ...extra]);
    assertCleanFailure(r, message);
  }
  assertCleanFailure(await flowedit(['generate', '--model', TINY_UNCOND, '--prompt', 'a red circle', '-o', join(dir, 'u.png')]), /unconditional/);
  assert.deepEqual(await readdir(dir), []);
});

test('generateFrames: seeded noise, the requested frame count, and an unconditional pack with no prompt', async () => {
  const pack = await loadPack(TINY);
  try {
    const s = { prompt: 'a red circle', guidance: 2, solver: 'fireflow' as const, steps: 4, seed: 5, width: 32, height: 48, frames: 3 };
    const a = await generateFrames(pack, s);
    const b = await generateFrames(pack, s);
    assert.equal(a.frames.length, 3);
    assert.deepEqual([a.frames[0]!.width, a.frames[0]!.height], [32, 48]);
    assert.equal(maxAbsDiff(a.frames[2]!.data, b.frames[2]!.data), 0);
    assert.equal(a.calls, 5);
    assert.throws(() => checkGenerate(pack, { ...s, frames: 0 }), /positive integer/);
  } finally {
    await pack.release();
  }
  const uncond = await loadPack(TINY_UNCOND);
  try {
    const out = await generateFrames(uncond, { prompt: '', guidance: 1, solver: 'euler', steps: 2, seed: 0, width: 16, height: 16, frames: 1 });
    assert.equal(out.frames.length, 1);
    assert.ok((await stat(TINY_UNCOND)).isDirectory());
  } finally {
    await uncond.release();
  }
});

test('checkGenerate takes the frame counts clips are planned with (allowedFrameCounts)', async () => {
  const info = await readPack(TINY);
  const manifest = { ...info.manifest, frames: { max: 9, step: 2 }, latent: { ...info.manifest.latent, temporalCompression: 4 } };
  const s = { prompt: 'a red circle', guidance: 2, solver: 'fireflow' as const, steps: 4, seed: 5, width: 32, height: 48, frames: 5 };
  for (const frames of allowedFrameCounts(manifest)) assert.doesNotThrow(() => checkGenerate({ manifest }, { ...s, frames }));
  assert.throws(() => checkGenerate({ manifest }, { ...s, frames: 3 }), /takes 5, 9 frames in one pass, got --frames 3/);
  assert.throws(() => checkGenerate({ manifest }, { ...s, frames: 13 }), /at most 9 frames in one pass/);
});
