import { withProfileOption } from '../profile.js';
import type { CommandModule } from 'yargs';
import { compareOption } from '../compare-option.js';
import { withVariantsOption, withRecordPaths, withEditOptions, withInputLimit, withJsonOption, withModelOptions, withNegativePrompt, withOutput, withPresetOptions, withShiftOption, withSolverOptions, withVideoOptions, type GlobalArgs } from '../options.js';
import type { EditCommandArgs } from '../actions/edit.js';

export const editCommand: CommandModule<GlobalArgs, EditCommandArgs> = {
  command: 'edit <input>',
  describe:
    'Text-guided edit: the edit path shares attention context with a reconstruction path from the same inverted noise; with --auto-mask (the built-in pack\'s default) it edits only where the source and target prompts disagree and keeps every other pixel',
  builder: (y) =>
    withPresetOptions(
      withOutput(
        withVideoOptions(withNegativePrompt(withEditOptions(withShiftOption(withSolverOptions(withInputLimit(withJsonOption(withProfileOption(withModelOptions(withRecordPaths(withVariantsOption(y, 'edit')))))))), 'edit'), 'instead of the one --guide-against names')),
        'PNG for a still, MP4 (H.264, source audio kept) for a clip',
      ),
    )
      .positional('input', {
        type: 'string',
        demandOption: true,
        describe: 'an image, a clip, or an inversion file (then its steps, solver and source prompt are used)',
      })
      .option('source-prompt', { type: 'string', describe: 'caption of the input; needed when the guidance steers away from it (--guide-against source, the built-in pack\'s default with --auto-mask) (default: empty)' })
      .option('target-prompt', { type: 'string', demandOption: true, describe: 'caption of the wanted result' })
      .option('compare', compareOption)
      .option('save-inversion', { type: 'string', describe: 'also save the inversion made from an image input' })
      .option('save-mask', {
        type: 'string',
        describe: 'also save the automatic mask as applied (grown and feathered, white = edited): a PNG for a still, a video for a clip; `flowedit swap --mask` takes it back',
      })
      .example('$0 edit photo.png --source-prompt "a red circle" --target-prompt "a blue circle" -o blue.png', '')
      .example('$0 edit photo.png --preset recolor --steps 16 --source-prompt "a red circle" --target-prompt "a blue circle" -o blue.png', 'the recolor preset, with 16 steps')
      .example('$0 edit photo.png --source-prompt "a red circle" --target-prompt "a blue circle" --auto-mask 0 -o blue.png', 'edit everywhere, no automatic mask') as never,
  handler: async (argv) => (await import('../actions/edit.js')).editAction(argv),
};
