/** The command line on a format 2 pack (tiny-v2): validate, edit, generate, and its prompt rules before any model loads. */
import assert from 'node:assert/strict';
import { readFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { readInversionHeader } from '../../src/edit/frames/inversion-file.js';
import { readPngTextChunks } from '../../src/media/png-text.js';
import { timesteps } from '../../src/solvers/index.js';
import { SAMPLE, TINY_V2, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-v2-cli-');
});

const LONG = 'a red circle on stripes with a big blue square';

test('models validate names the format', async () => {
  const r = await flowedit(['models', 'validate', TINY_V2]);
  assert.equal(r.code, 0, r.stderr);
  assert.match(r.stdout, /valid flowedit pack 'tiny-v2' \(format 2, float32\)/);
});

test('edit on a format 2 pack: runs, truncates a long target prompt with one warning, records the flags', async () => {
  const out = join(dir, 'edit.png');
  const r = await flowedit([
    'edit', SAMPLE, '--model', TINY_V2, '--source-prompt', 'a red circle on stripes', '--target-prompt', LONG,
    '--steps', '3', '--shift', '3', '--share-text', '--negative-prompt', 'gray dots', '-o', out,
  ]);
  assert.equal(r.code, 0, r.stderr);
  const warnings = r.stderr.split('\n').filter((l) => l.startsWith('flowedit: warning:'));
  assert.deepEqual(warnings, [`flowedit: warning: The prompt "${LONG}" has 11 tokens but this pack reads 8: the model sees its first 8 tokens only`]);
  const record = JSON.parse(readPngTextChunks(await readFile(out)).flowedit!);
  assert.equal(record.model, 'tiny-v2');
  assert.equal(record.negativePrompt, 'gray dots');
  assert.equal(record.shareText, true);
  assert.equal(record.shift, 3);
  // the pack's own defaults: no shared text keys and its negative prompt, recorded as nothing given
  const plain = join(dir, 'plain.png');
  const p = await flowedit(['edit', SAMPLE, '--model', TINY_V2, '--source-prompt', 'a red circle on stripes', '--target-prompt', 'a blue circle on stripes', '--steps', '3', '-o', plain]);
  assert.equal(p.code, 0, p.stderr);
  assert.doesNotMatch(p.stderr, /warning/);
  const plainRecord = JSON.parse(readPngTextChunks(await readFile(plain)).flowedit!);
  assert.deepEqual([plainRecord.negativePrompt, plainRecord.shareText, plainRecord.shift], [undefined, undefined, undefined]);
  assert.notDeepEqual(await readFile(plain), await readFile(out));
});

test('an unknown word is refused before the pack loads, naming the word and where it is', async () => {
  const out = join(dir, 'never.png');
  const r = await flowedit(['edit', SAMPLE, '--model', TINY_V2, '--target-prompt', 'a blue zzzz on stripes', '--print-config', '-o', out]);
  assertCleanFailure(r, /The --target-prompt "a blue zzzz on stripes" has a word this pack's tokenizer does not know: "zzzz" \(characters 7–11 of the cleaned prompt\)/);
  const neg = await flowedit(['generate', '--model', TINY_V2, '--prompt', 'a red circle', '--negative-prompt', 'blurry', '-o', out]);
  assertCleanFailure(neg, /The --negative-prompt "blurry" has a word this pack's tokenizer does not know/);
});

test('print-config shows the new settings: the pack default and the flags over it', async () => {
  const base = ['edit', SAMPLE, '--model', TINY_V2, '--target-prompt', 'a blue circle', '--print-config', '-o', join(dir, 'never.png')];
  const plain = JSON.parse((await flowedit(base)).stdout);
  assert.equal(plain.settings.shareText, false);
  assert.equal(plain.settings.shift, undefined);
  const flags = JSON.parse((await flowedit([...base, '--share-text', '--shift', '4.5', '--negative-prompt', ''])).stdout);
  assert.deepEqual([flags.settings.shareText, flags.settings.shift, flags.settings.negativePrompt], [true, 4.5, '']);
  const off = JSON.parse((await flowedit([...base, '--no-share-text'])).stdout);
  assert.equal(off.settings.shareText, false);
});

test('generate on a format 2 pack takes --negative-prompt and --shift', async () => {
  const out = join(dir, 'gen.png');
  const r = await flowedit(['generate', '--model', TINY_V2, '--prompt', 'a red circle', '--negative-prompt', 'gray dots', '--shift', '2.5', '--steps', '2', '--width', '32', '--height', '32', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const record = JSON.parse(readPngTextChunks(await readFile(out)).flowedit!);
  assert.deepEqual([record.prompt, record.negativePrompt, record.shift], ['a red circle', 'gray dots', 2.5]);
});

test('an inversion fixes its schedule: --shift that differs is refused', async () => {
  const inv = join(dir, 'shifted.flowinv');
  const r = await flowedit(['invert', SAMPLE, '--model', TINY_V2, '--source-prompt', 'a red circle on stripes', '--steps', '2', '--shift', '3', '-o', inv]);
  assert.equal(r.code, 0, r.stderr);
  const header = await readInversionHeader(inv);
  assert.equal(header.settings.shift, 3);
  assert.deepEqual(header.ts, timesteps(2, 3), 'the schedule is shifted by σ = 3, not the pack\'s 2');
  const clash = await flowedit(['edit', inv, '--model', TINY_V2, '--target-prompt', 'a blue circle', '--shift', '5', '-o', join(dir, 'never.png')]);
  assertCleanFailure(clash, /shifted\.flowinv was inverted with --shift 3; --shift 5 cannot change its schedule/);
  const same = await flowedit(['edit', inv, '--model', TINY_V2, '--target-prompt', 'a blue circle', '--shift', '3', '--print-config', '-o', join(dir, 'never.png')]);
  assert.equal(same.code, 0, same.stderr);
  assert.equal(JSON.parse(same.stdout).settings.shift, 3);
});
