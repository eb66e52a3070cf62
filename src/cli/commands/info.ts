import type { CommandModule } from 'yargs';
import type { InfoArgs } from '../actions/info.js';
import type { GlobalArgs } from '../options.js';

export const infoCommand: CommandModule<GlobalArgs, InfoArgs> = {
  command: 'info <file>',
  describe: 'Show the settings an output (PNG or clip) or an inversion file records, and the command line that makes it again',
  builder: (y) =>
    y
      .positional('file', { type: 'string', demandOption: true, describe: 'a PNG or clip flowedit wrote, or an inversion file' })
      .option('json', { type: 'boolean', default: false, describe: 'print the settings and the command as one JSON object on stdout' })
      .option('ffmpeg', { type: 'string', describe: 'ffprobe for clips is taken from beside this ffmpeg (default: $FLOWEDIT_FFMPEG, PATH, then the npm-shipped one)', group: 'Video:' })
      .epilog('A file flowedit did not write (no settings recorded in it) is an error (exit status 1).')
      .example('$0 info blue.png', 'the settings of an edit, and the flowedit edit command that makes it again')
      .example('$0 info photo.flowinv --json', 'an inversion file\'s header as JSON') as never,
  handler: async (argv) => (await import('../actions/info.js')).infoAction(argv),
};
