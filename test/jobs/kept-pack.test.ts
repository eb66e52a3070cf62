/** The pack a pool worker keeps and preloads (jobs/kept-pack.ts), here on the main thread with the tiny pack. */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { createPackKeeper } from '../../src/jobs/kept-pack.js';
import { startProfile, stopProfile, type Profile } from '../../src/media/profile.js';
import { TINY, tempDir } from '../paths.js';
import { gatedPack, within } from './gated-pack.js';
import { rm } from 'node:fs/promises';

const ref = { packDir: TINY, threads: 1 };

/** Every part of a profile, added. */
const parts = (p: Profile) => p.loadMs + p.modelMs + p.copies.inMs + p.copies.outMs + p.betweenCallsMs + p.io.decode + p.io.encode + p.io.ffmpeg + p.restMs;

describe('kept pack', () => {
  let dir: string;
  before(async () => {
    dir = await tempDir('flowedit-kept-');
  });
  after(() => rm(dir, { recursive: true, force: true }));

  it('a task after a finished preload waits for nothing: load time 0, in its profile too', async () => {
    const packs = createPackKeeper();
    try {
      await packs.preload(ref);
      startProfile();
      const got = await packs.packFor(ref);
      const p = stopProfile()!;
      assert.equal(got.loadSeconds, 0);
      assert.equal(p.loadMs, 0);
      assert.equal((await packs.packFor(ref)).pack, got.pack);
    } finally {
      await packs.release();
    }
  });

  it('a task arriving during the preload waits for that load, not a second one; the wait is its profile\'s load', async () => {
    const gate = await gatedPack(dir);
    const gated = { packDir: gate.dir, threads: 1 };
    const packs = createPackKeeper();
    try {
      const preloaded = packs.preload(gated);
      startProfile();
      const task = packs.packFor(gated);
      await gate.open();
      // a second load of the gated pack would wait on its manifest for ever
      const got = await within(task, 60_000, 'the task waiting on the preload');
      const p = stopProfile()!;
      await preloaded;
      assert.ok(got.loadSeconds > 0);
      assert.ok(Math.abs(p.loadMs - got.loadSeconds * 1000) < 5, `profile load ${p.loadMs} ms, waited ${got.loadSeconds} s`);
      assert.ok(Math.abs(parts(p) - p.wallMs) < 1, `parts ${parts(p)} ms, wall ${p.wallMs} ms`);
      assert.equal((await packs.packFor(gated)).loadSeconds, 0);
    } finally {
      stopProfile();
      await gate.unblock();
      await packs.release();
    }
  });

  it('a failed preload is dropped: no unhandled rejection, and the task loads again and reports its own failure', async () => {
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown) => unhandled.push(reason);
    process.on('unhandledRejection', onUnhandled);
    const packs = createPackKeeper();
    const missing = { packDir: join(dir, 'no-pack') };
    try {
      await packs.preload(missing);
      await assert.rejects(packs.packFor(missing), /no-pack is not valid:\n {2}- folder not found/);
      // the same while the task waits on the failing preload
      void packs.preload(missing);
      await assert.rejects(packs.packFor(missing), /no-pack is not valid:\n {2}- folder not found/);
      void packs.preload(missing);
      const got = await packs.packFor(ref);
      assert.ok(got.loadSeconds > 0);
      await new Promise((r) => setImmediate(r));
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await packs.release();
    }
  });

  it('a task on another pack releases the preloaded one and loads its own', async () => {
    const packs = createPackKeeper();
    try {
      await packs.preload(ref);
      const other = await packs.packFor({ ...ref, threads: 2 });
      assert.ok(other.loadSeconds > 0);
      const again = await packs.packFor(ref);
      assert.ok(again.loadSeconds > 0, 'the preloaded pack was released');
      assert.notEqual(again.pack, other.pack);
    } finally {
      await packs.release();
    }
  });

  it('release waits for a preload in flight', async () => {
    const packs = createPackKeeper();
    void packs.preload(ref);
    await packs.release();
    assert.ok((await packs.packFor(ref)).loadSeconds > 0, 'nothing kept after the release');
    await packs.release();
  });
});
