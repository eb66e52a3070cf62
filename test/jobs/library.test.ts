/** The library facade: each task does what its command does, in a worker pool, from paths, bytes or raw frames. */
import assert from 'node:assert/strict';
import { readFile, stat } from 'node:fs/promises';
import { join } from 'node:path';
import { after, before, test } from 'node:test';
import sharp from 'sharp';
import { createFlowedit, UserError, EXIT, type Flowedit, type Profile } from '../../src/index.js';
import { readPngTextChunks } from '../../src/media/png-text.js';
import { ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { brokenPack, flowedit } from '../cli/run.js';

let dir: string;
let fe: Flowedit;
before(async () => {
  dir = await tempDir('flowedit-library-');
  fe = createFlowedit({ model: TINY });
});
after(() => fe.close());

const edit = { sourcePrompt: 'a red circle on stripes', targetPrompt: 'a blue circle on stripes', steps: 3 };

test('edit: the same bytes as flowedit edit, from a path, a Buffer and a raw frame', { timeout: 120_000 }, async () => {
  const cli = join(dir, 'cli.png');
  const r = await flowedit(['edit', SAMPLE, '--model', TINY, '--source-prompt', edit.sourcePrompt, '--target-prompt', edit.targetPrompt, '--steps', '3', '-o', cli, '-q']);
  assert.equal(r.code, 0, r.stderr);
  const want = await readFile(cli);

  const lib = join(dir, 'lib.png');
  const events: string[] = [];
  const fromPath = await fe.edit({ ...edit, input: SAMPLE, output: lib }, { onProgress: (p) => events.push(p.phase) });
  assert.equal(fromPath.output, lib);
  assert.equal(fromPath.bytes, undefined);
  assert.ok(fromPath.calls > 0);
  assert.deepEqual(await readFile(lib), want, 'a path input gives the CLI\'s bytes');
  assert.ok(events.includes('invert') && events.includes('sample'), `progress as the CLI sees it (${[...new Set(events)].join(', ')})`);

  // bytes and pixels: written to a private folder; the record names the source only when told
  const profiles: Profile[] = [];
  const fromBuffer = await fe.edit({ ...edit, input: await readFile(SAMPLE), sourceName: SAMPLE }, { onProfile: (p) => profiles.push(p) });
  assert.ok(fromBuffer.bytes);
  assert.equal(profiles.length, 1, 'onProfile is called once, before the call resolves');
  assert.equal(profiles[0]!.graphs['transformer.onnx']!.calls, fromBuffer.calls);
  assert.deepEqual(fromBuffer.bytes, want, 'a Buffer input gives the same bytes');
  const { data, info } = await sharp(SAMPLE).raw().toBuffer({ resolveWithObject: true });
  const frame = { width: info.width, height: info.height, channels: info.channels as 3 | 4, data: new Uint8Array(data) };
  const fromRaw = await fe.edit({ ...edit, input: frame, sourceName: SAMPLE });
  assert.deepEqual(fromRaw.bytes, want, 'a raw frame gives the same bytes');
  const unnamed = await fe.edit({ ...edit, input: frame });
  const record = JSON.parse(readPngTextChunks(unnamed.bytes!).flowedit!);
  assert.equal(record.source, undefined, 'no temporary path is recorded');
  assert.equal(record.targetPrompt, edit.targetPrompt);
});

test('generate: the same bytes as flowedit generate; two jobs on a pool of two both finish', { timeout: 120_000 }, async () => {
  const cli = join(dir, 'gen.png');
  const r = await flowedit(['generate', '--model', TINY, '-p', 'a red circle', '--steps', '2', '--seed', '3', '-o', cli, '-q']);
  assert.equal(r.code, 0, r.stderr);
  const pool = createFlowedit({ workers: 2, model: TINY });
  try {
    assert.equal(pool.workers, 2);
    const [a, b] = await Promise.all([pool.generate({ prompt: 'a red circle', steps: 2, seed: 3 }), pool.generate({ prompt: 'a red circle', steps: 2, seed: 4 })]);
    assert.deepEqual(a.bytes, await readFile(cli));
    assert.ok(b.bytes && b.bytes.subarray(1, 4).toString() === 'PNG');
    assert.notDeepEqual(a.bytes, b.bytes, 'each job ran with its own seed');
  } finally {
    await pool.close();
  }
});

test('a bad request is refused with the CLI\'s message before any work', { timeout: 60_000 }, async () => {
  const broken = await brokenPack(dir); // loading it fails: only checks made before the pack loads pass
  const out = join(dir, 'never.png');
  const cli = await flowedit(['edit', SAMPLE, '--model', broken, '--target-prompt', 'x', '--steps', '0', '-o', out]);
  await assert.rejects(fe.edit({ input: SAMPLE, model: broken, targetPrompt: 'x', steps: 0, output: out }), (err: Error) => {
    assert.ok(err instanceof UserError);
    assert.equal(err.exitCode, EXIT.usage);
    assert.equal(err.message, 'Expected an integer from 1 to 1000 for --steps but received 0');
    assert.ok(cli.stderr.includes(err.message), cli.stderr);
    return true;
  });
  const missing = join(dir, 'missing.png');
  const cliMissing = await flowedit(['swap', missing, '--model', broken, '--mask', SAMPLE, '--target-prompt', 'x', '-o', out]);
  await assert.rejects(fe.swap({ input: missing, mask: SAMPLE, model: broken, targetPrompt: 'x', output: out }), (err: Error) => {
    assert.equal(`flowedit: ${err.message}\n`, cliMissing.stderr);
    return true;
  });
  await assert.rejects(fe.edit({ input: Buffer.from('no image'), targetPrompt: 'x' }), /Expected input bytes of a PNG, JPEG or WebP image/);
  await assert.rejects(fe.edit({ input: { width: 2, height: 2, channels: 3, data: new Uint8Array(5) }, targetPrompt: 'x' }), /hold 2 x 2 x 3 = 12 bytes/);
  await assert.rejects(stat(out), { code: 'ENOENT' });
});

test('a signal cancels a running job between steps; no output is written', { timeout: 120_000 }, async () => {
  const out = join(dir, 'cancelled.png');
  const stop = new AbortController();
  const job = fe.edit({ ...edit, steps: 40, input: SAMPLE, output: out }, { signal: stop.signal, onProgress: (p) => p.step >= 1 && stop.abort() });
  await assert.rejects(job, { name: 'AbortError' });
  await assert.rejects(stat(out), { code: 'ENOENT' });
  // the pool's worker takes the next job
  assert.ok((await fe.generate({ steps: 2 })).bytes);
});

test('a clip given as bytes: the same MP4 as flowedit edit on its path', { timeout: 180_000 }, async () => {
  const clip = join(ROOT, 'samples/scenes/clip-5.mp4');
  const prompts = { sourcePrompt: 'an orange square', targetPrompt: 'a blue square' };
  const cli = join(dir, 'clip-cli.mp4');
  const r = await flowedit(['edit', clip, '--model', TINY, '--source-prompt', prompts.sourcePrompt, '--target-prompt', prompts.targetPrompt, '--steps', '2', '-o', cli, '-q']);
  assert.equal(r.code, 0, r.stderr);
  const out = await fe.edit({ ...prompts, steps: 2, input: await readFile(clip), sourceName: clip });
  assert.equal(out.bytes!.subarray(4, 8).toString(), 'ftyp', 'an MP4 comes back for a clip');
  assert.deepEqual(out.bytes, await readFile(cli));
});
