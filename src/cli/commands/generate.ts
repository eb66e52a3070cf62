import type { CommandModule } from 'yargs';
import type { GenerateArgs } from '../actions/generate.js';
import { withModelOptions, withOutput, withPresetOptions, withSolverOptions, withVideoOptions, type GlobalArgs } from '../options.js';

export const generateCommand: CommandModule<GlobalArgs, GenerateArgs> = {
  command: 'generate',
  describe: 'Text to a still (PNG) or a clip (MP4) with the model alone',
  builder: (y) =>
    withPresetOptions(withOutput(withVideoOptions(withSolverOptions(withModelOptions(y))), 'PNG for a still; MP4 with --frames above 1'))
      .option('prompt', { alias: 'p', type: 'string', default: '', describe: 'what to draw (leave out for an unconditional pack)' })
      .option('frames', { type: 'number', default: 1, describe: 'frames to generate (1 = a still; a clip needs a pack that takes frames)' })
      .option('fps', { type: 'number', default: 8, describe: 'frame rate of a generated clip' })
      .option('width', { type: 'number', describe: 'width in pixels (default: the pack\'s default size)' })
      .option('height', { type: 'number', describe: 'height in pixels (default: the pack\'s default size)' })
      .option('guidance', { type: 'number', describe: 'classifier-free guidance (1 = off; default: the pack\'s)', group: 'Sampling:' })
      .epilog('Seeded Gaussian noise is integrated from t = 1 to 0 along the prompt\'s velocity; the same seed gives the same output.')
      .example('$0 generate --prompt "a red circle and a blue star on gray stripes" -o scene.png', 'a still with the built-in model')
      .example('$0 generate --prompt "a green square on pink dots" --frames 17 --seed 3 -o clip.mp4', 'a 17-frame clip') as never,
  handler: async (argv) => (await import('../actions/generate.js')).generateAction(argv),
};
