import type { CommandModule } from 'yargs';
import { withModelOptions, type GlobalArgs } from '../options.js';

export const presetsCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'presets',
  describe: 'List the built-in presets (named recipes for --preset and batch manifests), or show one resolved',
  builder: (y) =>
    y
      .command({
        command: 'list',
        describe: 'List the built-in presets with their descriptions',
        handler: async () => (await import('../actions/presets.js')).listPresetsAction(),
      })
      .command({
        command: 'show <preset>',
        describe: 'Show the settings a preset resolves to on a pack, and where each value comes from (flowedit, pack, preset)',
        builder: (yy) =>
          withModelOptions(yy).positional('preset', { type: 'string', demandOption: true, describe: 'a preset name, or a path to a .yaml file' }),
        handler: async (argv) => (await import('../actions/presets.js')).showPresetAction(argv as never),
      })
      .example('$0 presets show recolor', 'the recolor preset on the built-in pack') as never,
  handler: async () => (await import('../actions/presets.js')).listPresetsAction(),
};
