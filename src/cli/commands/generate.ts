import type { CommandModule } from 'yargs';
import type { GenerateArgs } from '../actions/generate.js';
import { withVariantsOption, numberOption, withJsonOption, withModelOptions, withNegativePrompt, withOutput, withPresetOptions, withShiftOption, withSolverOptions, withVideoOptions, type GlobalArgs } from '../options.js';

export const generateCommand: CommandModule<GlobalArgs, GenerateArgs> = {
  command: 'generate',
  describe: 'Text to a still (PNG) or a clip (MP4) with the model alone',
  builder: (y) =>
    withPresetOptions(withOutput(withVideoOptions(withNegativePrompt(withShiftOption(withSolverOptions(withJsonOption(withModelOptions(withVariantsOption(y, 'generate'))))), 'the unconditional branch of classifier-free guidance')), 'PNG for a still; MP4 with --frames above 1'))
      .option('prompt', { alias: 'p', type: 'string', default: '', describe: 'what to draw (leave out for an unconditional pack)' })
      .option('frames', numberOption('frames', 'frames to generate (1 = a still; a clip needs a pack that takes frames, and the pack limits the count)', { default: 1 }))
      .option('fps', numberOption('fps', 'frame rate of a generated clip', { default: 8 }))
      .option('width', numberOption('width', 'width in pixels (default: the pack\'s default size)'))
      .option('height', numberOption('height', 'height in pixels (default: the pack\'s default size)'))
      .option('guidance', numberOption('guidance', 'classifier-free guidance (1 = off; default: the pack\'s, else 3)', { group: 'Sampling:' }))
      .epilog('Seeded Gaussian noise is integrated from t = 1 to 0 along the prompt\'s velocity; the same seed gives the same output.')
      .example('$0 generate --prompt "a red circle and a blue star on gray stripes" -o scene.png', 'a still with the built-in model')
      .example('$0 generate --prompt "a green square on pink dots" --frames 17 --seed 3 -o clip.mp4', 'a 17-frame clip') as never,
  handler: async (argv) => (await import('../actions/generate.js')).generateAction(argv),
};
