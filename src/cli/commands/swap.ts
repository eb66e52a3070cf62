import { withProfileOption } from '../profile.js';
import type { CommandModule } from 'yargs';
import { compareOption } from '../compare-option.js';
import { settingOption, withVariantsOption, withRecordPaths, withEditOptions, withInputLimit, withMaskOptions, withJsonOption, withModelOptions, withOutput, withPresetOptions, withShiftOption, withSolverOptions, withVideoOptions, type GlobalArgs } from '../options.js';
import type { SwapArgs } from '../actions/swap.js';

export const swapCommand: CommandModule<GlobalArgs, SwapArgs> = {
  command: 'swap <input>',
  describe: 'Replace what a mask covers (white = edit) with the target prompt, in a still or a clip',
  builder: (y) =>
    withPresetOptions(withOutput(withVideoOptions(withMaskOptions(withEditOptions(withShiftOption(withSolverOptions(withInputLimit(withJsonOption(withProfileOption(withModelOptions(withRecordPaths(withVariantsOption(y, 'swap')))))))), 'swap'))), 'PNG for a still, MP4 (H.264, source audio kept) for a clip'))
      .positional('input', { type: 'string', demandOption: true, describe: 'an image (PNG, JPEG, WebP) or a clip (MP4, MOV, MKV, WebM, …), or its inversion file from flowedit invert (the source must still be where it was)' })
      .option('source-prompt', { type: 'string', describe: 'caption of the input; needed when the guidance steers away from it (--guide-against source, the built-in pack\'s default for swaps) and no --negative-prompt is given (default: empty)' })
      .option('target-prompt', { type: 'string', demandOption: true, describe: 'caption of the wanted result, including what replaces the masked part' })
      .option('negative-prompt', {
        type: 'string',
        describe: 'a prompt for the guidance to steer away from, instead of the one --guide-against names (default: the pack\'s text.negativePrompt, else the empty prompt); the scene without the object the mask covers makes the new object dropped less often',
        group: 'Editing:',
      })
      .option('compare', compareOption)
      .option('task', settingOption('task', 'swap', { default: 'swap', group: 'Editing:' }))
      .epilog(
        'The source is inverted (source prompt, guidance off). Outside the mask the result then follows that inversion at every step ' +
          'and ends as the source\'s own pixels; inside, the target is generated while sharing attention context with the source. ' +
          'A clip longer than the model takes in one pass is edited in overlapping windows, cross-faded. ' +
          'Given an inversion file, the swap reuses it (its steps, solver and source prompt) and spends no model calls on inverting.',
      )
      .example('$0 swap photo.png --mask circle.png --source-prompt "a red circle on stripes" --target-prompt "a blue square on stripes" -o square.png', 'swap in a still')
      .example('$0 swap photo.png --mask circle.png --preset swap-object --source-prompt "a red circle on stripes" --target-prompt "a blue square on stripes" -o square.png', 'swap with the swap-object preset')
      .example('$0 swap photo.png --mask empty-spot.png --task insert --source-prompt "a red circle on stripes" --target-prompt "a red circle and a green star on stripes" -o added.png', 'add an object where the mask is, with the pack\'s insert defaults')
      .example('$0 swap photo.png --mask circle.png --source-prompt "a red circle and a cyan star on stripes" --target-prompt "a blue square and a cyan star on stripes" --negative-prompt "a cyan star on stripes" -o square.png', 'steer away from the scene without the masked object')
      .example('$0 swap photo.flowinv --mask circle.png --target-prompt "a green star on stripes" -o star.png', 'swap from a saved inversion')
      .example('$0 swap clip.mp4 --mask clip-mask.mp4 --mask-grow 4 --source-prompt "a red circle on dots" --target-prompt "a green star on dots" -o star.mp4', 'swap in a clip with a per-frame mask video') as never,
  handler: async (argv) => (await import('../actions/swap.js')).swapAction(argv),
};
