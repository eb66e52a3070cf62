/** The flowedit command line, run as a user runs it: a child process on real files. */
import assert from 'node:assert/strict';
import { cp, readdir, readFile, writeFile, chmod, mkdir } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readPngTextChunks } from '../../src/media/png-text.js';
import { readImage } from '../../src/media/image.js';
import { ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-cli-');
});

test('invert → reconstruct → edit from the CLI on a sample image', { timeout: 120_000 }, async () => {
  const inv = join(dir, 'sample.flowinv');
  const rec = join(dir, 'rec.png');
  const out = join(dir, 'edit.png');
  const r1 = await flowedit(['invert', SAMPLE, '--model', TINY, '--source-prompt', 'a red circle on stripes', '--steps', '6', '--solver', 'midpoint', '-o', inv]);
  assert.equal(r1.code, 0, r1.stderr);
  assert.match(r1.stderr, /wrote inversion .*sample\.flowinv \(12 model calls/);
  const r2 = await flowedit(['reconstruct', inv, '--model', TINY, '-o', rec]);
  assert.equal(r2.code, 0, r2.stderr);
  const r3 = await flowedit(['edit', inv, '--model', TINY, '--target-prompt', 'a blue circle on stripes', '--share-layers', '1,2', '-o', out]);
  assert.equal(r3.code, 0, r3.stderr);
  const source = await readImage(SAMPLE);
  for (const file of [rec, out]) {
    const img = await readImage(file);
    assert.equal(img.width, source.width);
    assert.equal(img.height, source.height);
  }
  const text = readPngTextChunks(await readFile(out));
  const record = JSON.parse(text.flowedit!);
  assert.equal(record.command, 'edit');
  assert.equal(record.sourcePrompt, 'a red circle on stripes');
  assert.equal(record.targetPrompt, 'a blue circle on stripes');
  assert.equal(record.steps, 6);
  assert.equal(record.solver, 'midpoint');
  assert.equal(record.model, 'tiny');
  assert.deepEqual(record.shareLayers, [1, 2]);
  const lines = text.parameters!.split('\n');
  assert.equal(lines[0], 'a blue circle on stripes', 'the target prompt comes first');
  assert.match(lines[1]!, /^Steps: 6, Sampler: midpoint, CFG scale: 2, Seed: 0, Size: 128x128, Model: tiny, Source prompt: a red circle on stripes, /);
  assert.match(lines[1]!, /, Command: edit, Version: flowedit \d+\.\d+\.\d+$/);
});

test('edit straight from an image, saving the inversion', { timeout: 120_000 }, async () => {
  const out = join(dir, 'direct.png');
  const inv = join(dir, 'direct.flowinv');
  const r = await flowedit(['edit', SAMPLE, '--source-prompt', 'a red circle', '--target-prompt', 'a green circle', '--steps', '4', '--save-inversion', inv, '-o', out, '-q']);
  assert.equal(r.code, 0, r.stderr);
  assert.equal(r.stderr, '');
  assert.ok((await readFile(inv)).subarray(0, 8).toString() === 'FLOWINV1');
});

test('edit --auto-mask: the built-in pack edits inside the mask its prompts give and keeps the rest', { timeout: 120_000 }, async () => {
  const copy = join(dir, 'auto-source.png');
  await cp(SAMPLE, copy);
  const inv = join(dir, 'auto.flowinv');
  const out = join(dir, 'auto.png');
  const mask = join(dir, 'auto-mask.png');
  const r = await flowedit(['edit', copy, '--source-prompt', 'a red circle on pink stripes', '--target-prompt', 'a blue circle on pink stripes', '--steps', '6', '--save-inversion', inv, '--save-mask', mask, '-o', out, '-q']);
  assert.equal(r.code, 0, r.stderr);
  const record = JSON.parse(readPngTextChunks(await readFile(out)).flowedit!);
  const builtin = JSON.parse(await readFile(join(ROOT, 'models/flowedit-tiny/manifest.json'), 'utf8'));
  assert.ok(record.autoMask > 0, 'the built-in pack edits in an automatic mask by default');
  assert.equal(record.autoMask, builtin.defaults.tasks.edit.autoMask);
  const swapDefaults = builtin.defaults.tasks.swap;
  assert.deepEqual([record.guidance, record.guideAgainst], [swapDefaults.guidance, swapDefaults.guideAgainst ?? 'empty'], 'and then takes its swap guidance');
  const [a, b] = [await readImage(out), await readImage(copy)];
  const n = a.width * a.height;
  let kept = 0;
  for (let i = 0; i < n; i++) if ([0, 1, 2].every((c) => a.data[c * n + i] === b.data[c * n + i])) kept++;
  assert.ok(kept > n / 2 && kept < n, `most pixels are the source's exactly, not all (${kept} of ${n})`);
  // the saved mask: white where the edit ran; every pixel it leaves black is the source's
  const m = await readImage(mask);
  assert.deepEqual([m.width, m.height], [a.width, a.height]);
  let black = 0;
  for (let i = 0; i < n; i++) {
    if (m.data[i]! > -1) continue;
    black++;
    assert.ok([0, 1, 2].every((c) => a.data[c * n + i] === b.data[c * n + i]), `pixel ${i} outside the mask is the source's`);
  }
  assert.ok(black > 0 && black < n, `the mask covers part of the frame (${n - black} pixels)`);
  // and swap takes it back
  const swapped = join(dir, 'auto-swap.png');
  const rs = await flowedit(['swap', inv, '--mask', mask, '--target-prompt', 'a green circle on pink stripes', '--negative-prompt', 'pink stripes', '-o', swapped, '-q']);
  assert.equal(rs.code, 0, rs.stderr);
  const swapRecord = readPngTextChunks(await readFile(swapped));
  assert.equal(JSON.parse(swapRecord.flowedit!).negativePrompt, 'pink stripes');
  assert.match(swapRecord.parameters!, /Negative prompt: pink stripes/);
  assertCleanFailure(
    await flowedit(['swap', inv, '--mask', mask, '--target-prompt', 'a green circle', '--negative-prompt', Array(40).fill('stripes').join(' '), '-o', join(dir, 'never-negative.png')]),
    /--negative-prompt/,
  );
  assertCleanFailure(await flowedit(['edit', inv, '--auto-mask', '0', '--save-mask', join(dir, 'm.png'), '--target-prompt', 'a blue circle', '-o', join(dir, 'never-auto.png')]), /--save-mask saves the automatic mask, which is off for this edit/);
  // --auto-mask 0: the plain edit, which re-renders every pixel
  const plain = join(dir, 'plain.png');
  const r2 = await flowedit(['edit', inv, '--auto-mask', '0', '--target-prompt', 'a blue circle on pink stripes', '-o', plain, '-q']);
  assert.equal(r2.code, 0, r2.stderr);
  assert.equal(JSON.parse(readPngTextChunks(await readFile(plain)).flowedit!).autoMask, undefined);
  // from an inversion, the automatic mask needs the source itself
  await writeFile(copy, 'gone');
  assertCleanFailure(await flowedit(['edit', inv, '--target-prompt', 'a blue circle', '-o', join(dir, 'never-auto.png')]), /changed since it was inverted: edit the image or clip itself, or invert it again/);
  assertCleanFailure(await flowedit(['edit', inv, '--auto-mask', '1.5', '--target-prompt', 'a blue circle', '-o', join(dir, 'never-auto.png')]), /Expected a number in \[0, 1\) for --auto-mask but received 1\.5/);
});

test('bad input: one clear message, non-zero exit, no output left', async () => {
  const out = join(dir, 'never.png');
  const notImage = join(dir, 'notes.png');
  await writeFile(notImage, 'just text');
  const badPack = join(dir, 'bad-pack');
  await cp(TINY, badPack, { recursive: true });
  const m = JSON.parse(await readFile(join(badPack, 'manifest.json'), 'utf8'));
  m.transformer.heads = 'two';
  await writeFile(join(badPack, 'manifest.json'), JSON.stringify(m));
  // Root ignores permission bits; the sysfs root refuses new files even to root.
  const isRoot = process.getuid?.() === 0;
  const locked = isRoot ? '/sys' : join(dir, 'locked');
  if (!isRoot) {
    await mkdir(locked);
    await chmod(locked, 0o500);
  }

  assertCleanFailure(await flowedit(['invert', join(dir, 'missing.png'), '-o', out]), /flowedit: Input not found: .*missing\.png/);
  assertCleanFailure(await flowedit(['invert', notImage, '-o', out]), /Cannot read .*notes\.png as an image \(expected PNG, JPEG or WebP\)/);
  assertCleanFailure(await flowedit(['invert', SAMPLE, '--solver', 'rk4', '-o', out]), /Unknown solver "rk4": choose one of euler, midpoint, fireflow/);
  assertCleanFailure(await flowedit(['invert', SAMPLE, '--steps', '0', '-o', out]), /Expected an integer from 1 to 1000 for --steps but received 0/);
  assertCleanFailure(await flowedit(['invert', SAMPLE, '-o', join(dir, 'no-such-dir', 'x.flowinv')]), /Cannot write .*x\.flowinv: directory .*no-such-dir does not exist/);
  assertCleanFailure(await flowedit(['invert', SAMPLE, '-o', join(locked, 'x.flowinv')]), /Cannot write .*x\.flowinv: directory .* is not writable/);
  assertCleanFailure(await flowedit(['invert', SAMPLE, '--model', badPack, '-o', out]), /Model pack .*bad-pack is not valid:\n\s+- transformer\.heads: expected an integer ≥ 1, received "two"/);
  assertCleanFailure(await flowedit(['edit', SAMPLE, '--target-prompt', 'x', '--share-layers', '', '-o', out]), /share layer set is empty/);
  assertCleanFailure(await flowedit(['reconstruct', SAMPLE, '-o', out]), /is not an inversion file/);
  assertCleanFailure(await flowedit(['edit', SAMPLE, '--source-prompt', 'a red circle', '--target-prompt', 'x', '-o', join(dir, 'never.jpg')]), /flowedit writes PNG images .*: name the output .*never\.png/);
  assertCleanFailure(await flowedit(['edit', SAMPLE, '-o', out]), /Missing required argument: target-prompt/);
  const verbose = await flowedit(['invert', join(dir, 'missing.png'), '-o', out, '--verbose']);
  assert.match(verbose.stderr, /\n\s+at /, '--verbose shows the stack');
  const left = (await readdir(dir)).filter((f) => f.startsWith('never') || f.endsWith('.tmp'));
  assert.deepEqual(left, []);
});

test('models validate prints every problem; models list shows the default pack', async () => {
  const badPack = join(dir, 'bad-pack-2');
  await cp(TINY, badPack, { recursive: true });
  const m = JSON.parse(await readFile(join(badPack, 'manifest.json'), 'utf8'));
  m.transformer.contextLayers = [0, 1, 2, 3];
  m.transformer.layers = 4;
  await writeFile(join(badPack, 'manifest.json'), JSON.stringify(m));
  const bad = await flowedit(['models', 'validate', badPack]);
  assertCleanFailure(bad, /has \d+ problems:\n\s+- transformer\.onnx: missing input 'ctx_k\.3'/);
  assert.match(bad.stderr, /missing output 'v\.3'/);
  const good = await flowedit(['models', 'validate', TINY]);
  assert.equal(good.code, 0, good.stderr);
  assert.match(good.stdout, /valid flowedit pack 'tiny'/);
  const list = await flowedit(['models', 'list']);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /\* flowedit-tiny /);
});

