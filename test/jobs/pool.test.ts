import assert from 'node:assert/strict';
import { mkdtemp, readFile, rm, stat } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { resolveSettings } from '../../src/edit/frames/settings.js';
import { readPack } from '../../src/model/pack.js';
import type { JobSpec } from '../../src/jobs/job.js';
import { createPool } from '../../src/jobs/pool.js';
import { runJob } from '../../src/jobs/run-job.js';
import type { Progress } from '../../src/edit/latent/progress.js';
import { TINY } from '../paths.js';

describe('worker pool', () => {
  let dir: string;
  let generate: (output: string, seed: number, steps?: number) => Promise<JobSpec>;
  before(async () => {
    dir = await mkdtemp(join(tmpdir(), 'flowedit-pool-'));
    const pack = await readPack(TINY);
    const s = resolveSettings(pack.manifest, 'generate', { steps: 2 });
    const [w, h] = pack.manifest.image.defaultSize ?? [64, 64];
    generate = async (output, seed, steps = 2) => ({
      kind: 'generate',
      packDir: TINY,
      output,
      threads: 1,
      fps: 8,
      request: { prompt: 'a red circle', guidance: s.guidance, solver: s.solver, steps, seed, width: w, height: h, frames: 1 },
    });
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('runs jobs on its workers, in parallel, with the same bytes as a job run here', async () => {
    const pool = createPool({ size: 2 });
    const progress: Progress[] = [];
    try {
      const [a, b] = await Promise.all([
        pool.run(await generate(join(dir, 'a.png'), 1), { onProgress: (p) => progress.push(p) }),
        pool.run(await generate(join(dir, 'b.png'), 2)),
      ]);
      assert.equal(a.output, join(dir, 'a.png'));
      assert.ok(b.calls > 0);
      assert.ok(progress.some((p) => p.phase === 'sample' && p.step === p.steps), 'progress reached the caller');
      // a third job reuses a worker and its loaded pack
      await pool.run(await generate(join(dir, 'c.png'), 1));
    } finally {
      await pool.close();
    }
    await runJob(await generate(join(dir, 'here.png'), 1), {});
    assert.deepEqual(await readFile(join(dir, 'a.png')), await readFile(join(dir, 'here.png')));
    assert.deepEqual(await readFile(join(dir, 'c.png')), await readFile(join(dir, 'here.png')));
    assert.notDeepEqual(await readFile(join(dir, 'a.png')), await readFile(join(dir, 'b.png')));
  });

  it('cancels a queued job and a running one; a job after close is refused', async () => {
    const pool = createPool({ size: 1 });
    const running = new AbortController();
    const queued = new AbortController();
    // many steps: the cancel reaches the worker long before the job could end on its own
    const first = pool.run(await generate(join(dir, 'x.png'), 1, 400), { signal: running.signal, onProgress: () => running.abort(new Error('stop running')) });
    const second = pool.run(await generate(join(dir, 'y.png'), 1), { signal: queued.signal });
    queued.abort(new Error('stop queued'));
    await assert.rejects(second, /stop queued/);
    await assert.rejects(first, /stop running/);
    await assert.rejects(stat(join(dir, 'x.png')), /ENOENT/);
    // the worker survives a cancel
    const ok = await pool.run(await generate(join(dir, 'z.png'), 1));
    assert.ok(ok.calls > 0);
    await pool.close();
    await assert.rejects(pool.run(await generate(join(dir, 'w.png'), 1)), /closed/);
  });

  it('reports a job failure with its message and keeps serving', async () => {
    const pool = createPool();
    try {
      const bad = { ...(await generate(join(dir, 'missing', 'nested', 'f.png'), 1)), packDir: join(dir, 'no-pack') };
      await assert.rejects(pool.run(bad), /no-pack/);
      assert.ok((await pool.run(await generate(join(dir, 'g.png'), 1))).calls > 0);
    } finally {
      await pool.close();
    }
  });
});
