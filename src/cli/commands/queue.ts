import type { CommandModule } from 'yargs';
import type { GlobalArgs } from '../options.js';
import type { QueueArgs } from '../actions/queue.js';

const url = { type: 'string', demandOption: true, describe: 'redis://[user:password@]host:port[/db]' } as const;

export const queueCommand: CommandModule<GlobalArgs, GlobalArgs> = {
  command: 'queue',
  describe: 'Look after the Redis batch queue: status, retry-failed, drain',
  builder: (y) =>
    y
      .command({
        command: 'status <url>',
        describe: 'Jobs by state (waiting, active, completed, failed, delayed) and the failed ones with their reasons',
        builder: (yy) => yy.positional('url', url).option('json', { type: 'boolean', default: false, describe: 'one JSON object on stdout' }),
        handler: async (argv) => (await import('../actions/queue.js')).statusAction(argv as unknown as QueueArgs),
      })
      .command({
        command: 'retry-failed <url>',
        describe: 'Put every failed job back in the queue',
        builder: (yy) => yy.positional('url', url),
        handler: async (argv) => (await import('../actions/queue.js')).retryFailedAction(argv as unknown as QueueArgs),
      })
      .command({
        command: 'drain <url>',
        describe: 'Remove the jobs still waiting (running, finished and failed ones stay)',
        builder: (yy) => yy.positional('url', url),
        handler: async (argv) => (await import('../actions/queue.js')).drainAction(argv as unknown as QueueArgs),
      })
      .demandCommand(1, 'Name a queue command: status, retry-failed or drain') as never,
  handler: () => undefined,
};
