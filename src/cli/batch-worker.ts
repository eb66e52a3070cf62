/**
 * A batch inference worker: loads the pack once, with its share of the CPU threads, then runs
 * the items the main thread sends, one at a time, until it is told to stop.
 */
import { parentPort, workerData, type MessagePort } from 'node:worker_threads';
import { executeItem } from '../batch/execute.js';
import { loadPack, type LoadedPack } from '../model/pack.js';
import type { Progress } from '../edit/progress.js';
import type { BatchParentMessage, BatchWorkerData, BatchWorkerMessage } from './batch-job.js';

const port = parentPort;
if (!port) throw new Error('batch-worker.js must run as a worker thread');
const send = (m: BatchWorkerMessage) => port.postMessage(m);
const { packDir, threads, device } = workerData as BatchWorkerData;

const pack = await loadPack(packDir, { threads, ...(device ? { device } : {}) }).catch((err: Error) => {
  send({ type: 'failed', message: `cannot load the model pack: ${err.message}` });
  port.close(); // nothing to run: let the thread end
  return null;
});

/** Runs the items the main thread sends, one at a time, until told to stop. */
function serve(pack: LoadedPack, port: MessagePort): void {
  let controller = new AbortController();
  port.on('message', (msg: BatchParentMessage) => {
    switch (msg.type) {
      case 'abort':
        controller.abort();
        break;
      case 'stop':
        void pack.release().finally(() => port.close());
        break;
      case 'run': {
        controller = new AbortController();
        const signal = controller.signal;
        const hooks = { signal, onProgress: (progress: Progress) => send({ type: 'progress', progress }), onWarning: (message: string) => send({ type: 'warning', message }) };
        executeItem(pack, msg.item, msg.pending, hooks).then(
          (outputs) => send({ type: 'done', outputs }),
          (err: Error) => send({ type: 'failed', message: signal.aborted ? 'cancelled' : err.message }),
        );
        break;
      }
    }
  });
  send({ type: 'ready' });
}

if (pack) serve(pack, port);
