import assert from 'node:assert/strict';
import { after, before, test } from 'node:test';
import { scheduleFor, shiftFor } from '../../src/edit/latent/schedule.js';
import { loadPack, type LoadedPack } from '../../src/model/pack.js';
import { TINY } from '../paths.js';

let tiny: LoadedPack;
before(async () => {
  tiny = await loadPack(TINY, { threads: 1 });
});
after(async () => {
  await tiny.release();
});

test('a static shift is taken as declared', () => {
  assert.equal(shiftFor(tiny, [1, 4, 1, 32, 32]), 1);
  assert.deepEqual(scheduleFor(tiny, [1, 4, 1, 32, 32], 4), [1, 0.75, 0.5, 0.25, 0]);
});

test('a resolution-dependent shift grows with the number of image tokens (FLUX convention)', () => {
  const shift = { kind: 'resolution', baseShift: 0.5, maxShift: 1.15, baseTokens: 256, maxTokens: 4096 } as const;
  const pack = { ...tiny, manifest: { ...tiny.manifest, schedule: { shift } } } as LoadedPack;
  // 32×32 latent, patch 2×2: 256 image tokens → μ = baseShift; 128×128 latent: 4096 tokens → μ = maxShift.
  assert.ok(Math.abs(shiftFor(pack, [1, 4, 1, 32, 32]) - Math.exp(0.5)) < 1e-12);
  assert.ok(Math.abs(shiftFor(pack, [1, 4, 1, 128, 128]) - Math.exp(1.15)) < 1e-12);
  const small = scheduleFor(pack, [1, 4, 1, 32, 32], 4);
  const large = scheduleFor(pack, [1, 4, 1, 128, 128], 4);
  assert.ok(large[2]! > small[2]! && small[2]! > 0.5, 'shift pushes the middle of the schedule toward noise');
});
