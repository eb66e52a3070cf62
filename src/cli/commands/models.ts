import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../options.js';

export const modelsCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'models',
  describe: 'List the built-in model packs (the default), or validate a pack folder',
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
      }) as never,
  handler: async () => (await import('../actions/models.js')).listAction(),
};
