import { withProfileOption } from '../profile.js';
import type { CommandModule } from 'yargs';
import { withInputLimit, withJsonOption, withModelOptions, withOutput, withPresetOptions, withShiftOption, withSolverOptions, withVideoOptions, type GlobalArgs } from '../options.js';
import type { InvertArgs } from '../actions/invert.js';

export const invertCommand: CommandModule<GlobalArgs, InvertArgs> = {
  command: 'invert <image>',
  describe: 'Run the solver backwards from an image or a clip to noise; writes a reusable inversion file',
  builder: (y) =>
    withPresetOptions(withOutput(withVideoOptions(withShiftOption(withSolverOptions(withInputLimit(withJsonOption(withProfileOption(withModelOptions(y))))))), 'inversion file to write (e.g. photo.flowinv)'))
      .positional('image', { type: 'string', demandOption: true, describe: 'PNG, JPEG or WebP image, or a clip (MP4, MOV, MKV, WebM, …; long clips are inverted in overlapping windows)' })
      .option('source-prompt', { type: 'string', default: '', describe: 'caption of the input; reconstruct and edit reuse it' })
      .example('$0 invert photo.png --source-prompt "a red circle on stripes" -o photo.flowinv', '') as never,
  handler: async (argv) => (await import('../actions/invert.js')).invertAction(argv),
};
