import { withProfileOption } from '../profile.js';
import type { CommandModule } from 'yargs';
import { settingOption, withFfmpegOption, withInputLimit, withModelOptions, withSolverOptions, type GlobalArgs } from '../options.js';
import type { LayersArgs } from '../actions/layers.js';
import { ANALYSIS_TASKS } from '../../settings/tasks.js';

export const layersCommand: CommandModule<GlobalArgs, LayersArgs> = {
  command: 'layers',
  describe: 'Find the layers where shared context matters for a task, on calibration edits, and optionally make them the pack\'s default',
  builder: (y) =>
    withInputLimit(withFfmpegOption(withSolverOptions(withProfileOption(withModelOptions(y)))))
      .hide('seed') // the analysis draws no noise
      .option('task', {
        type: 'string',
        demandOption: true,
        choices: ANALYSIS_TASKS,
        describe: 'the edit to analyse: a masked task (flowedit swap --task) or text-edit (flowedit edit)',
        group: 'Analysis:',
      })
      .option('calibration', {
        type: 'string',
        array: true,
        describe:
          'calibration sets: a folder of your own stills and clips with a calibration.json or calibration.yaml listing them, or a calibration file (docs/calibration.md); the first chooses and scores the layer set, each further one is ranked too and compared with it (rank correlation). Default: the built-in scenes, seeds 0 and 1',
        group: 'Analysis:',
      })
      .option('cases', settingOption('cases', 'layers', { group: 'Analysis:' }))
      .option('top-k', settingOption('topK', 'layers', { group: 'Analysis:' }))
      .option('share-steps', settingOption('shareSteps', 'layers', { group: 'Analysis:' }))
      .option('sweep', {
        type: 'boolean',
        default: false,
        describe: 'also try k = 1, 2, 4, … and τ = 0.2, 0.5, 1.0 and print what each keeps of the source and achieves of the edit; with --write, the best (k, τ) against the calibration\'s right answers is written (a set without answers is refused)',
        group: 'Analysis:',
      })
      .option('write', { type: 'boolean', default: false, describe: 'write the chosen layer set and τ into the pack\'s manifest.json as the task\'s default (atomically; every other field kept); for the built-in pack, into your copy of it in the configuration folder (packs/<id>, then used with --model <id>)', group: 'Analysis:' })
      .option('write-builtin', { type: 'boolean', default: false, describe: 'with --write: write into the built-in pack shipped with flowedit itself, whose defaults every later run reads, instead of your copy of it', group: 'Analysis:' })
      .option('json', { type: 'string', describe: 'also write every score to this JSON file', group: 'Analysis:' })
      .option('plot', { type: 'string', describe: 'also write a picture of the scores to this SVG file: a bar per layer (the chosen set highlighted) and, with --sweep, what each k keeps and achieves, a line per τ', group: 'Analysis:' })
      .epilog(
        'Each shareable layer is scored by its guidance responsiveness: how far sharing the reconstruction path\'s keys/values at that ' +
          'layer alone moves the edit path\'s velocity, relative to how far the edit is from reconstructing the source, averaged over ' +
          'probe steps in the sharing range and over the calibration edits. The k most responsive layers are then run as the task runs ' +
          'and scored against the calibration\'s right answers where it has them (else only by what they keep of the source), next to all layers and no sharing. ' +
          'A clip is analysed in its first window (one pass of the pack).',
      )
      .example('$0 layers --task swap', 'rank the built-in pack\'s layers for swaps on the built-in calibration scenes')
      .example('$0 layers --task insert --sweep', 'also sweep k and τ for insertions, judged against the scenes\' right answers')
      .example('$0 layers --model my-pack --task swap --calibration my-edits/ --write', 'rank your own pack\'s layers on your own stills and clips (my-edits/calibration.yaml lists them) and write the top set into my-pack') as never,
  handler: async (argv) => (await import('../actions/layers.js')).layersAction(argv),
};
