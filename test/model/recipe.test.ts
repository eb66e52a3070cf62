/**
 * The training recipe's decoder growth (python/recipe_checks.py, with Debian's python3-torch):
 * refine blocks added to a trained decoder start as the identity, then train; a checkpoint that
 * does not fit the config is refused; a run holding only the EMA weights resumes from their step
 * and a VAE given no minutes stays as it was; the object-weighted loss weighs the cells an object
 * covers, grown by one, and trains; the caption probe reads the run it leaves.
 */
import assert from 'node:assert/strict';
import { test } from 'node:test';
import { pythonFindings } from '../python.js';

interface Found {
  grew: boolean;
  max_output_change: number;
  refine_weight_after_training: number;
  refused_unfitting: boolean;
  resume: { resumed_at: number | null; step_after: number; vae_kept: boolean };
  object_weights: { probe_step: number; probe_gaps: string[]; light_min: number; heavy_cells: number; heavy_box: number[]; weighted_steps: number };
}

test('a grown VAE decoder keeps its output until trained, an unfitting checkpoint is refused, a run resumes from its EMA weights, and the object-weighted loss trains', { timeout: 300_000 }, async () => {
  const found = await pythonFindings<Found>('recipe_checks.py');
  assert.equal(found.grew, true, 'the old state is reported as grown');
  assert.equal(found.max_output_change, 0, 'the grown decoder decodes exactly as before');
  assert.ok(found.refine_weight_after_training > 0, 'training moves the refine blocks off the identity');
  assert.equal(found.refused_unfitting, true, 'an unfitting checkpoint is refused');
  assert.deepEqual(found.resume, { resumed_at: 3, step_after: 5, vae_kept: true }, 'dit-ema.pt alone resumes at its step; the VAE is kept');
  assert.deepEqual(found.object_weights, { probe_step: 2, probe_gaps: ['colour', 'empty', 'shape'], light_min: 1, heavy_cells: 16, heavy_box: [1, 4, 1, 4], weighted_steps: 2 },
    'an 8-pixel square at pixel 8 covers latent cells 2-3; grown by one cell, cells 1-4 weigh 1 + λ; a weighted run trains; the caption probe reads it');
});
