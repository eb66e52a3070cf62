import { withProfileOption } from '../profile.js';
import type { CommandModule } from 'yargs';
import { settingOption, withEditOptions, withFfmpegOption, withInputLimit, withJsonOption, withModelOptions, withPresetOptions, withShiftOption, withSolverOptions, type GlobalArgs } from '../options.js';
import type { BatchArgs } from '../actions/batch.js';
import { parseShard } from '../../batch/shard.js';
import { EXIT, UserError } from '../errors.js';

export const batchCommand: CommandModule<GlobalArgs, BatchArgs> = {
  command: 'batch <manifest>',
  describe:
    'Run many edits from a manifest (YAML or JSON Lines); resumable: a re-run skips outputs already made with the same settings',
  builder: (y) =>
    withInputLimit(withFfmpegOption(withPresetOptions(withEditOptions(withShiftOption(withSolverOptions(withJsonOption(withProfileOption(withModelOptions(y))))), 'batch'))))
      .positional('manifest', {
        type: 'string',
        demandOption: true,
        describe:
          'items with input (a still or a clip), sourcePrompt, targets {code: prompt}, optional id, mask (for swap presets: an image, or for a clip a folder of per-frame images or a mask video), negativePrompt (edit and swap items: what the guidance steers away from), preset and settings; paths are relative to the manifest',
      })
      .option('out', { type: 'string', demandOption: true, describe: 'output folder: <id>-<code>.png (stills) or .mp4 (clips) plus a <id>-<code>.json sidecar each, and batch-report.json', group: 'Batch:' })
      .option('allow-inputs-outside', {
        type: 'boolean',
        default: false,
        describe: 'let inputs and masks lie outside the manifest\'s folder (as "allowInputsOutside: true" in a YAML manifest does); without it they must be inside it, links included',
        group: 'Batch:',
      })
      .option('html', { type: 'boolean', default: false, describe: 'also write report.html: each item\'s source and outputs as thumbnails (report-files/), its settings, status and any failure; links are relative, so the folder can be moved', group: 'Batch:' })
      .option('queue', {
        type: 'string',
        requiresArg: true,
        describe: 'redis://[user:password@]host:port[/db]: check the whole batch, then put one job per item on the Redis queue for `flowedit worker` on any machine and exit; items already done are left out, and queueing the same manifest again adds no duplicates',
        group: 'Queue:',
      })
      .option('wait', { type: 'boolean', default: false, describe: 'with --queue: show the batch\'s progress until every queued item is done or failed, then write batch-report.json (exit 1 if any failed)', group: 'Queue:' })
      .option('concurrency', settingOption('concurrency', 'batch', { alias: 'j', default: 1, group: 'Batch:' }))
      .option('shard', {
        type: 'string',
        requiresArg: true,
        describe: 'run only shard i of N (i/N: the items at positions p with p ≡ i mod N), to split one manifest across N machines writing one folder without a queue; each shard checks the whole manifest and keeps its own lock and batch-report-shard-i-of-N.json',
        group: 'Batch:',
        coerce: (raw: string) => {
          try {
            return parseShard(raw);
          } catch (err) {
            throw new UserError((err as Error).message, EXIT.usage);
          }
        },
      })
      .option('seed', settingOption('seed', 'batch', { group: 'Sampling:' }))
      .epilogue(
        'What each item edits is given per item, not as flags: batch has no --source-prompt, --target-prompt, --negative-prompt, ' +
          '--mask, --task or -o; write sourcePrompt, targets, negativePrompt, mask and id in the manifest item. ' +
          'Settings (steps, solver, guidance, guideAgainst, shareLayers, shareSteps, shareText, shift, fit, seed, maskGrow, maskFeather, maskBias, autoMask) ' +
          'go in the item or in a preset (the item\'s "preset", or --preset for items that name none); ' +
          'the setting flags above, when given, apply to every item. --mask-grow, --mask-feather, --mask-bias and --invert-mask are not flags here: ' +
          'give maskGrow, maskFeather and maskBias per item or in a preset, and an inverted mask as its own image; clips use the pack\'s window overlap (no --overlap).\n\n' +
          'Settings precedence: flowedit defaults < pack defaults < preset < manifest item < command-line flag. ' +
          '--preset is the default preset for items that name none; --threads is shared among the workers.\n\n' +
          'Every item is checked before the first runs. Outputs are written atomically, each followed by its sidecar, ' +
          'so a batch that was interrupted (Ctrl-C, SIGTERM, or killed) finishes when run again. ' +
          'Inputs and masks must lie in the manifest\'s folder (by real path) unless allowed; no output, sidecar or report may lead outside --out, ' +
          'not even through a symbolic link. One batch at a time writes to a folder (a lock that knows a live batch from a dead one). ' +
          'Exit status 1 when any item failed, 130 when interrupted by Ctrl-C, 143 by SIGTERM.',
      )
      .example('$0 batch samples/batch.yaml --out edits -j 2', 'two workers')
      .example('$0 batch samples/batch.yaml --out /shared/edits --shard 2/3', 'the second of three machines')
      .example('$0 batch samples/batch.yaml --out /shared/edits --queue redis://queuehost:6379 --wait', 'queue the items for workers on other machines and follow them') as never,
  handler: async (argv) => (await import('../actions/batch.js')).batchAction(argv),
};
