import { withProfileOption } from '../profile.js';
import type { CommandModule } from 'yargs';
import { compareOption } from '../compare-option.js';
import { withRecordPaths, settingOption, withJsonOption, withModelOptions, withOutput, withPresetOptions, type GlobalArgs } from '../options.js';
import type { ReconstructArgs } from '../actions/reconstruct.js';

export const reconstructCommand: CommandModule<GlobalArgs, ReconstructArgs> = {
  command: 'reconstruct <inversion>',
  describe: 'Sample back from an inversion file under its own prompt and solver: the check of inversion fidelity',
  builder: (y) =>
    withPresetOptions(withOutput(withJsonOption(withProfileOption(withModelOptions(withRecordPaths(y)))), 'PNG for a still, MP4 for a clip'))
      .positional('inversion', { type: 'string', demandOption: true, describe: 'file written by flowedit invert' })
      .option('compare', compareOption)
      .option('seed', settingOption('seed', 'reconstruct'))
      .option('ffmpeg', { type: 'string', describe: 'ffmpeg binary for clips (default: $FLOWEDIT_FFMPEG, PATH, then the npm-shipped one)', group: 'Video:' })
      .example('$0 reconstruct photo.flowinv -o photo-rec.png', '') as never,
  handler: async (argv) => (await import('../actions/reconstruct.js')).reconstructAction(argv),
};
