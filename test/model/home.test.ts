/**
 * The user's configuration folder (FLOWEDIT_HOME here, a temporary folder): packs found there by
 * name, user presets, and `flowedit layers --write` on the built-in pack writing into the user's
 * copy of it instead of the package.
 */
import assert from 'node:assert/strict';
import { cp, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { homedir } from 'node:os';
import { join } from 'node:path';
import { test } from 'node:test';
import { findPreset } from '../../src/jobs/presets.js';
import { builtinPackDir } from '../../src/model/builtin.js';
import { findPack, flowEditHome } from '../../src/model/home.js';
import { LINK_FROM_BYTES } from '../../src/model/pack-copy.js';
import { validatePack } from '../../src/model/pack.js';
import { builtinCalibration } from '../../src/vital/calibration.js';
import { assertCleanFailure, flowedit } from '../cli/run.js';
import { SAMPLE, TINY, TINY_PIXEL, tempDir } from '../paths.js';

/** Runs `fn` with FLOWEDIT_HOME set to `home` in this process. */
async function withHome<T>(home: string, fn: () => Promise<T>): Promise<T> {
  const before = process.env.FLOWEDIT_HOME;
  process.env.FLOWEDIT_HOME = home;
  try {
    return await fn();
  } finally {
    if (before === undefined) delete process.env.FLOWEDIT_HOME;
    else process.env.FLOWEDIT_HOME = before;
  }
}

test('the configuration folder: FLOWEDIT_HOME, else the platform\'s configuration directory', () => {
  assert.equal(flowEditHome({ FLOWEDIT_HOME: '/srv/fe', XDG_CONFIG_HOME: '/x' }, 'linux'), '/srv/fe');
  assert.equal(flowEditHome({ XDG_CONFIG_HOME: '/x' }, 'linux'), '/x/flowedit');
  assert.equal(flowEditHome({ XDG_CONFIG_HOME: 'relative' }, 'linux'), join(homedir(), '.config/flowedit'), 'a relative XDG_CONFIG_HOME is ignored');
  assert.equal(flowEditHome({}, 'linux'), join(homedir(), '.config/flowedit'));
  assert.equal(flowEditHome({}, 'darwin'), join(homedir(), 'Library/Application Support/flowedit'));
  assert.equal(flowEditHome({ APPDATA: '/appdata' }, 'win32'), join('/appdata', 'flowedit'));
});

test('packs are found by name: a folder here, else in <home>/packs, else a built-in pack\'s id; a path works as before', async () => {
  const home = await tempDir('flowedit-home-');
  await cp(TINY, join(home, 'packs/mine'), { recursive: true });
  await withHome(home, async () => {
    assert.equal((await findPack('mine')).dir, join(home, 'packs/mine'));
    assert.equal((await findPack('flowedit-tiny')).dir, builtinPackDir());
    assert.equal((await findPack(undefined)).dir, builtinPackDir());
    assert.equal((await findPack(TINY_PIXEL)).manifest.id, 'tiny-pixel');
    await assert.rejects(findPack('nosuch'), new RegExp(`No model pack "nosuch": .*none named so in ${home}/packs \\(it holds mine\\).*built-in: flowedit-tiny`));
    // a folder of that name in the working directory comes first
    const here = await tempDir();
    await cp(TINY_PIXEL, join(here, 'mine'), { recursive: true });
    const cwd = process.cwd();
    process.chdir(here);
    try {
      assert.equal((await findPack('mine')).manifest.id, 'tiny-pixel');
    } finally {
      process.chdir(cwd);
    }
  });
  // on the command line
  const env = { ...process.env, FLOWEDIT_HOME: home };
  const show = await flowedit(['presets', 'show', 'reconstruct-check', '--model', 'mine'], undefined, env);
  assert.equal(show.code, 0, show.stderr);
  assert.match(show.stdout, /guidance\s+2\s+pack tiny$/m, 'the settings come from the pack found by name');
  const list = await flowedit(['models', 'list'], undefined, env);
  assert.match(list.stdout, new RegExp(`^  mine \\(yours\\) .*\\n    ${home}/packs/mine$`, 'm'));
});

test('user presets: found by name after the built-in ones and listed as yours; one with a built-in\'s name is refused', async () => {
  const home = await tempDir('flowedit-home-');
  await mkdir(join(home, 'presets'));
  await writeFile(join(home, 'presets/few-steps.yaml'), 'description: three steps, for a quick look\nsteps: 3\n');
  const env = { ...process.env, FLOWEDIT_HOME: home };
  await withHome(home, async () => {
    const p = await findPreset('few-steps');
    assert.deepEqual([p.file, p.description, p.recipe.steps], [join(home, 'presets/few-steps.yaml'), 'three steps, for a quick look', 3]);
  });
  const config = await flowedit(['edit', SAMPLE, '--model', TINY, '--preset', 'few-steps', '--target-prompt', 'a blue circle', '-o', join(home, 'o.png'), '--print-config'], undefined, env);
  assert.equal(config.code, 0, config.stderr);
  assert.match(config.stdout, /"steps": 3/);

  await writeFile(join(home, 'presets/recolor.yaml'), 'steps: 1\n');
  const list = await flowedit(['presets', 'list'], undefined, env);
  assert.equal(list.code, 0, list.stderr);
  assert.match(list.stdout, /^few-steps +edit +\(user\) three steps, for a quick look$/m);
  assert.match(list.stdout, /^recolor +edit +[A-Z]/m, 'the built-in recolor is listed as before');
  assert.match(list.stdout, /^recolor +- +\(user\) not usable: Preset "recolor" is both a built-in preset and yours/m);
  assertCleanFailure(
    await flowedit(['edit', SAMPLE, '--model', TINY, '--preset', 'recolor', '--target-prompt', 'x', '-o', join(home, 'o.png')], undefined, env),
    new RegExp(`Preset "recolor" is both a built-in preset and yours \\(${home}/presets/recolor\\.yaml\\): a user preset cannot take a built-in's name; rename recolor\\.yaml`),
  );
});

test('layers --write on the built-in pack writes into the user\'s copy of it (made with its weights linked), never into the package', { timeout: 300_000 }, async () => {
  const home = await tempDir('flowedit-home-');
  const env = { ...process.env, FLOWEDIT_HOME: home };
  const builtin = builtinPackDir();
  const original = await readFile(join(builtin, 'manifest.json'));
  const id = (JSON.parse(original.toString()) as { id: string }).id;
  const copy = join(home, 'packs', id);
  const json = join(home, 'layers.json');
  // the cheapest run on the built-in pack: one case of one calibration set, two steps
  const layers = (task: string, ...extra: string[]) =>
    flowedit(['layers', '--task', task, '--calibration', builtinCalibration(0), '--cases', '1', '--steps', '2', '--write', '--json', json, '-q', ...extra], undefined, env);

  const first = await layers('swap');
  assert.equal(first.code, 0, first.stderr);
  const chosen = (JSON.parse(await readFile(json, 'utf8')) as { chosen: { shareLayers: number[]; shareSteps: number } }).chosen;
  assert.match(first.stdout, new RegExp(`wrote defaults\\.tasks\\.swap: .* to ${copy}/manifest\\.json`));
  assert.match(first.stdout, new RegExp(`that is your copy of the built-in pack \\(made now from the built-in pack ${builtin}, its weights (linked|copied)\\); the built-in pack is unchanged: use the copy with --model ${id}`));
  assert.deepEqual(await readFile(join(builtin, 'manifest.json')), original, 'the package\'s pack is untouched');
  type Manifest = { defaults: { tasks: Record<string, Record<string, unknown>> } };
  const written = JSON.parse(await readFile(join(copy, 'manifest.json'), 'utf8')) as Manifest;
  const was = JSON.parse(original.toString()) as Manifest;
  const swap = { ...was.defaults.tasks.swap, shareLayers: chosen.shareLayers, shareSteps: chosen.shareSteps };
  assert.deepEqual(written, { ...was, defaults: { ...was.defaults, tasks: { ...was.defaults.tasks, swap } } }, 'the built-in\'s manifest with the measured swap layers, every other field kept');
  // the weights are the built-in's (linked where the file system allows), the copy a valid pack found by its id
  for (const f of ['transformer.onnx', 'text_encoder.onnx']) {
    const [a, b] = [await stat(join(builtin, f)), await stat(join(copy, f))];
    assert.ok(a.size >= LINK_FROM_BYTES && b.size === a.size, f);
    if (a.dev === b.dev) assert.equal(b.ino, a.ino, `${f} is a hard link on one file system`);
  }
  assert.deepEqual(await validatePack(copy), []);
  await withHome(home, async () => assert.equal((await findPack(id)).dir, copy));

  // a second task goes into the same copy, the first task's defaults kept
  const second = await layers('remove');
  assert.equal(second.code, 0, second.stderr);
  assert.match(second.stdout, /that is your copy of the built-in pack \(made by an earlier --write\)/);
  const both = JSON.parse(await readFile(join(copy, 'manifest.json'), 'utf8')) as Manifest;
  assert.deepEqual(both.defaults.tasks.swap, swap);
  const removal = (JSON.parse(await readFile(json, 'utf8')) as { chosen: { shareLayers: number[]; shareSteps: number } }).chosen;
  assert.deepEqual([both.defaults.tasks.remove?.shareLayers, both.defaults.tasks.remove?.shareSteps], [removal.shareLayers, removal.shareSteps]);

  // a copy whose weights are not the built-in's (replaced, not written in place: the original is linked) is refused before any work
  await rm(join(copy, 'transformer.onnx'));
  await writeFile(join(copy, 'transformer.onnx'), 'other weights');
  assertCleanFailure(await layers('swap'), new RegExp(`${copy} holds other weights than the built-in pack ${id} \\(transformer\\.onnx; .*\\): move ${copy} away to have a fresh copy made`));
  assert.deepEqual(await readFile(join(builtin, 'manifest.json')), original);
});
