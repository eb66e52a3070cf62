import type { CommandModule } from 'yargs';
import { settingOption, type GlobalArgs } from '../options.js';
import { DEVICE_ENV, DEVICES } from '../../model/devices.js';
import type { WorkerArgs } from '../actions/worker.js';

export const workerCommand: CommandModule<GlobalArgs, WorkerArgs> = {
  command: 'worker',
  describe: 'Make batch items from a Redis queue (filled by flowedit batch --queue) until stopped',
  builder: (y) =>
    y
      .option('queue', { type: 'string', demandOption: true, requiresArg: true, describe: 'redis://[user:password@]host:port[/db]: the queue to take items from', group: 'Queue:' })
      .option('concurrency', { alias: 'j', default: 1, requiresArg: true, coerce: (v: unknown) => Number(v), describe: 'items made at once, each with its own model session (the CPU threads are shared among them)', group: 'Queue:' })
      .option('root', { type: 'string', array: true, requiresArg: true, describe: 'the folders this worker serves (--root DIR [DIR …]): a job whose manifest, output folder or model pack lies outside every --root (by real path) fails unrun; without --root, anywhere the worker can reach (so keep the queue for trusted clients: a password, a private network)', group: 'Queue:' })
      .option('threads', settingOption('threads', undefined, { group: 'Model:' }))
      .option('device', {
        type: 'string',
        requiresArg: true,
        describe: `where the model runs: ${DEVICES.join(', ')} (default: $${DEVICE_ENV}, else cpu)`,
        group: 'Model:',
      })
      .epilogue(
        'Each job names a manifest, an output folder and an item: the worker plans the batch again from the manifest (which every worker must see at the same path, ' +
          'as the output folder), skips outputs already finished, and writes the others atomically, each followed by its sidecar. ' +
          'It runs nothing else a job could name. SIGTERM or Ctrl-C: no new jobs, the running ones finished, exit 0 (a second signal stops at once; ' +
          'the running jobs return to the queue). A worker killed outright loses its jobs\' locks: after about $FLOWEDIT_QUEUE_STALLED_MS (10000 ms) another worker takes them.',
      )
      .example('$0 worker --queue redis://queuehost:6379 -j 2', 'two items at a time') as never,
  handler: async (argv) => (await import('../actions/worker.js')).workerAction(argv),
};
