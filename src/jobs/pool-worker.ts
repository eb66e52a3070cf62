/**
 * A pool worker: runs the tasks its pool sends (jobs, batch items, layer studies), one at a time,
 * off the caller's thread. It keeps the last pack it loaded (kept-pack.ts), so a run of tasks on one
 * model loads it once, and loads a pack ahead of its task when the pool asks ('load').
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import { keepMediaFacts } from '../media/facts.js';
import { keepToolFacts, warmTools } from '../media/ffmpeg-tools.js';
import { startProfile, stopProfile } from '../media/profile.js';
import { UserError } from './errors.js';
import { createPackKeeper } from './kept-pack.js';
import type { PoolParentMessage, PoolWorkerMessage } from './pool-protocol.js';
import type { PackRef, PoolTask } from './pool-task.js';

const port = parentPort;
if (!port) throw new Error('pool-worker.js must run as a worker thread');

const packs = createPackKeeper();

/** The task a message names. */
async function taskOf(module: string, name: string): Promise<PoolTask<PackRef, unknown, unknown>> {
  const task = ((await import(module)) as Record<string, unknown>)[name] as PoolTask<PackRef, unknown, unknown> | undefined;
  if (!(task && typeof task.run === 'function' && task.module === module)) throw new Error(`${module} has no pool task "${name}": define it with defineTask(import.meta.url, '${name}', …) and export it under that name`);
  return task;
}

function serve(port: MessagePort): void {
  const send = (m: PoolWorkerMessage) => port.postMessage(m);
  let controller = new AbortController();
  // a task is running: a 'load' then would release its pack (the pool sends none)
  let running = false;
  port.on('message', (msg: PoolParentMessage) => {
    switch (msg.type) {
      case 'abort':
        controller.abort();
        break;
      case 'load':
        if (msg.tools) {
          keepToolFacts(msg.tools);
          warmTools();
        }
        if (!running) void packs.preload(msg.ref);
        break;
      case 'stop':
        void packs.release().finally(() => port.close());
        break;
      case 'run': {
        controller = new AbortController();
        const signal = controller.signal;
        const input = msg.input as PackRef;
        if (msg.media) {
          keepMediaFacts(msg.media);
          // the caller found ffmpeg for this task: the tool host starts beside the pack's load
          if (msg.media.tools.found.length > 0) warmTools();
        }
        if (msg.profile) startProfile();
        running = true;
        const run = async () => {
          // the pack is awaited from the start: a load in flight (preload) holds this thread while the task's module loads
          const [task, { pack, loadSeconds }] = await Promise.all([taskOf(msg.module, msg.name), packs.packFor(input)]);
          signal.throwIfAborted();
          return task.run(pack, input, {
            signal,
            loadSeconds,
            onProgress: (progress) => send({ type: 'progress', progress }),
            onWarning: (message) => send({ type: 'warning', message }),
          });
        };
        run().then(
          (result) => {
            running = false;
            const profile = stopProfile();
            send({ type: 'done', result, ...(profile ? { profile } : {}) });
          },
          (err: Error) => {
            running = false;
            stopProfile();
            if (signal.aborted) send({ type: 'cancelled' });
            else send({ type: 'error', message: err.message, ...(err.stack ? { stack: err.stack } : {}), user: err instanceof UserError, ...(err instanceof UserError ? { exitCode: err.exitCode } : {}) });
          },
        );
        break;
      }
    }
  });
}

serve(port);
