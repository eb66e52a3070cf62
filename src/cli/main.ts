#!/usr/bin/env node
/** The flowedit command line: declarations only; each command loads its implementation lazily. */
import yargs from 'yargs';
import { hideBin } from 'yargs/helpers';
import { batchCommand } from './commands/batch.js';
import { editCommand } from './commands/edit.js';
import { generateCommand } from './commands/generate.js';
import { invertCommand } from './commands/invert.js';
import { layersCommand } from './commands/layers.js';
import { modelsCommand } from './commands/models.js';
import { presetsCommand } from './commands/presets.js';
import { reconstructCommand } from './commands/reconstruct.js';
import { swapCommand } from './commands/swap.js';
import { EXIT, reportError, UserError } from './errors.js';

const argv = hideBin(process.argv);
const verbose = argv.includes('--verbose');

try {
  await yargs(argv)
    .scriptName('flowedit')
    .parserConfiguration({ 'duplicate-arguments-array': false }) // a repeated flag: the last one counts
    .usage('$0 <command> [options]\n\nEdit images with rectified-flow diffusion transformers, training-free.')
    .option('verbose', { type: 'boolean', default: false, describe: 'show stack traces on errors' })
    .option('quiet', { alias: 'q', type: 'boolean', default: false, describe: 'no progress output' })
    .command(invertCommand)
    .command(reconstructCommand)
    .command(editCommand)
    .command(swapCommand)
    .command(generateCommand)
    .command(batchCommand)
    .command(layersCommand)
    .command(modelsCommand)
    .command(presetsCommand)
    .demandCommand(1, 'Name a command; see flowedit --help')
    .strict()
    .recommendCommands()
    .fail((msg, err) => {
      throw err ?? new UserError(`${msg}\nRun with --help for usage.`, EXIT.usage);
    })
    .help()
    .alias('help', 'h')
    .version()
    .wrap(Math.min(110, process.stdout.columns || 100))
    .parseAsync();
} catch (err) {
  process.exitCode = reportError(err, verbose);
}
