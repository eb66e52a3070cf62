/** flowedit info: the settings of what flowedit wrote and the command that makes it again; --seed -1 and --variants. */
import assert from 'node:assert/strict';
import { cp, readFile, readdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { before, test } from 'node:test';
import { NotFloweditFile, readOutputInfo } from '../../src/edit/records/output-info.js';
import { commandLine, reproduce } from '../../src/edit/records/reproduce.js';
import { readPngTextChunks } from '../../src/media/png-text.js';
import { SAMPLE, TINY, tempDir } from '../paths.js';
import { assertCleanFailure, flowedit } from './run.js';

let dir: string;
before(async () => {
  dir = await tempDir('flowedit-info-');
});

interface InfoJson {
  kind: string;
  settings: Record<string, unknown>;
  command: string;
  commands: string[][];
  notes: string[];
}

async function info(file: string): Promise<InfoJson> {
  const r = await flowedit(['info', file, '--json']);
  assert.equal(r.code, 0, r.stderr);
  return JSON.parse(r.stdout) as InfoJson;
}

/** Runs a reproducing command in `cwd`, its recorded pack id replaced by the fixture's folder. */
async function runAgain(command: readonly string[], cwd: string): Promise<void> {
  const args = command.slice(1).map((a, i, all) => (all[i - 1] === '--model' ? TINY : a));
  const r = await flowedit([...args.map((a) => (a.startsWith('-') || !/\.(png|mp4)$/.test(a) ? a : join(cwd, a))), '-q']);
  assert.equal(r.code, 0, r.stderr);
}

test('--seed -1 --variants 2: two files with consecutive seeds, recorded; info gives the command that makes one again, byte for byte', async () => {
  const out = join(dir, 'scene.png');
  const args = ['generate', '--model', TINY, '--prompt', 'a red circle, on stripes', '--steps', '2', '--variants', '2', '-o', out];
  const r = await flowedit([...args, '--seed', '-1']);
  assert.equal(r.code, 0, r.stderr);
  const m = /flowedit: using seeds (\d+) to (\d+) \(from --seed -1, drawn at random\)/.exec(r.stderr);
  assert.ok(m, r.stderr);
  const seed = Number(m[1]);
  assert.equal(Number(m[2]), seed + 1);
  const names = [`scene-${seed}.png`, `scene-${seed + 1}.png`];
  assert.deepEqual((await readdir(dir)).sort(), names.sort());
  const [a, b] = await Promise.all(names.map((n) => readFile(join(dir, n))));
  assert.ok(!a!.equals(b!), 'the two seeds give two images');
  for (const [i, png] of [a!, b!].entries()) {
    const text = readPngTextChunks(png);
    assert.equal(JSON.parse(text.flowedit!).seed, seed + i);
    assert.match(text.parameters!, new RegExp(`^a red circle, on stripes\\nSteps: 2, Sampler: fireflow, CFG scale: \\d+(\\.\\d+)?, Seed: ${seed + i}, Size: 64x64, Model: tiny, `));
  }
  // existing variants are refused like -o, before any work
  assertCleanFailure(await flowedit([...args, '--seed', String(seed)]), new RegExp(`scene-${seed}\\.png already exists: pass --force`));
  // the command info gives, run elsewhere, writes the same bytes
  const got = await info(join(dir, names[0]!));
  assert.equal(got.kind, 'image');
  assert.equal(got.settings.seed, seed);
  assert.ok(got.command.includes(`--seed ${seed}`) && got.command.includes(`-o ${names[0]}`), got.command);
  assert.ok(got.notes.some((n) => /pack 'tiny', not the built-in one/.test(n)));
  const again = await tempDir('flowedit-info-again-');
  await runAgain(got.commands[0]!, again);
  assert.ok((await readFile(join(again, names[0]!))).equals(a!), 'the same bytes again');
});

test('info on an inversion file, an edit and a clip; an edit records its source by name unless --record-paths', async () => {
  const photo = join(dir, 'photo.png');
  await cp(SAMPLE, photo);
  const inv = join(dir, 'photo.flowinv');
  const prompts = ['--model', TINY, '--steps', '2', '-q'];
  const r1 = await flowedit(['invert', photo, '--source-prompt', 'a red circle on stripes', ...prompts, '-o', inv]);
  assert.equal(r1.code, 0, r1.stderr);
  // the reading and the command, in this process; then as the command prints them
  const inversion = await readOutputInfo(inv);
  assert.ok(inversion.kind === 'inversion');
  assert.equal(inversion.header.source.path, photo, 'an inversion keeps the path it reads its source from');
  assert.equal(inversion.source, 'unchanged');
  assert.deepEqual(reproduce(inversion).commands[0]!.slice(0, 5), ['flowedit', 'invert', photo, '--source-prompt', 'a red circle on stripes']);
  const shown = await flowedit(['info', inv]);
  assert.match(shown.stdout, /an inversion file .*its source .*photo\.png is there, unchanged/);
  assert.match(shown.stdout, /made again by:\n {2}flowedit invert .*--source-prompt 'a red circle on stripes' --steps 2 --solver fireflow/);

  const edited = join(dir, 'blue.png');
  const r2 = await flowedit(['edit', inv, '--target-prompt', 'a blue circle on stripes', ...prompts, '-o', edited]);
  assert.equal(r2.code, 0, r2.stderr);
  const text = readPngTextChunks(await readFile(edited));
  assert.ok(!text.flowedit!.includes(dir) && !text.parameters!.includes(dir), 'no path of this machine in the output');
  const edit = await readOutputInfo(edited);
  assert.ok(edit.kind === 'image');
  assert.equal(edit.record.source, 'photo.png');
  const again = reproduce(edit);
  assert.deepEqual(again.commands[0]!.slice(0, 7), ['flowedit', 'edit', 'photo.png', '--source-prompt', 'a red circle on stripes', '--target-prompt', 'a blue circle on stripes']);
  assert.ok(again.notes.some((n) => /recorded by its file name \(photo\.png\): run the command in its folder/.test(n)));
  const full = join(dir, 'rec-full.png');
  const r3 = await flowedit(['reconstruct', inv, '--record-paths', '--model', TINY, '-q', '-o', full]);
  assert.equal(r3.code, 0, r3.stderr);
  assert.equal(JSON.parse(readPngTextChunks(await readFile(full)).flowedit!).source, photo, '--record-paths: the full path');

  const clip = join(dir, 'clip.mp4');
  const r4 = await flowedit(['generate', '--prompt', 'a blue square', '--frames', '2', '--fps', '6', ...prompts, '-o', clip]);
  assert.equal(r4.code, 0, r4.stderr);
  const video = await readOutputInfo(clip);
  assert.ok(video.kind === 'video');
  const r = video.record;
  assert.deepEqual([r.frames, r.fps, r.width, r.height], [2, 6, 64, 64]);
  assert.match(commandLine(reproduce(video)), /^flowedit generate --prompt 'a blue square' .*--frames 2 --fps 6 .*-o clip\.mp4$/);
});

test('info refuses what flowedit did not write (exit 1); --variants is refused where no seed changes the result', async () => {
  assertCleanFailure(await flowedit(['info', SAMPLE]), /flowedit did not write .*red-circle-on-stripes\.png: the PNG has no flowedit settings/);
  const notes = join(dir, 'notes.txt');
  await writeFile(notes, 'hello');
  await assert.rejects(readOutputInfo(notes), (err: Error) => err instanceof NotFloweditFile && /flowedit did not write .*notes\.txt: it is not a PNG, a clip or an inversion file/.test(err.message));
  const v = await flowedit(['edit', SAMPLE, '--model', TINY, '--target-prompt', 'a blue circle', '--variants', '2', '-o', join(dir, 'never.png')]);
  assert.equal(v.code, 2);
  assertCleanFailure(v, /--variants applies to flowedit generate: edit starts from the inverted source, not from seeded noise/);
});

test('--seed -1 on batch and reconstruct: a seed drawn, said and recorded', async () => {
  const plan = await flowedit(['batch', 'samples/batch.yaml', '--out', join(dir, 'batch-out'), '--seed', '-1', '--print-config']);
  assert.equal(plan.code, 0, plan.stderr);
  const drawn = /flowedit: using seed (\d+) \(drawn at random for --seed -1\)/.exec(plan.stderr);
  assert.ok(drawn, plan.stderr);
  assert.equal((JSON.parse(plan.stdout) as { batchSeed: number }).batchSeed, Number(drawn[1]));
  const inv = join(dir, 'seed.flowinv');
  assert.equal((await flowedit(['invert', SAMPLE, '--model', TINY, '--steps', '2', '--source-prompt', 'a red circle', '-o', inv, '-q'])).code, 0);
  const out = join(dir, 'seed-rec.png');
  const r = await flowedit(['reconstruct', inv, '--model', TINY, '--seed', '-1', '-o', out]);
  assert.equal(r.code, 0, r.stderr);
  const seed = Number(/flowedit: using seed (\d+)/.exec(r.stderr)?.[1]);
  assert.equal((await info(out)).settings.seed, seed);
});