test('Ctrl-C cancels between steps and leaves no partial output', { timeout: 120_000 }, async () => {
  const out = join(dir, 'cancelled.flowinv');
  let sent = false;
  const r = await flowedit(['invert', SAMPLE, '--steps', '400', '--solver', 'euler', '-o', out], (stderr, kill) => {
    if (!sent && /encode 1\/1/.test(stderr)) {
      sent = true;
      kill('SIGINT');
    }
  });
  assert.ok(sent, 'progress was shown before the interrupt');
  assert.equal(r.code, 130, r.stderr);
  assert.match(r.stderr, /cancelled; no output was written/);
  const left = (await readdir(dir)).filter((f) => f.includes('cancelled'));
  assert.deepEqual(left, []);
});

test('--help explains the options without loading a model', async () => {
  const r = await flowedit(['edit', '--help']);
  assert.equal(r.code, 0);
  for (const option of ['--source-prompt', '--target-prompt', '--share-layers', '--share-steps', '--solver', '--guidance', '--model', '--steps', '--seed']) {
    assert.match(r.stdout, new RegExp(option));
  }
});

test('an inversion file fixes steps, solver, source prompt and model: clashing flags are refused early', { timeout: 60_000 }, async () => {
  const inv = join(dir, 'fixed.flowinv');
  const out = join(dir, 'clash.png');
  const r = await flowedit(['invert', SAMPLE, '--model', TINY, '--source-prompt', 'a red circle', '--steps', '3', '-o', inv, '-q']);
  assert.equal(r.code, 0, r.stderr);
  assertCleanFailure(await flowedit(['edit', inv, '--model', TINY, '--target-prompt', 'x', '--steps', '5', '-o', out]), /was inverted with --steps 3; --steps 5 cannot change that/);
  assertCleanFailure(await flowedit(['edit', inv, '--model', TINY, '--target-prompt', 'x', '--source-prompt', 'a blue star', '-o', out]), /was inverted with --source-prompt "a red circle"/);
  const pixel = join(ROOT, 'test/fixtures/packs/tiny-pixel');
  assertCleanFailure(await flowedit(['reconstruct', inv, '--model', pixel, '-o', out]), /made with model 'tiny' but the pack is 'tiny-pixel'/);
  const same = await flowedit(['edit', inv, '--model', TINY, '--target-prompt', 'x', '--steps', '3', '--source-prompt', 'a red circle', '-o', out, '-q']);
  assert.equal(same.code, 0, same.stderr);
});

