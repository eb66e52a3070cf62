/** Flags as typed: unknown ones named first, numbers checked against their stated ranges, usage errors exit 2. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { editDistance, nearestName, unknownFlags } from '../../src/cli/known-options.js';
import { RANGES, resolveSettings } from '../../src/edit/frames/settings.js';
import { MEDIA, ROOT, SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-flags-');
});

test('a misspelt flag is named, with the nearest known one, before any missing required flag; exit 2', async () => {
  const out = join(dir, 'never.png');
  const r = await flowedit(['edit', SAMPLE, '--targt-prompt', 'a blue circle', '-o', out]);
  assert.equal(r.code, 2, r.stderr);
  assert.match(r.stderr, /Unknown option --targt-prompt: did you mean --target-prompt\?/);
  assert.doesNotMatch(r.stderr, /Missing required/);
  const far = await flowedit(['swap', SAMPLE, '--mask', SAMPLE, '--target-prompt', 'x', '--colour', 'red', '-o', out]);
  assert.equal(far.code, 2, far.stderr);
  assert.match(far.stderr, /Unknown option --colour\n/);
  // yargs' own usage errors exit 2 as well
  const missing = await flowedit(['edit', SAMPLE, '--target-prompt', 'x', '--steps']);
  assert.equal(missing.code, 2, missing.stderr);
  assert.deepEqual(unknownFlags(['edit', 'a.png', '--no-quiet', '--targetPrompt', 'x', '-qo', 'y', '--', '--zzz'], {
    key: { quiet: true, 'target-prompt': true, output: true },
    alias: { output: ['o'], quiet: ['q'] },
    boolean: ['quiet'],
  }), []);
  assert.equal(editDistance('steps', 'step'), 1);
  assert.equal(nearestName('sead', ['steps', 'seed']), 'seed');
});

test('numbers are checked against their ranges on the text typed, fast, and the ranges are in --help', async () => {
  const out = join(dir, 'never.png');
  const cases: [string[], RegExp][] = [
    [['--steps', 'abc'], /Expected an integer from 1 to 1000 for --steps but received abc\n/],
    [['--steps', '1e9'], /Expected an integer from 1 to 1000 for --steps but received 1e9\n/],
    [['--guidance', '1e308'], /Expected a number in \(0, 100\] for --guidance but received 1e308\n/],
    [['--seed', '1e30'], /Expected an integer from -1 to 4294967295 for --seed but received 1e30\n/],
    [['--share-steps', 'half'], /Expected a number in \[0, 1\] for --share-steps but received half\n/],
    [['--threads', '0'], /Expected an integer from 1 to 256 for --threads but received 0\n/],
    [['--max-input-pixels', '-1'], /for --max-input-pixels but received -1\n/],
    [['--shift', '0'], /Expected a number in \(0, 100\] for --shift but received 0\n/],
    [['--shift', 'fast'], /Expected a number in \(0, 100\] for --shift but received fast\n/],
  ];
  for (const [flags, message] of cases) {
    const started = performance.now();
    const r = await flowedit(['edit', SAMPLE, '--model', TINY, '--target-prompt', 'x', ...flags, '-o', out]);
    assertCleanFailure(r, message);
    assert.equal(r.code, 2, r.stderr);
    assert.doesNotMatch(r.stderr, /null/);
    assert.ok(performance.now() - started < 20_000, `${flags.join(' ')} is refused before any work`);
  }
  const gen = await flowedit(['generate', '--model', TINY, '--fps', '0', '-o', out]);
  assert.equal(gen.code, 2, gen.stderr);
  assert.match(gen.stderr, /Expected a number in \(0, 240\] for --fps but received 0/);
  const help = await flowedit(['edit', '--help']);
  for (const range of [/--steps[^[]*\[an integer from 1 to 1000\]/, /--guidance[^[]*\[a number in \(0, 100\]\]/, /--seed[^[]*\[an integer from -1 to 4294967295\]/]) {
    assert.match(help.stdout.replace(/\s+/g, ' '), range);
  }
});

test('presets and manifests meet the same ranges as the flags', async () => {
  const preset = join(dir, 'huge.yaml');
  await writeFile(preset, 'command: edit\nsteps: 1000000000\n');
  assertCleanFailure(
    await flowedit(['edit', SAMPLE, '--model', TINY, '--target-prompt', 'x', '--preset', preset, '--print-config', '-o', join(dir, 'never.png')]),
    // refused as the preset is read, naming the file and the key
    /huge\.yaml: steps: expected an integer from 1 to 1000 but received 1000000000/,
  );
  const m = JSON.parse(await readFile(join(TINY, 'manifest.json'), 'utf8'));
  assert.throws(() => resolveSettings(m, 'edit', { guidance: 1e308 }), /Expected a number in \(0, 100\] for --guidance/);
  assert.throws(() => resolveSettings(m, 'edit', { seed: 1e30 }), /for --seed/);
  assert.equal(RANGES.seed.max, 2 ** 32 - 1);
});

test('swap takes no --auto-mask and no edit preset; batch --help names no flag it lacks', async () => {
  const swapHelp = await flowedit(['swap', '--help']);
  assert.equal(swapHelp.code, 0);
  assert.doesNotMatch(swapHelp.stdout, /--auto-mask/);
  const batchHelp = await flowedit(['batch', '--help']);
  assert.equal(batchHelp.code, 0);
  assert.doesNotMatch(batchHelp.stdout, /give --source-prompt/);
  assert.match(batchHelp.stdout, /sourcePrompt/);
  const out = join(dir, 'never.png');
  const mask = join(ROOT, 'samples/red-circle-mask.png');
  const auto = await flowedit(['swap', SAMPLE, '--mask', mask, '--target-prompt', 'x', '--auto-mask', '0.3', '-o', out]);
  assert.equal(auto.code, 2, auto.stderr);
  assert.match(auto.stderr, /Unknown option --auto-mask/);
  const preset = await flowedit(['swap', SAMPLE, '--mask', mask, '--preset', 'recolor', '--source-prompt', 'a red circle', '--target-prompt', 'a blue circle', '-o', out]);
  assertCleanFailure(preset, /Preset "recolor" is written for flowedit edit, not swap: give a swap preset/);
  assertCleanFailure(
    await flowedit(['edit', SAMPLE, '--preset', 'swap-object', '--target-prompt', 'x', '-o', out]),
    /Preset "swap-object" is written for flowedit swap, not edit/,
  );
});

test('a 10,000-character prompt is shortened in messages', async () => {
  const long = 'a red circle on stripes '.repeat(417).slice(0, 10_000);
  const clip = join(MEDIA, 'diffueraser-example1-17f.mp4');
  const r = await flowedit(['edit', clip, '--model', TINY, '--target-prompt', long, '--print-config', '-o', join(dir, 'never.mp4')]);
  assertCleanFailure(r, /The --target-prompt "a red circle on stripes [^"]*"… \(10000 characters\) has \d+ tokens/);
  assert.ok(r.stderr.length < 400, `the message is short (${r.stderr.length} characters)`);
});

test('format 2 flags: --shift where a schedule is made, --share-text where context is shared, --negative-prompt where guidance runs', async () => {
  const help = async (cmd: string) => (await flowedit([cmd, '--help'])).stdout.replace(/\s+/g, ' ');
  const [edit, swap, generate, invert, batch, reconstruct] = await Promise.all(['edit', 'swap', 'generate', 'invert', 'batch', 'reconstruct'].map(help));
  for (const h of [edit!, swap!, generate!, invert!, batch!]) assert.match(h, /--shift[^[]*\[a number in \(0, 100\]\]/);
  for (const h of [edit!, swap!, batch!]) assert.match(h, /--share-text .*--no-share-text leaves them out/);
  for (const h of [edit!, swap!, generate!]) assert.match(h, /--negative-prompt .*the pack's text\.negativePrompt/);
  for (const h of [generate!, invert!, reconstruct!]) assert.doesNotMatch(h, /--share-text/);
  assert.doesNotMatch(reconstruct!, /--shift/, 'an inversion fixes the schedule');
  const m = JSON.parse(await readFile(join(TINY, 'manifest.json'), 'utf8'));
  assert.throws(() => resolveSettings(m, 'edit', { shift: -1 }), /Expected a number in \(0, 100\] for --shift but received -1/);
  const preset = join(dir, 'shift.yaml');
  await writeFile(preset, 'command: edit\nshift: 3\nshareText: true\n');
  const printed = await flowedit(['edit', SAMPLE, '--model', TINY, '--target-prompt', 'x', '--preset', preset, '--print-config', '-o', join(dir, 'never.png')]);
  assert.equal(printed.code, 0, printed.stderr);
  const settings = JSON.parse(printed.stdout).settings;
  assert.deepEqual([settings.shift, settings.shareText], [3, true], 'presets set them as flags do');
  const bad = join(dir, 'bad-share.yaml');
  await writeFile(bad, 'command: edit\nshareText: yes please\n');
  assertCleanFailure(await flowedit(['edit', SAMPLE, '--model', TINY, '--target-prompt', 'x', '--preset', bad, '--print-config', '-o', join(dir, 'never.png')]), /shareText: expected true or false/);
});
