import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import type { CommandProfile } from '../../src/cli/profile.js';
import type { Profile } from '../../src/media/profile.js';
import { ditFlops, graphWidths } from '../../src/model/flops.js';
import { readPack } from '../../src/model/pack.js';
import { SAMPLE, tempDir, TINY } from '../paths.js';
import { assertCleanFailure, brokenPack, flowedit } from './run.js';

test('--profile on an edit writes where the time went: every graph call counted, parts adding up to the wall time', async () => {
  const dir = await tempDir();
  const out = join(dir, 'edited.png');
  const file = join(dir, 'profile.json');
  const steps = 4;
  // euler: one call per step and path; --share-steps 1: both paths every step
  const r = await flowedit(['edit', SAMPLE, '--model', TINY, '--source-prompt', 'a red circle', '--target-prompt', 'a green circle', '--steps', String(steps), '--solver', 'euler', '--share-steps', '1', '--share-layers', '1,2', '--auto-mask', '0', '--threads', '1', '-o', out, '--profile', file, '--json', '--progress', 'none']);
  assert.equal(r.code, 0, r.stderr);
  const p = JSON.parse(await readFile(file, 'utf8')) as Profile;
  assert.equal(p.format, 'flowedit.profile');
  const tr = p.graphs['transformer.onnx']!;
  // inversion (1 path) + edit (reconstruction and edit paths)
  assert.equal(tr.calls, steps + 2 * steps);
  assert.equal(tr.calls, (JSON.parse(r.stdout) as { calls: number }).calls);
  assert.equal(p.graphs['vae_encoder.onnx']!.calls, 1);
  assert.equal(p.graphs['vae_decoder.onnx']!.calls, 1);
  assert.ok(p.graphs['text_encoder.onnx']!.calls >= 1);
  // FLOPs: the inversion's and the reconstruction's calls see no context, the edit path's (B = 2, CFG) the reconstruction's keys in layers 1 and 2
  const m = (await readPack(TINY)).manifest;
  const widths = graphWidths(await readFile(join(TINY, m.transformer.file)), m);
  const n = 16 * 16; // 128×128 pixels: a 32×32 latent in 2×2 patches
  const S = 8 + n; // and 8 text tokens
  const plain = ditFlops(m, { batch: 1, imageTokens: n, textTokens: 8, context: new Map() }, widths);
  const shared = ditFlops(m, { batch: 2, imageTokens: n, textTokens: 8, context: new Map([[1, S], [2, S]]) }, widths);
  assert.ok(Math.abs(tr.gflop! - (2 * steps * plain + steps * shared) / 1e9) < 1e-9, `gflop ${tr.gflop}`);
  assert.ok(tr.gflopPerSecond! > 0 && Number.isFinite(tr.gflopPerSecond!));
  assert.ok(Math.abs(tr.meanMs - tr.ms / tr.calls) < 1e-9);
  // the parts hold every millisecond once
  const parts = p.loadMs + p.modelMs + p.copies.inMs + p.copies.outMs + p.betweenCallsMs + p.io.decode + p.io.encode + p.io.ffmpeg + p.restMs;
  assert.ok(Math.abs(parts - p.wallMs) < 1, `parts ${parts} ms, wall ${p.wallMs} ms`);
  for (const v of [p.loadMs, p.modelMs, p.copies.inMs, p.copies.outMs, p.betweenCallsMs, p.io.decode, p.io.encode, p.restMs]) assert.ok(v >= 0);
  assert.ok(p.loadMs > 0 && p.io.decode > 0 && p.io.encode > 0, JSON.stringify(p));
  assert.ok(p.copies.inBytes > 0 && p.copies.outBytes > 0);
  // the command's own times: from the process's start, its tasks' wall within them
  const { command } = p as CommandProfile;
  assert.ok(command.beforeTasksMs > 0 && command.beforeTasksMs + p.wallMs <= command.wallMs + 1, JSON.stringify(command));
  // the table on stderr
  assert.match(r.stderr, /command: [\d.]+ s since the process started, [\d.]+ s of it before the task \(start-up, parsing, checks\)\nprofile \(.*profile\.json\): wall [\d.]+ s/);
  assert.match(r.stderr, /transformer\.onnx\s+[\d.]+ s\s+\d+%\s+12 calls, mean [\d.]+ ms, [\d.]+ GFLOP at [\d.]+ GFLOP\/s/);
});

test('a --profile file that cannot be written is refused before the model loads', async () => {
  const dir = await tempDir();
  const pack = await brokenPack(dir);
  const r = await flowedit(['edit', SAMPLE, '--model', pack, '--source-prompt', 'a red circle', '--target-prompt', 'a green circle', '-o', join(dir, 'out.png'), '--profile', join(dir, 'no-such-folder', 'p.json')]);
  assertCleanFailure(r, /--profile: Cannot write .*p\.json: .*does not exist/);
});