test('an unconditional pack refuses prompts and edits before loading', async () => {
  const uncond = join(ROOT, 'test/fixtures/packs/tiny-uncond');
  const out = join(dir, 'uncond.png');
  assertCleanFailure(await flowedit(['invert', SAMPLE, '--model', uncond, '--source-prompt', 'a red circle', '-o', out]), /takes no --source-prompt/);
  assertCleanFailure(await flowedit(['edit', SAMPLE, '--model', uncond, '--target-prompt', 'a blue circle', '-o', out]), /cannot edit by prompt/);
  const ok = await flowedit(['invert', SAMPLE, '--model', uncond, '-o', join(dir, 'uncond.flowinv'), '-q']);
  assert.equal(ok.code, 0, ok.stderr);
});

test('models with no subcommand lists the packs', async () => {
  const r = await flowedit(['models']);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /\* flowedit-tiny /);
});

test('an automatic-mask edit whose prompts the model reads alike says so, not that a mask covers no pixels', { timeout: 60_000 }, async () => {
  const out = join(dir, 'never-alike.png');
  // the pack's tokenizer lowercases: both prompts are the same ids
  const alike = await flowedit(['edit', SAMPLE, '--model', TINY, '--source-prompt', 'a red circle on stripes', '--target-prompt', 'A RED Circle on stripes', '--auto-mask', '0.4', '--steps', '2', '-o', out]);
  assertCleanFailure(alike, /"a red circle on stripes" and the target prompt "A RED Circle on stripes" do not differ for this model/);
  assert.doesNotMatch(alike.stderr, /covers no pixels/);
  const same = await flowedit(['edit', SAMPLE, '--model', TINY, '--source-prompt', 'a red circle', '--target-prompt', 'a red circle', '--auto-mask', '0.4', '-o', out]);
  assertCleanFailure(same, /The source and target prompts are the same, so the automatic mask \(--auto-mask 0\.4\) has nothing to mark/);
});

