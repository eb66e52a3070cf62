/**
 * The scene renderer (python/flowedit_scenes, with Debian's python3): its grid rasteriser agrees
 * with the per-point even-odd rule everywhere, it reproduces the committed held-out renders
 * byte for byte, so training and the benchmark draw from the same world, and the batched torch
 * renderer a GPU run trains from draws the same pixels and masks; a close-up (scene.close_up) keeps
 * the object's size in pixels at half the frame size.
 */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import sharp from 'sharp';
import { ROOT, tempDir } from '../paths.js';
import { pythonFindings } from '../python.js';

const CASES = ['still-000', 'still-007', 'clip-003'];

test('the renderer matches the per-point rule, reproduces the committed held-out renders, and the batched renderer matches it', { timeout: 300_000 }, async () => {
  const dir = await tempDir();
  try {
    const found = await pythonFindings<{
      oracle_mismatches: number;
      batch_mismatches: { pixel_values: number; mask_values: number };
      close_up: {
        area_rel_diff: number;
        share_ratio: [number, number];
        captions_agree: boolean;
        two_objects_refused: boolean;
        stream_batch: number[];
        streams_differ: number;
      };
    }>('render_checks.py', [dir, ...CASES]);
    assert.equal(found.oracle_mismatches, 0, 'grid and per-point rasterisers agree at every sample point');
    assert.deepEqual(found.batch_mismatches, { pixel_values: 0, mask_values: 0 },
      'the batched torch renderer draws the same pixels and masks as the numpy renderer (stills, clips, a non-square size)');
    const near = found.close_up;
    assert.ok(near.area_rel_diff < 0.06, `a close-up at half the size keeps the object's area in pixels (largest difference ${near.area_rel_diff})`);
    assert.ok(near.share_ratio[0] > 3.6 && near.share_ratio[1] < 4.4, `a close-up's object covers four times the share of the frame (${near.share_ratio.join(' to ')})`);
    assert.ok(near.captions_agree, 'a close-up keeps its caption');
    assert.ok(near.two_objects_refused, 'close_up refuses a scene of two objects');
    assert.deepEqual(near.stream_batch, [8, 3, 1, 64, 64], 'a close-up batch holds twice the scenes at half the size');
    assert.equal(near.streams_differ, 0, 'the rendering stream and the plans drawn on the training device give the same close-ups');
    for (const id of CASES) {
      for (const suffix of ['', '-edit']) {
        const committed = await sharp(join(ROOT, 'scenes/heldout', `${id}${suffix}.png`)).removeAlpha().raw().toBuffer();
        const rendered = await readFile(join(dir, `${id}${suffix}.rgb`));
        assert.equal(rendered.length, committed.length, `${id}${suffix}: size`);
        assert.ok(rendered.equals(committed), `${id}${suffix}: the render differs from the committed PNG`);
      }
    }
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
});
