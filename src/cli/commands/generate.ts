import { withProfileOption } from '../profile.js';
import type { CommandModule } from 'yargs';
import type { GenerateArgs } from '../actions/generate.js';
import { withVariantsOption, settingOption, withJsonOption, withModelOptions, withNegativePrompt, withOutput, withPresetOptions, withShiftOption, withSolverOptions, withVideoOptions, type GlobalArgs } from '../options.js';

export const generateCommand: CommandModule<GlobalArgs, GenerateArgs> = {
  command: 'generate',
  describe: 'Text to a still (PNG) or a clip (MP4) with the model alone',
  builder: (y) =>
    withPresetOptions(withOutput(withVideoOptions(withNegativePrompt(withShiftOption(withSolverOptions(withJsonOption(withProfileOption(withModelOptions(withVariantsOption(y, 'generate')))))), 'the unconditional branch of classifier-free guidance')), 'PNG for a still; MP4 with --frames above 1'))
      .option('prompt', { alias: 'p', type: 'string', default: '', describe: 'what to draw (leave out for an unconditional pack)' })
      .option('frames', settingOption('frames', 'generate', { default: 1 }))
      .option('fps', settingOption('fps', 'generate', { default: 8 }))
      .option('width', settingOption('width', 'generate'))
      .option('height', settingOption('height', 'generate'))
      .option('guidance', settingOption('guidance', 'generate', { group: 'Sampling:' }))
      .epilog('Seeded Gaussian noise is integrated from t = 1 to 0 along the prompt\'s velocity; the same seed gives the same output.')
      .example('$0 generate --prompt "a red circle and a blue star on gray stripes" -o scene.png', 'a still with the built-in model')
      .example('$0 generate --prompt "a green square on pink dots" --frames 17 --seed 3 -o clip.mp4', 'a 17-frame clip') as never,
  handler: async (argv) => (await import('../actions/generate.js')).generateAction(argv),
};
