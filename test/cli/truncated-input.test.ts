/** Truncated inputs are refused before the pack loads: a pack whose transformer is corrupt proves nothing was loaded. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { MEDIA, SAMPLE, tempDir } from '../paths.js';
import { assertCleanFailure, brokenPack, flowedit } from './run.js';

let dir: string;
let pack: string;
before(async () => {
  dir = await tempDir('flowedit-truncated-');
  // a pack that fails the moment its transformer loads
  pack = await brokenPack(dir);
});

async function cut(from: string, name: string, share: number): Promise<string> {
  const bytes = await readFile(from);
  const path = join(dir, name);
  await writeFile(path, bytes.subarray(0, Math.floor(bytes.length * share)));
  return path;
}

test('a truncated PNG is refused before the pack loads', { timeout: 60_000 }, async () => {
  const png = await cut(SAMPLE, 'cut.png', 0.6);
  for (const args of [['invert', png, '--source-prompt', 'x', '-o', join(dir, 'never.flowinv')], ['edit', png, '--source-prompt', 'x', '--target-prompt', 'y', '-o', join(dir, 'never.png')]]) {
    const r = await flowedit([...args, '--model', pack]);
    assertCleanFailure(r, /cut\.png as an image: its pixels do not decode, so the file is truncated or damaged/);
    assert.doesNotMatch(r.stderr, /transformer\.onnx|onnx/i, 'the pack was never loaded');
  }
});

test('a truncated MP4 is refused before the pack loads', { timeout: 60_000 }, async () => {
  const mp4 = await cut(join(MEDIA, 'diffueraser-example1-17f.mp4'), 'cut.mp4', 0.5);
  const r = await flowedit(['invert', mp4, '--model', pack, '--source-prompt', 'x', '-o', join(dir, 'never.flowinv')]);
  assertCleanFailure(r, /cut\.mp4 as a video .*only \d+ of its 17 frames are in the file; it is truncated or damaged/);
  assert.doesNotMatch(r.stderr, /transformer\.onnx|onnx/i, 'the pack was never loaded');
});
