/** Preloading a pack on a pool's worker (real worker threads, the tiny pack). */
import assert from 'node:assert/strict';
import { readFile, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveSettings } from '../../src/edit/frames/settings.js';
import type { JobSpec } from '../../src/jobs/job.js';
import { createTaskPool } from '../../src/jobs/pool.js';
import type { Profile } from '../../src/media/profile.js';
import { readPack } from '../../src/model/pack.js';
import { TINY, tempDir } from '../paths.js';
import { gatedPack, probeTask, within } from './gated-pack.js';

describe('preload', () => {
  let dir: string;
  let generate: (output: string, packDir?: string) => Promise<JobSpec>;
  before(async () => {
    dir = await tempDir('flowedit-preload-');
    const pack = await readPack(TINY);
    const s = resolveSettings(pack.manifest, 'generate', { steps: 2 });
    const [w, h] = pack.manifest.image.defaultSize ?? [64, 64];
    generate = async (output, packDir = TINY) => ({
      kind: 'generate',
      packDir,
      output,
      threads: 1,
      fps: 8,
      request: { prompt: 'a red circle', guidance: s.guidance, solver: s.solver, steps: 2, seed: 1, width: w, height: h, frames: 1 },
    });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('a task sent while its pack preloads waits for that load only; its profile counts the wait as the load', async () => {
    const gate = await gatedPack(dir);
    const ref = { packDir: gate.dir, threads: 1 };
    const pool = createTaskPool({ size: 1 });
    try {
      pool.preload(ref);
      let profile: Profile | undefined;
      const probe = pool.runTask(probeTask, ref, { onProfile: (p) => (profile = p) });
      await gate.open();
      // a second load of the gated pack would read an empty manifest, or wait for ever
      const first = await within(probe, 60_000, 'the task waiting on the preload');
      assert.ok(profile);
      assert.ok(Math.abs(profile.loadMs - first.loadSeconds * 1000) < 5, `profile load ${profile.loadMs} ms, waited ${first.loadSeconds} s`);
      const parts = profile.loadMs + profile.modelMs + profile.copies.inMs + profile.copies.outMs + profile.betweenCallsMs + profile.io.decode + profile.io.encode + profile.io.ffmpeg + profile.restMs;
      assert.ok(Math.abs(parts - profile.wallMs) < 1, `parts ${parts} ms, wall ${profile.wallMs} ms`);
      // kept: the next task waits for nothing, and a job runs on it
      assert.deepEqual(await pool.runTask(probeTask, ref), { pack: first.pack, loadSeconds: 0 });
      const job = await pool.run(await generate(join(dir, 'gated.png'), gate.dir));
      assert.equal(job.loadSeconds, 0);
    } finally {
      await gate.unblock();
      await pool.close();
    }
  });

  it('a job after a preload of its pack writes what a job on a fresh pool writes', async () => {
    const cold = createTaskPool({ size: 1 });
    await cold.run(await generate(join(dir, 'cold.png'))).finally(() => cold.close());
    const pool = createTaskPool({ size: 1 });
    try {
      pool.preload({ packDir: TINY, threads: 1 });
      await pool.run(await generate(join(dir, 'warm.png')));
    } finally {
      await pool.close();
    }
    assert.deepEqual(await readFile(join(dir, 'warm.png')), await readFile(join(dir, 'cold.png')));
  });

  it('a failed preload is dropped: the worker serves on, and a job on the bad pack fails as it does without one', async () => {
    const missing = join(dir, 'no-pack');
    const cold = createTaskPool({ size: 1 });
    const coldError = await cold.run(await generate(join(dir, 'never.png'), missing)).then(
      () => assert.fail('a job on a missing pack ran'),
      (err: Error) => err,
    );
    await cold.close();
    assert.match(coldError.message, /no-pack is not valid/);
    const pool = createTaskPool({ size: 1 });
    try {
      const first = await pool.runTask(probeTask, { packDir: TINY, threads: 1 });
      pool.preload({ packDir: missing });
      // the same worker (its task module keeps its count): the failed load did not stop it
      const next = await pool.runTask(probeTask, { packDir: TINY, threads: 1 });
      assert.equal(next.pack, first.pack + 1, 'the preload released the kept pack and the worker lived on');
      assert.ok((await pool.run(await generate(join(dir, 'ok.png')))).calls > 0);
      pool.preload({ packDir: missing });
      await assert.rejects(pool.run(await generate(join(dir, 'never.png'), missing)), { message: coldError.message });
    } finally {
      await pool.close();
    }
  });

  it('a closing pool preloads nothing', async () => {
    const pool = createTaskPool({ size: 1 });
    const closed = pool.close();
    pool.preload({ packDir: TINY });
    await closed;
    await assert.rejects(pool.run(await generate(join(dir, 'never.png'))), /closed/);
  });
});
