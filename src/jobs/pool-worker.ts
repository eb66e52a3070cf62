/**
 * A pool worker: runs the jobs its pool sends, one at a time, off the caller's thread. It keeps
 * the last pack it loaded (by folder, device and threads), so a run of jobs on one model loads it
 * once; a job on another pack releases it first.
 */
import { parentPort, type MessagePort } from 'node:worker_threads';
import type { Progress } from '../edit/progress.js';
import type { LoadedPack } from '../model/pack.js';
import { UserError } from './errors.js';
import type { JobSpec } from './job.js';
import type { PoolParentMessage, PoolWorkerMessage } from './pool-protocol.js';
import { loadJobPack, runJob } from './run-job.js';

const port = parentPort;
if (!port) throw new Error('pool-worker.js must run as a worker thread');

/** The pack kept between jobs, and what it was loaded as. */
let kept: { key: string; pack: LoadedPack } | null = null;

const keyOf = (job: JobSpec): string => JSON.stringify([job.packDir, job.device ?? 'cpu', job.threads ?? 0]);

async function packFor(job: JobSpec): Promise<LoadedPack> {
  const key = keyOf(job);
  if (kept?.key === key) return kept.pack;
  const old = kept;
  kept = null;
  await old?.pack.release();
  const pack = await loadJobPack(job);
  kept = { key, pack };
  return pack;
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
        const run = {
          signal,
          onProgress: (progress: Progress) => send({ type: 'progress', progress }),
          onWarning: (message: string) => send({ type: 'warning', message }),
        };
        packFor(msg.spec)
          .then((pack) => runJob(msg.spec, run, pack))
          .then(
            (summary) => send({ type: 'done', summary }),
            (err: Error) => {
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
