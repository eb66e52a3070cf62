/**
 * The pixel-space recipe (python/train_pixel.py, checked by python/pixel_checks.py with the project's Python
 * environment): flowedit-pixel and its 32×32 pilot build with adaLN-Zero (velocity 0 at initialisation) and a
 * pooled caption; fused attention, used in training only, computes what the exported explicit attention
 * computes; the enlarged-object mix and the object weights are as documented; a few CPU steps log the
 * in-run check and export a pixel-space pack that flowedit loads and generates with.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { readImage } from '../../src/media/image.js';
import { tempDir } from '../paths.js';
import { pythonFindings } from '../python.js';
import { flowedit } from '../cli/run.js';

interface Found {
  configs: Record<string, { tokens: number; zero_velocity: boolean; pooled_dim: number; slim_under_16MiB?: boolean }>;
  fused_max_difference: number;
  mix: { objects: number[]; patterns: string[]; size_range_ok: boolean; share: number[]; weights: number[] };
  train: {
    stages: string[]; check_samples: number[]; check_time_apart: boolean; figures: string[]; format: number; vae: boolean;
    pooled_dim: number; channels: number; files: string[];
  };
  gpu_path: { bf16: boolean; fused_attention: boolean; steps: number };
}

test('the pixel-space recipe builds, trains a few steps with its in-run check, and exports a pack flowedit generates with', { timeout: 120_000 }, async () => {
  const dir = await tempDir();
  const pack = join(dir, 'pack');
  const found = await pythonFindings<Found>('pixel_checks.py', [pack]);
  assert.deepEqual(found.configs['flowedit-pixel'], { tokens: 256, zero_velocity: true, pooled_dim: 128, slim_under_16MiB: true },
    'flowedit-pixel: 256 tokens a 64×64 frame, velocity 0 at initialisation, EMA weights in one file under 16 MiB');
  assert.deepEqual(found.configs['flowedit-pixel-32'], { tokens: 64, zero_velocity: true, pooled_dim: 128 });
  assert.ok(found.fused_max_difference < 1e-5, `fused and explicit attention differ by ${found.fused_max_difference}`);
  assert.deepEqual(found.mix, { objects: [1, 2], patterns: ['gradient', 'plain'], size_range_ok: true, share: [0.4, 0.4, 0.15, 0.15], weights: [1, 5, 5] },
    'enlarged stills: one or two objects up to half-size 0.34 on plain or gradient backgrounds, 40 % of stills then 15 % in the last quarter; weights 1 + λ (λ 4) on the objects grown by one pixel');
  assert.deepEqual(found.train, {
    stages: ['ceiling', 'chance', 'check', 'dit', 'export'], check_samples: [4, 8, 12], check_time_apart: true,
    figures: ['background', 'caption', 'colour', 'shape'], format: 2, vae: false, pooled_dim: 128, channels: 3,
    files: ['manifest.json', 'text_encoder.onnx', 'tokenizer.json', 'transformer.onnx'],
  }, 'a check after every step (batch 4) with the samples seen, its time kept apart; a format 2 pixel-space pack with a pooled caption');
  assert.deepEqual(found.gpu_path, { bf16: true, fused_attention: true, steps: 4 },
    'the GPU run\'s path (bfloat16 autocast, fused attention, scenes rendered in training, clips) trains on the CPU');
  const out = join(dir, 'g.png');
  const r = await flowedit(['generate', '--model', pack, '--prompt', 'a red circle on plain gray', '--steps', '4', '-q', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const img = await readImage(out);
  assert.deepEqual([img.width, img.height], [32, 32], 'the pack\'s own size');
});