test('guidance against the source prompt without one is refused, saying to give it', async () => {
  const out = join(dir, 'never-unguided.png');
  // the built-in pack guides its swaps and automatic-mask edits against the source prompt
  const mask = join(ROOT, 'samples/red-circle-mask.png');
  assertCleanFailure(
    await flowedit(['swap', SAMPLE, '--mask', mask, '--target-prompt', 'a blue square on stripes', '-o', out]),
    /No --source-prompt was given, but the guidance steers away from the source prompt \(--guide-against source, the default here\): give the caption of the input with --source-prompt, or pass --guide-against empty/,
  );
  assertCleanFailure(await flowedit(['edit', SAMPLE, '--target-prompt', 'a blue circle on stripes', '-o', out]), /No --source-prompt was given/);
  assertCleanFailure(await flowedit(['edit', SAMPLE, '--model', TINY, '--guide-against', 'source', '--target-prompt', 'a blue circle', '-o', out]), /--guide-against source\): give the caption/);
  const inv = join(dir, 'no-caption.flowinv');
  assert.equal((await flowedit(['invert', SAMPLE, '--steps', '2', '-o', inv, '-q'])).code, 0);
  assertCleanFailure(await flowedit(['swap', inv, '--mask', mask, '--target-prompt', 'a blue square on stripes', '-o', out]), /no-caption\.flowinv was inverted with no source prompt, but the guidance steers away from the source prompt/);
  const ok = await flowedit(['swap', SAMPLE, '--mask', mask, '--target-prompt', 'a blue square on stripes', '--guide-against', 'empty', '--steps', '2', '--print-config', '-o', out]);
  assert.equal(ok.code, 0, ok.stderr);
});
