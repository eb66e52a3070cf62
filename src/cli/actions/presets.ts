import { listPresetNames, listUserPresetNames, findPreset, builtinPresetDir, presetFileIn, readPresetFile } from '../../jobs/presets.js';
import { homePresetsDir } from '../../model/home.js';
import { appliedTaskDefaults, resolveSettings } from '../../edit/frames/settings.js';
import type { ModelArgs } from '../options.js';
import { resolvePack, userCheck } from './common.js';

export async function listPresetsAction(): Promise<void> {
  const rows: string[] = [];
  for (const name of await listPresetNames()) {
    const p = await userCheck(async () => readPresetFile(await presetFileIn(builtinPresetDir(), name)));
    rows.push(`${name.padEnd(20)} ${(p.recipe.command ?? 'edit').padEnd(13)} ${p.description}`);
  }
  // the user's presets, marked; one that cannot be used by name says why instead of its description
  for (const name of await listUserPresetNames()) {
    const what = await findPreset(name).then((p) => `${(p.recipe.command ?? 'edit').padEnd(13)} (user) ${p.description}`, (err: Error) => `${'-'.padEnd(13)} (user) not usable: ${err.message}`);
    rows.push(`${name.padEnd(20)} ${what}`);
  }
  process.stdout.write(`${rows.join('\n')}\n(presets in ${builtinPresetDir()}; (user): yours, in ${homePresetsDir()}; use one with --preset <name>, or pass a path to your own .yaml)\n`);
}

export async function showPresetAction(a: ModelArgs & { preset: string }): Promise<void> {
  const preset = await userCheck(() => findPreset(a.preset));
  const pack = await resolvePack(a);
  const command = preset.recipe.command ?? 'edit';
  const settings = await userCheck(() => resolveSettings(pack.manifest, command, { ...preset.recipe, shareLayersFrom: { kind: 'preset', name: preset.name } }));
  const d = pack.manifest.defaults ?? {};
  const t = appliedTaskDefaults(pack.manifest, command, settings.autoMask);
  const origin = (key: string): string => {
    // a layer group is shown resolved, with the name the preset gave
    const group = key === 'shareLayers' && typeof preset.recipe.shareLayers === 'string' ? ` (layer group ${preset.recipe.shareLayers})` : '';
    if (Object.hasOwn(preset.recipe, key)) return `preset${group}`;
    const own = key === 'autoMask' ? (d.tasks?.edit ?? {}) : t;
    if (Object.hasOwn(own, key) || Object.hasOwn(d, key)) return `pack ${pack.manifest.id}`;
    if (key === 'shareLayers') return `pack ${pack.manifest.id} (context layers)`;
    return 'flowedit default';
  };
  // the mask's settings matter to swap alone
  const { maskBias, maskGrow, maskFeather, autoMask, ...common } = settings;
  const values: [string, unknown][] = [['command', command], ...Object.entries(common)];
  if (command === 'edit') values.push(['autoMask', autoMask]);
  if (command === 'swap' || autoMask > 0) values.push(['maskBias', maskBias], ['maskGrow', maskGrow], ['maskFeather', maskFeather]);
  const lines = values.map(([k, v]) => `  ${k.padEnd(12)} ${JSON.stringify(v).padEnd(14)} ${k === 'command' ? (preset.recipe.command ? 'preset' : 'default') : origin(k)}`);
  process.stdout.write(`${preset.name}: ${preset.description}\n  file ${preset.file}\n${lines.join('\n')}\n`);
}
