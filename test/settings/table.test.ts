/** The table of settings: the flags, the preset, item, request and pack checks and the JSON Schemas all follow it. */
import assert from 'node:assert/strict';
import { readFile, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { test } from 'node:test';
import yargs, { type Argv } from 'yargs';
import { parseManifest } from '../../src/batch/manifest.js';
import { batchCommand } from '../../src/cli/commands/batch.js';
import { editCommand } from '../../src/cli/commands/edit.js';
import { generateCommand } from '../../src/cli/commands/generate.js';
import { invertCommand } from '../../src/cli/commands/invert.js';
import { layersCommand } from '../../src/cli/commands/layers.js';
import { reconstructCommand } from '../../src/cli/commands/reconstruct.js';
import { swapCommand } from '../../src/cli/commands/swap.js';
import { withModelOptions } from '../../src/cli/options.js';
import { FLOWEDIT_DEFAULTS, MASKED_TASKS } from '../../src/edit/frames/settings.js';
import { GUIDE_AGAINST } from '../../src/edit/latent/velocity.js';
import { checkRequest } from '../../src/jobs/request.js';
import { readPresetFile } from '../../src/jobs/presets.js';
import { checkManifest } from '../../src/model/manifest.js';
import { describeRange } from '../../src/settings/ranges.js';
import { RECIPE_KEY_NAMES, readRecipe } from '../../src/settings/recipe.js';
import { schemaFiles } from '../../src/settings/schema.js';
import { flagOf, helpOf, SETTING_NAMES, SETTINGS, settingsIn, type FlagCommand, type SettingSpec } from '../../src/settings/table.js';
import { SOLVERS } from '../../src/solvers/index.js';
import { ROOT, TINY, tempDir } from '../paths.js';

type Build = (y: Argv) => Argv;

const COMMANDS: Record<FlagCommand, Build> = {
  invert: invertCommand.builder as unknown as Build,
  reconstruct: reconstructCommand.builder as unknown as Build,
  edit: editCommand.builder as unknown as Build,
  swap: swapCommand.builder as unknown as Build,
  generate: generateCommand.builder as unknown as Build,
  batch: batchCommand.builder as unknown as Build,
  layers: layersCommand.builder as unknown as Build,
  // `presets show` takes the model options only
  presets: (y) => withModelOptions(y) as Argv,
};

test('every setting flag a command declares is the one the table lists, with the table\'s help and range', async () => {
  for (const [command, build] of Object.entries(COMMANDS) as [FlagCommand, Build][]) {
    const y = build(yargs([]).wrap(null));
    const options = (y as unknown as { getOptions(): { key: object; hiddenOptions: string[] } }).getOptions();
    const declared = new Set(Object.keys(options.key));
    const help = await y.getHelp();
    for (const name of SETTING_NAMES) {
      // layers --task names the analysed task (text-edit too), not swap's task defaults
      if (command === 'layers' && name === 'task') continue;
      const s: SettingSpec = SETTINGS[name];
      const listed = s.flags.includes(command);
      assert.equal(declared.has(flagOf(name)), listed, `${command} --${flagOf(name)}: ${listed ? 'listed in the table but not declared' : 'declared but not listed in the table'}`);
      if (!listed || options.hiddenOptions.includes(flagOf(name))) continue;
      assert.ok(help.includes(helpOf(name, command)), `${command} --${flagOf(name)}: help text is not the table's`);
      if (s.range !== undefined) assert.ok(help.includes(`${helpOf(name, command)} [${describeRange(s.range)}]`), `${command} --${flagOf(name)}: help lacks the range`);
    }
  }
});

test('the recipe keys, the choices and flowedit\'s defaults are the table\'s', () => {
  assert.deepEqual(RECIPE_KEY_NAMES, settingsIn('item'), 'a preset and a manifest item set the same keys');
  assert.deepEqual([...SETTINGS.solver.choices], [...SOLVERS]);
  assert.deepEqual([...SETTINGS.guideAgainst.choices], [...GUIDE_AGAINST]);
  assert.deepEqual([...SETTINGS.task.choices], [...MASKED_TASKS]);
  for (const [key, value] of Object.entries(FLOWEDIT_DEFAULTS)) {
    if (key === 'sourcePrompt') continue;
    assert.equal((SETTINGS as Record<string, SettingSpec>)[key]?.default, value, key);
  }
});

test('the committed JSON Schemas are the ones the table gives (npm run docs:schema rewrites them)', async () => {
  for (const [name, text] of Object.entries(schemaFiles())) {
    assert.equal(await readFile(join(ROOT, 'schemas', name), 'utf8'), text, `schemas/${name} is stale: run npm run build && npm run docs:schema`);
  }
});

test('a bad preset value is refused with the key, what the table expects and what was given; a $schema line is accepted', async () => {
  const dir = await tempDir('flowedit-settings-');
  const bad = join(dir, 'bad.yaml');
  await writeFile(bad, 'steps: 5000\n');
  await assert.rejects(readPresetFile(bad), /bad\.yaml: steps: expected an integer from 1 to 1000 but received 5000 of type number/);
  assert.throws(() => readRecipe({ solver: 'rk4' }, 'p.yaml'), /p\.yaml: solver: expected one of euler, midpoint, fireflow but received "rk4" of type string/);
  assert.throws(() => readRecipe({ guidance: 0 }, 'p.yaml'), /p\.yaml: guidance: expected a number in \(0, 100\] \(1 = off\) but received 0/);
  const good = join(dir, 'good.yaml');
  await writeFile(good, '# yaml-language-server: $schema=../schemas/preset.schema.json\n$schema: ../schemas/preset.schema.json\nsteps: 4\n');
  assert.deepEqual((await readPresetFile(good)).recipe, { steps: 4 });
  const manifest = parseManifest('$schema: ./batch.schema.json\nitems:\n  - input: a.png\n    guideAgainst: source\n', join(dir, 'm.yaml'));
  assert.equal(manifest.items[0]?.recipe.guideAgainst, 'source');
  assert.throws(() => parseManifest('- input: a.png\n  $schema: x\n', join(dir, 'm.yaml')), /unknown key "\$schema"/, 'only at the top level');
});

test('requests and pack defaults are checked by the same table', async () => {
  assert.throws(() => checkRequest({ solver: 'rk4' }), /Unknown solver "rk4": choose one of euler, midpoint, fireflow/);
  assert.throws(() => checkRequest({ task: 'paint' }), /Unknown task "paint": choose one of swap, recolor, insert, remove/);
  assert.throws(() => checkRequest({ shareText: 'yes' }), /Expected true or false for --share-text but received "yes"/);
  const m = JSON.parse(await readFile(join(TINY, 'manifest.json'), 'utf8')) as Record<string, unknown>;
  const problems: string[] = checkManifest({ ...m, defaults: { steps: 0, solver: 'rk4', tasks: { swap: { autoMask: 1, colour: 'red' } } } }).problems;
  assert.ok(problems.includes('defaults.steps: expected an integer from 1 to 1000, received 0'), problems.join('\n'));
  assert.ok(problems.includes('defaults.solver: expected one of "euler", "midpoint", "fireflow", received "rk4"'), problems.join('\n'));
  assert.ok(problems.includes('defaults.tasks.swap.autoMask: expected a number in [0, 1) (0 = no automatic mask), received 1'), problems.join('\n'));
  assert.ok(problems.some((p) => p.startsWith('defaults.tasks.swap.colour: unknown key (allowed: guidance, guideAgainst, shareLayers, shareSteps, autoMask, maskBias)')), problems.join('\n'));
});
