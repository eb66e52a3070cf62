#!/usr/bin/env node
/** The flowedit command line: declarations only; each command loads its implementation lazily. */
import { loadDefaultPack } from './boot.js'; // first: a model command's worker starts while the rest loads
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { batchCommand } from './commands/batch.js';
import { editCommand } from './commands/edit.js';
import { generateCommand } from './commands/generate.js';
import { infoCommand } from './commands/info.js';
import { invertCommand } from './commands/invert.js';
import { layersCommand } from './commands/layers.js';
import { modelsCommand } from './commands/models.js';
import { presetsCommand } from './commands/presets.js';
import { queueCommand } from './commands/queue.js';
import { reconstructCommand } from './commands/reconstruct.js';
import { swapCommand } from './commands/swap.js';
import { workerCommand } from './commands/worker.js';
import { EXIT, UserError } from './errors.js';
import { assertKnownFlags, type DeclaredOptions } from './known-options.js';
import { progressOption } from './options.js';
import { reportFailure } from './progress/result.js';
import { flowEditVersion } from '../version.js';
import { stopBootedWorker } from '../jobs/worker-boot.js';

const argv = hideBin(process.argv);
const verbose = argv.includes('--verbose');

try {
  await yargs(argv)
    .scriptName('flowedit')
    // a repeated flag: the last one counts; numbers are parsed by their options, from the text typed
    .parserConfiguration({ 'duplicate-arguments-array': false, 'parse-numbers': false })
    .usage('$0 <command> [options]\n\nEdit images with rectified-flow diffusion transformers, training-free.')
    .option('verbose', { type: 'boolean', default: false, describe: 'show stack traces on errors' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output' })
    .option('progress', progressOption)
    // unknown flags first: before yargs reports a required flag as missing
    .middleware(((parsed: { _: (string | number)[] }, y: { getOptions(): DeclaredOptions }) => {
      assertKnownFlags(argv, y.getOptions(), ['flowedit', ...parsed._.map(String)].join(' '));
    }) as never, true)
    // once the arguments are accepted, before the command's modules load: the built-in pack's load begins (boot.ts)
    .middleware((parsed) => loadDefaultPack(parsed))
    .command(invertCommand)
    .command(reconstructCommand)
    .command(editCommand)
    .command(swapCommand)
    .command(generateCommand)
    .command(batchCommand)
    .command(infoCommand)
    .command(layersCommand)
    .command(modelsCommand)
    .command(presetsCommand)
    .command(workerCommand)
    .command(queueCommand)
    .demandCommand(1, 'Name a command; see flowedit --help')
    .strict()
    .recommendCommands()
    .fail((msg, err) => {
      // yargs' own errors (a flag's value refused while parsing, a missing value) are usage errors
      if (err?.name === 'YError') throw new UserError(`${err.message}\nRun with --help for usage.`, EXIT.usage);
      throw err ?? new UserError(`${msg}\nRun with --help for usage.`, EXIT.usage);
    })
    .help()
    .alias('help', 'h')
    .version(flowEditVersion()) // flowedit's own package.json, not the one nearest the working directory
    .wrap(Math.min(110, process.stdout.columns || 100))
    .parseAsync();
} catch (err) {
  process.exitCode = reportFailure(err, verbose, argv);
  // a worker started first thing (boot.ts) that no command took: it may be loading the pack
  await stopBootedWorker();
}
