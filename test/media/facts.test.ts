/** Media facts: a worker thread takes the tools and probe answers its parent found, and starts no tool for them while the files are unchanged. */
import assert from 'node:assert/strict';
import { copyFile, utimes } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import { Worker } from 'node:worker_threads';
import { mediaFacts } from '../../src/media/facts.js';
import { findFfmpeg } from '../../src/media/ffmpeg-tools.js';
import { assertClipReadable, probeVideo } from '../../src/media/video.js';
import { MEDIA, tempDir } from '../paths.js';

/**
 * Runs, in a worker thread whose PATH is empty and whose FLOWEDIT_FFMPEG names nothing that runs,
 * keepMediaFacts(facts) when asked, then findFfmpeg and probeVideo of `clip`: without the facts
 * neither can start ffmpeg or ffprobe by name there.
 */
function inWorker(facts: unknown, clip: string, keep: boolean): Promise<{ tools?: unknown; frames?: number; error?: string }> {
  const facts$ = new URL('../../src/media/facts.js', import.meta.url).href;
  const tools$ = new URL('../../src/media/ffmpeg-tools.js', import.meta.url).href;
  const video$ = new URL('../../src/media/video.js', import.meta.url).href;
  const code = `
    const { parentPort, workerData } = require('node:worker_threads');
    (async () => {
      const { keepMediaFacts } = await import(${JSON.stringify(facts$)});
      const { findFfmpeg } = await import(${JSON.stringify(tools$)});
      const { probeVideo } = await import(${JSON.stringify(video$)});
      if (workerData.keep) keepMediaFacts(workerData.facts);
      const out = {};
      try {
        out.tools = await findFfmpeg();
        out.frames = (await probeVideo(workerData.clip, out.tools)).frames;
      } catch (err) {
        out.error = err.message;
      }
      parentPort.postMessage(out);
    })();`;
  const worker = new Worker(code, { eval: true, workerData: { facts, clip, keep }, env: { ...process.env, PATH: '', FLOWEDIT_FFMPEG: process.env.FLOWEDIT_FFMPEG ?? '' } });
  return new Promise((resolve, reject) => {
    worker.once('message', (m) => {
      void worker.terminate();
      resolve(m as { tools?: unknown; frames?: number; error?: string });
    });
    worker.once('error', reject);
  });
}

test("a worker given its parent's media facts finds ffmpeg and probes an unchanged clip without starting either; a changed clip is probed again", async () => {
  const dir = await tempDir('flowedit-facts-');
  const clip = join(dir, 'clip.mp4');
  await copyFile(join(MEDIA, 'diffueraser-example1-17f.mp4'), clip);
  const tools = await findFfmpeg();
  const info = await assertClipReadable(clip, tools);
  const facts = mediaFacts();
  assert.ok(facts.tools.found.length > 0 && facts.probes.length > 0, 'the parent has facts to give');
  assert.ok(facts.probes.every(([, a]) => !('packets' in (a as object))), 'answers listing packets (the checks’ own) are not handed on');

  const given = await inWorker(facts, clip, true);
  assert.deepEqual(given, { tools, frames: info.frames }, 'the parent’s tools and probe answer were used');

  // the same worker without the facts cannot run what it would need (this is what the test stands on)
  const bare = await inWorker(facts, clip, false);
  assert.ok(bare.error !== undefined || JSON.stringify(bare.tools) !== JSON.stringify(tools), `without the facts: ${JSON.stringify(bare)}`);

  // the clip changed since the parent probed it: its answer is not used, so the probe must run (and cannot, when ffprobe is found through PATH)
  await utimes(clip, new Date(), new Date(Date.now() + 5_000));
  const changed = await inWorker(mediaFacts(), clip, true);
  if (tools.ffprobe.includes('/')) assert.equal(changed.frames, info.frames, 'an ffprobe named by its path runs again');
  else assert.match(changed.error ?? '', /ffprobe/, `the stale answer was not used: ${JSON.stringify(changed)}`);
  assert.equal((await probeVideo(clip, tools)).frames, info.frames);
});
