/**
 * A pool worker: runs the tasks its pool sends (jobs, batch items, layer studies), one at a time,
 * off the caller's thread. It keeps the last pack it loaded (by folder, device and threads), so a
 * run of tasks on one model loads it once; a task on another pack releases it first.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import type { LoadedPack } from '../model/pack.js';
import { keepMediaFacts } from '../media/facts.js';
import { startProfile, stopProfile, timedLoad } from '../media/profile.js';
import { UserError } from './errors.js';
import type { PoolParentMessage, PoolWorkerMessage } from './pool-protocol.js';
import { loadPackOf, type PackRef, type PoolTask } from './pool-task.js';

const port = parentPort;
if (!port) throw new Error('pool-worker.js must run as a worker thread');

/** The pack kept between tasks, and what it was loaded as. */
let kept: { key: string; pack: LoadedPack } | null = null;

const keyOf = (ref: PackRef): string => JSON.stringify([ref.packDir, ref.device ?? 'cpu', ref.threads ?? 0]);

/** The task's pack, and the seconds spent loading it (0: kept from an earlier task). */
async function packFor(ref: PackRef): Promise<{ pack: LoadedPack; loadSeconds: number }> {
  const key = keyOf(ref);
  if (kept?.key === key) return { pack: kept.pack, loadSeconds: 0 };
  const old = kept;
  kept = null;
  await old?.pack.release();
  const started = performance.now();
  const pack = await timedLoad(() => loadPackOf(ref));
  kept = { key, pack };
  return { pack, loadSeconds: (performance.now() - started) / 1000 };
}

/** The task a message names. */
async function taskOf(module: string, name: string): Promise<PoolTask<PackRef, unknown, unknown>> {
  const task = ((await import(module)) as Record<string, unknown>)[name] as PoolTask<PackRef, unknown, unknown> | undefined;
  if (!(task && typeof task.run === 'function' && task.module === module)) throw new Error(`${module} has no pool task "${name}": define it with defineTask(import.meta.url, '${name}', …) and export it under that name`);
  return task;
}

function serve(port: MessagePort): void {
  const send = (m: PoolWorkerMessage) => port.postMessage(m);
  let controller = new AbortController();
  port.on('message', (msg: PoolParentMessage) => {
    switch (msg.type) {
      case 'abort':
        controller.abort();
        break;
      case 'stop':
        void (kept ? kept.pack.release() : Promise.resolve()).finally(() => port.close());
        break;
      case 'run': {
        controller = new AbortController();
        const signal = controller.signal;
        const input = msg.input as PackRef;
        if (msg.media) keepMediaFacts(msg.media);
        if (msg.profile) startProfile();
        const run = async () => {
          const task = await taskOf(msg.module, msg.name);
          const { pack, loadSeconds } = await packFor(input);
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
            const profile = stopProfile();
            send({ type: 'done', result, ...(profile ? { profile } : {}) });
          },
          (err: Error) => {
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
