/**
 * The benchmark's VAE section on the built-in pack: PSNR, the edited object's share and the share
 * of all caption objects still right, the last counted over every object of the scenes measured.
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { test } from 'node:test';
import { heldoutDir, loadCase, readIndex } from '../../bench/eval/dataset.js';
import { vaeRoundTrip } from '../../bench/eval/sections.js';
import { loadPack } from '../../src/model/pack.js';
import { loadWorld } from '../../src/world/world.js';
import { ROOT } from '../paths.js';

test('the VAE section judges every caption object of the sources after encode → decode', { timeout: 120_000 }, async () => {
  const pack = await loadPack(join(ROOT, 'models/flowedit-tiny'));
  try {
    const dir = heldoutDir(ROOT);
    const index = readIndex(dir);
    const stills = await Promise.all(index.filter((c) => c.kind === 'still').slice(0, 4).map((c) => loadCase(dir, c)));
    const clips = await Promise.all(index.filter((c) => c.kind === 'clip').slice(0, 1).map((c) => loadCase(dir, c)));
    const rows = await vaeRoundTrip({ pack, world: loadWorld(ROOT), stills, clips, log: () => {} });
    assert.deepEqual(rows.map((r) => r.metric), ['PSNR', 'share source object still right', 'share of all caption objects still right']);
    const objects = rows[2]!;
    const counts = [stills, clips].map((cs) => cs.reduce((n, c) => n + c.objects.length, 0));
    assert.deepEqual(objects.n, counts, 'counted over every caption object, not per scene');
    assert.ok(counts[0]! > stills.length, 'the stills measured hold more objects than scenes');
    for (const [share, n] of [[objects.stills ?? NaN, counts[0]!], [objects.clips ?? NaN, counts[1]!]] as const) {
      assert.ok(share >= 0 && share <= 1 && Math.abs(share * n - Math.round(share * n)) < 1e-9, `share ${share} of ${n} objects`);
    }
    const psnr = rows[0]!.stills ?? NaN;
    assert.ok(psnr > 25, `the built-in VAE's round trip: ${psnr.toFixed(2)} dB`);
  } finally {
    await pack.release();
  }
});
