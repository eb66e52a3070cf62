/**
 * The scene renderer (python/flowedit_scenes, with Debian's python3): its grid rasteriser agrees
 * with the per-point even-odd rule everywhere, it reproduces the committed held-out renders
 * byte for byte, so training and the benchmark draw from the same world, and the batched torch
 * renderer a GPU run trains from draws the same pixels and masks.
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
    const found = await pythonFindings<{ oracle_mismatches: number; batch_mismatches: { pixel_values: number; mask_values: number } }>(
      'render_checks.py', [dir, ...CASES]);
    assert.equal(found.oracle_mismatches, 0, 'grid and per-point rasterisers agree at every sample point');
    assert.deepEqual(found.batch_mismatches, { pixel_values: 0, mask_values: 0 },
      'the batched torch renderer draws the same pixels and masks as the numpy renderer (stills, clips, a non-square size)');
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
