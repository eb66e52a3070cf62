import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../options.js';

export const modelsCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'models',
  describe: 'List the built-in model packs (the default), validate a pack folder, or make an int8 copy of a pack',
  builder: (y) =>
    y
      .command({
        command: 'list',
        describe: 'List the built-in model packs',
        handler: async () => (await import('../actions/models.js')).listAction(),
      })
      .command({
        command: 'validate <dir>',
        describe: 'Check a pack: files, manifest schema, ONNX input/output names and ranks',
        builder: (yy) => yy.positional('dir', { type: 'string', demandOption: true, describe: 'pack folder' }),
        handler: async (argv) => (await import('../actions/models.js')).validateAction((argv as unknown as { dir: string }).dir),
      })
      .command({
        command: 'quantize <pack>',
        describe: 'Write a copy of a pack whose transformer has int8 matmul weights (activations quantised at run time): smaller, faster on CPUs with int8 instructions, slightly less exact',
        builder: (yy) =>
          yy
            .positional('pack', { type: 'string', demandOption: true, describe: 'the float32 pack: a folder, or a name as --model takes it' })
            .option('out', { type: 'string', describe: 'the new pack folder (default: <pack>-int8 beside the pack; for a built-in pack, packs/<id>-int8 in the configuration folder, then used with --model <id>-int8)' })
            .option('force', { type: 'boolean', default: false, describe: 'replace the out folder if it exists (once the new pack is complete)' })
            .example('$0 models quantize my-pack', 'writes my-pack-int8 beside my-pack')
            .example('$0 models quantize flowedit-tiny', 'writes the built-in pack\'s int8 copy to packs/flowedit-tiny-int8 in the configuration folder: --model flowedit-tiny-int8'),
        handler: async (argv) => (await import('../actions/models.js')).quantizeAction(argv as never),
      }) as never,
  handler: async () => (await import('../actions/models.js')).listAction(),
};
